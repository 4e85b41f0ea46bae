"""The review page's forms: a vote with its comment, a rejection with its reason, an edit."""

from __future__ import annotations

from django import forms

from newsletter.services.decisions import DECISIONS
from newsletter.services.submissions import REJECT_NOTE_MAX
from newsletter.services.votes import VOTE_COMMENT_MAX

from ..models import TOPICS_PER_SUBMISSION, Submission, Topic, Vote

State = Submission.State


class VoteForm(forms.Form):
    value = forms.TypedChoiceField(choices=Vote.Value.choices, coerce=int)
    comment = forms.CharField(
        required=False, strip=True, max_length=VOTE_COMMENT_MAX, widget=forms.Textarea
    )
    # The review page shows the current comment in the field, so what it sends replaces it;
    # the queue's one-click buttons keep an earlier comment when the field is left empty.
    replace_comment = forms.BooleanField(required=False)

    def comment_to_store(self) -> str | None:
        comment = self.cleaned_data["comment"]
        if comment or self.cleaned_data["replace_comment"]:
            return comment
        return None


class RejectForm(forms.Form):
    reason = forms.ChoiceField(
        label="Reason",
        choices=[("", "Choose a reason…"), *Submission.RejectReason.choices],
        help_text="The submitter sees it on “My submissions” and in the email.",
    )
    note = forms.CharField(
        label="Note to the submitter (optional)",
        required=False,
        max_length=REJECT_NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


class DecisionForm(RejectForm):
    decision = forms.ChoiceField(choices=[(key, key) for key in DECISIONS])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = False

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "reject" and not cleaned.get("reason"):
            self.add_error(
                "reason", "Choose a reason for the rejection; the submitter will see it."
            )
        return cleaned


class SubmissionReviewForm(forms.ModelForm):
    """What an editor may change before deciding; the submitter's original text is kept."""

    summary = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text="Markdown. The submitter's original stays on record.",
    )

    topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=f"Up to {TOPICS_PER_SUBMISSION}. Readers see them as chips on the item.",
    )

    class Meta:
        model = Submission
        fields = ["title", "kind", "summary", "topics"]

    def clean_topics(self):
        topics = self.cleaned_data["topics"]
        if len(topics) > TOPICS_PER_SUBMISSION:
            raise forms.ValidationError(
                f"Pick at most {TOPICS_PER_SUBMISSION} topics; {len(topics)} are ticked."
            )
        return topics

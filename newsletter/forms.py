"""Forms of the members' submission pages (the link, its summary and extra links), and the
email edition's subscribe form."""

import unicodedata

from django import forms
from django.core.exceptions import ValidationError
from markdownx.fields import MarkdownxFormField

from newsletter.links.canonical import canonical_key
from newsletter.links.kinds import kind_from_url
from newsletter.models import TOPICS_PER_SUBMISSION, Kind, Topic
from newsletter.services.subscribers import MAX_LENGTH as MAX_ADDRESS
from newsletter.services.subscribers import address_clean
from portal.forms import MarkdownEditor
from portal.text import one_line

# Long enough for a real abstract; the Discord splitter cuts a long item between messages.
SUMMARY_MAX_LENGTH = 4000
EXTRA_LINKS = 3
# Kind's first choice: the server (and, as the member types, the page's script) reads the kind
# from the link (newsletter/links/kinds.py). The member may still pick another.
KIND_AUTO = "auto"


def validate_http_url(value: str) -> str:
    """Only http(s) links; the message says what is wrong in the member's terms."""
    value = (value or "").strip()
    if not value:
        raise ValidationError("Paste the link you want to share.", code="required")
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in value):
        raise ValidationError(
            "A link cannot contain spaces, line breaks or tabs; paste it again as one line.",
            code="invalid",
        )
    try:
        canonical_key(value)
    except ValueError as exc:
        raise ValidationError(
            "This is not a web link we can accept: it must start with http:// or https://.",
            code="invalid",
        ) from exc
    return value


class SummaryField(MarkdownxFormField):
    """Markdown, its length counted as the member sees it and the page's counter counts it:
    browsers send each line break as CRLF, stored and counted as one newline."""

    def to_python(self, value):
        return super().to_python(value).replace("\r\n", "\n")

    def widget_attrs(self, widget):
        # No maxlength: a browser would cut a pasted summary silently. The counter shows
        # "4001 / 4000" and the server says what to shorten.
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs


class SubmissionForm(forms.Form):
    url = forms.CharField(
        label="Link",
        max_length=2000,
        error_messages={"required": "Paste the link you want to share."},
        widget=forms.URLInput(
            attrs={"placeholder": "https://arxiv.org/abs/…", "autocomplete": "url"}
        ),
        help_text="The paper, post, tool, repository, talk or event you want to share.",
    )
    kind = forms.ChoiceField(
        choices=[(KIND_AUTO, "Work it out from the link"), *Kind.choices],
        initial=KIND_AUTO,
        help_text="Decides the newsletter section.",
        error_messages={
            "invalid_choice": "Select a valid choice: %(value)s is not a kind of link we know."
        },
    )
    title = forms.CharField(
        max_length=300,
        required=False,
        help_text="Leave empty and we will fetch it from the page.",
    )
    summary = SummaryField(
        required=False,
        max_length=SUMMARY_MAX_LENGTH,
        widget=MarkdownEditor,
        help_text=f"A few sentences in Markdown, at most {SUMMARY_MAX_LENGTH} characters. "
        "Why should the community read it? Leave empty to use the abstract.",
    )
    topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "topic-choice"}),
        help_text=f"Up to {TOPICS_PER_SUBMISSION}; the editors may change them.",
        error_messages={
            "invalid_choice": "%(value)s is not one of our topics; pick from the list.",
            "invalid_pk_value": "“%(pk)s” is not one of our topics; pick from the list.",
        },
    )
    note_to_editors = forms.CharField(
        label="Note to the editors",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Only the editors see this.",
    )
    # Set when a "fetch details" attempt found nothing, so an empty title is no longer allowed.
    autofill_failed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean_title(self):
        # Shown back as stored: one line, no invisible format characters (U+202E and friends).
        return one_line(self.cleaned_data["title"])

    def clean_url(self):
        return validate_http_url(self.cleaned_data["url"])

    def clean_topics(self):
        topics = self.cleaned_data["topics"]
        if len(topics) > TOPICS_PER_SUBMISSION:
            raise ValidationError(
                f"Pick at most {TOPICS_PER_SUBMISSION} topics; you picked {len(topics)}.",
                code="topics",
            )
        return topics

    def clean(self):
        data = super().clean()
        if data.get("kind") == KIND_AUTO:
            # No link (its own error says so): a placeholder the form never stores.
            data["kind"] = kind_from_url(data["url"]) if data.get("url") else Kind.OTHER
        if not data.get("title", "").strip() and data.get("autofill_failed"):
            self.add_error(
                "title",
                "We could not find a title for this link. Please type one.",
            )
        return data


class ExtraLinkForm(forms.Form):
    label = forms.CharField(
        max_length=80,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Bonus: talk"}),
    )
    url = forms.CharField(
        label="Link",
        max_length=2000,
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://…"}),
    )

    def clean(self):
        data = super().clean()
        label, url = data.get("label", "").strip(), data.get("url", "").strip()
        if url and not label:
            self.add_error("label", "Give this link a label, such as “Code” or “Bonus: talk”.")
        if label and not url:
            self.add_error("url", "Add the link for this label, or clear the label.")
        if url:
            try:
                data["url"] = validate_http_url(url)
            except ValidationError as exc:
                self.add_error("url", exc)
        return data


ExtraLinkFormSet = forms.formset_factory(
    ExtraLinkForm, extra=EXTRA_LINKS, max_num=EXTRA_LINKS, absolute_max=EXTRA_LINKS
)


def extra_links_from(formset) -> list[tuple[str, str]]:
    return [
        (f.cleaned_data["label"].strip(), f.cleaned_data["url"].strip())
        for f in formset.forms
        if f.cleaned_data.get("url")
    ]


class SubscribeForm(forms.Form):
    """The email edition's subscribe form: an address, nothing else (no account needed)."""

    email = forms.CharField(
        label="Your email address",
        # Not stripped: a line break anywhere in the value is refused, not silently cut.
        strip=False,
        error_messages={"required": "Enter your email address."},
        widget=forms.EmailInput(attrs={"autocomplete": "email", "maxlength": MAX_ADDRESS}),
    )

    def clean_email(self) -> str:
        address, _ = address_clean(self.cleaned_data["email"])
        return address

"""Submissions, the editors' votes on them, their activity log and decision emails."""

from django.conf import settings
from django.db import models
from django.db.models import IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from markdownx.models import MarkdownxField


class Kind(models.TextChoices):
    PAPER = "paper", "Paper"
    BLOG = "blog", "Blog post"
    TOOL = "tool", "Tool"
    REPO = "repo", "Repository"
    TALK = "talk", "Talk"
    EVENT = "event", "Event"
    OTHER = "other", "Other"


# URL segment of each kind's archive page: /archive/papers/ and so on.
KIND_SLUGS = {
    Kind.PAPER: "papers",
    Kind.BLOG: "blog-posts",
    Kind.TOOL: "tools",
    Kind.REPO: "repos",
    Kind.TALK: "talks",
    Kind.EVENT: "events",
    Kind.OTHER: "other",
}


class SubqueryCount(Subquery):
    """COUNT(*) of a correlated subquery: one number per row, no GROUP BY on the outer query."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _count)"
    output_field = IntegerField()


class SubmissionQuerySet(models.QuerySet):
    def with_tally(self):
        """Each row's votes for, against and abstaining (`votes_for`, `votes_against`,
        `votes_abstain`), counted in the same query; `vote_tally` reads them."""
        votes = Vote.objects.filter(submission=OuterRef("pk"), stale=False)
        return self.annotate(
            votes_for=SubqueryCount(votes.filter(value=Vote.Value.FOR).values("pk")),
            votes_against=SubqueryCount(votes.filter(value=Vote.Value.AGAINST).values("pk")),
            votes_abstain=SubqueryCount(votes.filter(value=Vote.Value.ABSTAIN).values("pk")),
        )

    def live(self):
        """Submissions that count as "already submitted" for duplicate detection."""
        return self.filter(state__in=Submission.LIVE_STATES)

    def pending(self):
        return self.filter(state=Submission.State.PENDING)

    def accepted(self):
        return self.filter(state=Submission.State.ACCEPTED)

    def published(self):
        return self.filter(state=Submission.State.PUBLISHED)


class Submission(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"
        PUBLISHED = "published", "Published"

    class RejectReason(models.TextChoices):
        OFF_TOPIC = "off-topic", "Off-topic for this community"
        DUPLICATE = "duplicate", "Duplicate of another submission"
        NOT_ENOUGH_DETAIL = "detail", "Not enough detail"
        ALREADY_COVERED = "covered", "Already covered in an earlier issue"
        OTHER = "other", "Other"

    class Source(models.TextChoices):
        WEBSITE = "web", "Website"
        DISCORD = "discord", "Discord"

    LIVE_STATES = (State.PENDING, State.ACCEPTED, State.PUBLISHED)

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submissions"
    )
    url = models.URLField("link", max_length=2000)
    canonical_key = models.CharField(max_length=2000, db_index=True, editable=False)
    canonical_version = models.PositiveSmallIntegerField(default=0, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=300, blank=True)
    summary = MarkdownxField(blank=True)
    summary_html = models.TextField(blank=True, editable=False)
    note_to_editors = models.TextField(blank=True, max_length=2000)
    # Where the member sent it from: the website's form, or Discord (/share, a message).
    source = models.CharField(
        max_length=10, choices=Source.choices, default=Source.WEBSITE, editable=False
    )
    # Up to three (services/topics.py checks the number); editors may change them.
    topics = models.ManyToManyField("newsletter.Topic", blank=True, related_name="submissions")
    # The submitter's own words, kept when an editor edits title or summary.
    original_title = models.CharField(max_length=300, blank=True, editable=False)
    original_summary = models.TextField(blank=True, editable=False)

    metadata = models.JSONField(default=dict, blank=True, editable=False)
    metadata_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    metadata_error = models.CharField(max_length=300, blank=True, editable=False)

    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    state_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    reject_reason = models.CharField(max_length=10, choices=RejectReason.choices, blank=True)
    reject_note = models.TextField(blank=True, max_length=1000)

    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One live item per link: a resubmission is answered with the existing one.
            models.UniqueConstraint(
                fields=["canonical_key"],
                condition=Q(state__in=["pending", "accepted", "published"]),
                name="submission_one_live_per_link",
            ),
            models.CheckConstraint(
                condition=~Q(state="rejected") | ~Q(reject_reason=""),
                name="submission_rejected_has_reason",
            ),
        ]
        indexes = [
            # The review queue: one state, oldest first (created_at, then id), read in order.
            models.Index(fields=["state", "created_at", "id"], name="submission_state_order"),
            # The review queue's "same title" warning compares titles without case.
            models.Index(Lower("title"), name="submission_title_lower"),
        ]

    def __str__(self) -> str:
        return self.title or self.url

    def get_absolute_url(self) -> str:
        return reverse("portal:submission-detail", args=[self.pk])

    def get_page_url(self) -> str:
        """The public page of the item, once published (views/items.py)."""
        return reverse("newsletter:item-detail", args=[self.pk, slugify(self.title)[:80] or "item"])

    @property
    def is_editable_by_author(self) -> bool:
        return self.state == self.State.PENDING


class ExtraLink(models.Model):
    """A labelled extra link shown after an item: "Bonus: talk", "Code"."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="extra_links")
    label = models.CharField(max_length=80)
    url = models.URLField(max_length=2000)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.label}: {self.url}"


class Vote(models.Model):
    class Value(models.IntegerChoices):
        FOR = 1, "For"
        ABSTAIN = 0, "Abstain"
        AGAINST = -1, "Against"

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="votes")
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="votes"
    )
    value = models.SmallIntegerField(choices=Value.choices)
    comment = models.TextField(blank=True, max_length=2000)
    # Cast before the submitter changed the link or summary: shown, but no longer counted.
    stale = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "editor"], name="vote_one_per_editor"),
            models.CheckConstraint(condition=Q(value__in=[-1, 0, 1]), name="vote_value_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.editor} {self.get_value_display().lower()} {self.submission}"


class Activity(models.Model):
    """The per-submission log editors read: votes, edits, decisions, emails sent."""

    class Action(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        EDITED = "edited", "Edited"
        METADATA = "metadata", "Fetched details"
        VOTED = "voted", "Voted"
        STATE = "state", "Changed state"
        EMAILED = "emailed", "Emailed the submitter"
        ENDORSED = "endorsed", "Endorsed by a member"

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="activity")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10, blank=True)
    detail = models.TextField(blank=True)
    # For edits: {"field": [before, after]}, so editors see exactly what changed.
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "activity"

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.submission_id}"


class Notification(models.Model):
    """One row per email owed to a submitter; the unique key makes each send once."""

    class Kind(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        PUBLISHED = "published", "Published"

    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["submission", "kind"], name="notification_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} email for {self.submission_id}"

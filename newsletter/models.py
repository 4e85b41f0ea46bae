"""Submissions, editorial votes, issues and their Discord deliveries.

Models stay slim: state changes live in `services.py`, which every view, admin
action, task and command calls.
"""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
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


class SubmissionQuerySet(models.QuerySet):
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
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return self.title or self.url

    def get_absolute_url(self) -> str:
        return reverse("portal:submission-detail", args=[self.pk])

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

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="activity")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10, blank=True)
    detail = models.TextField(blank=True)
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


class Section(models.Model):
    """A newsletter section: heading, emoji, order and the kinds it collects."""

    heading = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    emoji = models.CharField(max_length=16, help_text="Shown before each item of the section.")
    kind_emoji = models.JSONField(
        default=dict,
        blank=True,
        help_text='Emoji per kind, overriding the section emoji, e.g. {"blog": "📝"}.',
    )
    kinds = models.JSONField(
        default=list, blank=True, help_text='Kinds it collects, e.g. ["paper"].'
    )
    collects_events = models.BooleanField(
        default=False, help_text="Filled with upcoming events from the events app."
    )
    compact = models.BooleanField(
        default=False,
        help_text="Title and blurb on one line, as in a spotlight; otherwise the blurb goes below.",
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.heading

    def emoji_for(self, kind: str) -> str:
        return self.kind_emoji.get(kind) or self.emoji


class IssueQuerySet(models.QuerySet):
    def published(self):
        return self.filter(state=Issue.State.PUBLISHED, published_at__lte=timezone.now())

    def due(self, now=None):
        """Scheduled issues whose publication time has come."""
        return self.filter(state=Issue.State.SCHEDULED, publish_at__lte=now or timezone.now())


class Issue(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        PUBLISHED = "published", "Published"

    number = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, blank=True)
    introduction = MarkdownxField(blank=True)
    closing = MarkdownxField(blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    publish_at = models.DateTimeField(
        null=True, blank=True, help_text="When a scheduled issue goes out."
    )
    published_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    # The three renderings, stored when content is saved so readers' pages do no Markdown work.
    body_html = models.TextField(blank=True, editable=False)
    body_markdown = models.TextField(blank=True, editable=False)
    corrected_at = models.DateTimeField(null=True, blank=True, editable=False)
    state_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    # Why a scheduled publication did not happen; the issue went back to draft.
    publish_error = models.TextField(blank=True, editable=False)
    # Plain text of the introduction and closing for search results, and the search vector
    # (PostgreSQL; its GIN index is created by a PostgreSQL-only migration step).
    search_text = models.TextField(blank=True, editable=False)
    search_vector = SearchVectorField(null=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IssueQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="published") | Q(published_at__isnull=False),
                name="issue_published_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state="scheduled") | Q(publish_at__isnull=False),
                name="issue_scheduled_has_time",
            ),
        ]
        indexes = [
            # The archive counts its published issues on every page: from this small index
            # alone (an index-only scan), not from the table with every issue's stored page.
            models.Index(
                fields=["published_at"],
                condition=Q(state="published"),
                name="issue_published_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.title}"

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = slugify(self.title)[:200] or f"issue-{self.number}"
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("newsletter:issue-detail", args=[self.number, self.slug])


class IssueItemQuerySet(models.QuerySet):
    def published(self):
        """Items readers may see: those of a published issue."""
        return self.filter(
            is_published=True,
            issue__state=Issue.State.PUBLISHED,
            issue__published_at__lte=timezone.now(),
        )


class IssueItem(models.Model):
    """A submission (or an event) placed in a section of an issue, with its own blurb."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="items")
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="items")
    submission = models.ForeignKey(
        Submission, on_delete=models.PROTECT, null=True, blank=True, related_name="issue_items"
    )
    event = models.ForeignKey(
        "events.Event", on_delete=models.PROTECT, null=True, blank=True, related_name="issue_items"
    )
    position = models.PositiveIntegerField(default=0)
    blurb = models.TextField(
        blank=True, help_text="Shown in this issue instead of the submission's summary."
    )
    # Mirrors the issue's state so the database can refuse a second published placement.
    is_published = models.BooleanField(default=False, editable=False)
    # The item as rendered in its issue, and its plain text for search; stored with the issue.
    html = models.TextField(blank=True, editable=False)
    search_text = models.TextField(blank=True, editable=False)
    search_vector = SearchVectorField(null=True, editable=False)

    objects = IssueItemQuerySet.as_manager()

    class Meta:
        ordering = ["section__position", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(submission__isnull=True, event__isnull=False)
                | Q(submission__isnull=False, event__isnull=True),
                name="issueitem_submission_xor_event",
            ),
            models.UniqueConstraint(
                fields=["issue", "submission"], name="issueitem_submission_once_per_issue"
            ),
            models.UniqueConstraint(
                fields=["issue", "event"], name="issueitem_event_once_per_issue"
            ),
            models.UniqueConstraint(
                fields=["submission"],
                condition=Q(is_published=True),
                name="issueitem_submission_in_one_published_issue",
            ),
        ]

    def __str__(self) -> str:
        return str(self.submission or self.event)

    @property
    def anchor(self) -> str:
        return f"item-{self.pk}"


class DiscordChannel(models.Model):
    """A Discord channel reached through a webhook. The token is a secret."""

    name = models.CharField(max_length=100)
    webhook_id = models.CharField(max_length=32, editable=False)
    webhook_token = models.CharField(max_length=200, editable=False)
    thread_id = models.CharField(max_length=32, blank=True)
    username = models.CharField(max_length=80, blank=True)
    avatar_url = models.URLField(blank=True)
    active = models.BooleanField(default=True)
    receives_issues = models.BooleanField(default=True)
    receives_reminders = models.BooleanField(default=False)
    link_previews = models.BooleanField(
        default=False, help_text="Let Discord show link previews (off keeps messages compact)."
    )
    deactivated_reason = models.CharField(max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["webhook_id", "thread_id"], name="channel_unique_hook"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def token_hint(self) -> str:
        """What the admin may show of the token: its last four characters."""
        return f"…{self.webhook_token[-4:]}" if self.webhook_token else ""


class Delivery(models.Model):
    """Everything one channel must receive for one subject (an issue, a reminder)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(DiscordChannel, on_delete=models.CASCADE, related_name="deliveries")
    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    # What is delivered, unique per channel: "issue:12", "reminder:event:5:60", "test:…".
    key = models.CharField(max_length=120)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A lease instead of a lock held across HTTP calls: one sending run at a time. A run that
    # dies leaves a lease that expires, after which the sweeper queues the delivery again.
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["channel", "key"], name="delivery_once_per_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.channel}"


class DeliveryMessage(models.Model):
    """One Discord message to post. A message with a Discord id is never posted again."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # After a correction: edit the posted message, or delete it when the issue got shorter.
        EDIT = "edit", "Edit pending"
        DELETE = "delete", "Delete pending"
        DELETED = "deleted", "Deleted"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="messages")
    position = models.PositiveSmallIntegerField()
    content = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    discord_message_id = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # True from the moment a request is about to go out until its answer is stored: still True
    # afterwards means the attempt got no answer and Discord may or may not have posted it.
    awaiting_answer = models.BooleanField(default=False, editable=False)
    # Posted again after an unanswered attempt: the channel may show this message twice.
    maybe_duplicate = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "position"], name="message_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delivery} #{self.position}"

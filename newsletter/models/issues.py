"""Issues, their sections and the items placed in them."""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from markdownx.models import MarkdownxField

from .submissions import Submission


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

"""Events (reading groups, talks) and members' RSVPs."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from markdownx.models import MarkdownxField


class EventQuerySet(models.QuerySet):
    def visible(self):
        """What readers see: published and cancelled events (cancelled stay visible)."""
        return self.filter(state__in=[Event.State.PUBLISHED, Event.State.CANCELLED])

    def published(self):
        return self.filter(state=Event.State.PUBLISHED)

    def upcoming(self):
        return self.filter(end__gte=timezone.now())

    def past(self):
        return self.filter(end__lt=timezone.now())

    def with_counts(self):
        """Going and waiting-list counts in the same query, for lists and pages."""
        return self.annotate(
            going_count=models.Count("rsvps", filter=Q(rsvps__status=RSVP.Status.GOING)),
            waitlist_count=models.Count("rsvps", filter=Q(rsvps__status=RSVP.Status.WAITLISTED)),
        )


class Event(models.Model):
    class Kind(models.TextChoices):
        READING_GROUP = "reading", "Reading group"
        TALK = "talk", "Talk"
        SOCIAL = "social", "Social"
        OTHER = "other", "Other"

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        CANCELLED = "cancelled", "Cancelled"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.READING_GROUP)
    description = MarkdownxField(blank=True)
    description_html = models.TextField(blank=True, editable=False)
    # Stored in UTC; `time_zone` is the organiser's zone, used to enter and show them.
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField()
    time_zone = models.CharField(max_length=64, default="UTC")
    location = models.CharField(
        max_length=500,
        blank=True,
        help_text="A Discord stage or voice channel link, a video call link, or a place.",
    )
    resource_title = models.CharField("paper or resource", max_length=300, blank=True)
    resource_url = models.URLField("paper or resource link", max_length=2000, blank=True)
    hosts = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="hosted_events"
    )
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    rsvp_deadline = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    # RFC 5545 SEQUENCE: grows each time a published event changes.
    sequence = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    # Set once the going/maybe members were told of the cancellation (sent once).
    cancellation_emailed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gte=models.F("start")), name="event_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gt=0),
                name="event_capacity_positive",
            ),
            models.CheckConstraint(
                condition=~Q(state="cancelled") | Q(cancelled_at__isnull=False),
                name="event_cancelled_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("events:event-detail", args=[self.slug])

    @property
    def is_cancelled(self) -> bool:
        return self.state == self.State.CANCELLED

    @property
    def answers_close_at(self):
        """Answers may change until the RSVP deadline, or the start when there is none."""
        return self.rsvp_deadline or self.start

    @property
    def location_is_link(self) -> bool:
        return self.location.startswith(("https://", "http://"))

    @property
    def location_kind(self) -> str:
        """How members join: a Discord channel, a video call, or a place."""
        if not self.location:
            return ""
        if self.location_is_link:
            host = self.location.split("/", 3)[2].lower()
            if host == "discord.com" or host.endswith((".discord.com", "discord.gg")):
                return "Discord"
            return "Video call"
        return "Place"


class RSVP(models.Model):
    class Status(models.TextChoices):
        GOING = "going", "Going"
        WAITLISTED = "waitlisted", "On the waiting list"
        MAYBE = "maybe", "Maybe"
        NOT_GOING = "not_going", "Not going"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rsvps")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rsvps"
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    # Arrival order on the waiting list.
    waitlisted_at = models.DateTimeField(null=True, blank=True)
    # Moved from the waiting list to going; the member is emailed once.
    promoted_at = models.DateTimeField(null=True, blank=True, editable=False)
    promotion_emailed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "RSVP"
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="rsvp_one_per_member"),
            models.CheckConstraint(
                condition=~Q(status="waitlisted") | Q(waitlisted_at__isnull=False),
                name="rsvp_waitlisted_has_time",
            ),
        ]
        indexes = [models.Index(fields=["event", "status", "waitlisted_at"])]

    def __str__(self) -> str:
        return f"{self.user} {self.get_status_display().lower()} {self.event}"


class Reminder(models.Model):
    """A reminder sent for an event at one lead time; the unique key makes it once."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="reminders")
    lead_minutes = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    emails_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "lead_minutes"], name="reminder_once_per_lead"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} −{self.lead_minutes} min"

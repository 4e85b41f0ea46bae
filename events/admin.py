"""Organisers' side of events: entering them in their own time zone, attendees, CSV, cancelling."""

from __future__ import annotations

from datetime import UTC

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

from . import services
from .export import attendees_csv_response
from .forms import EventAdminForm, _zone
from .models import RSVP, Event, Reminder


class _AnswerInline(admin.TabularInline):
    """Read-only: answers are the members' to give; organisers look and export."""

    model = RSVP
    extra = 0
    can_delete = False
    show_change_link = False
    fields = ["member", "email", "answered_at"]
    readonly_fields = fields
    status: str = ""

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=self.status).select_related("user")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="member")
    def member(self, rsvp):
        handle = f" (@{rsvp.user.discord_handle})" if rsvp.user.discord_handle else ""
        return f"{rsvp.user.public_name}{handle}"

    @admin.display(description="email")
    def email(self, rsvp):
        return rsvp.user.email

    @admin.display(description="answered (UTC)")
    def answered_at(self, rsvp):
        return date_format(rsvp.created_at.astimezone(UTC), "j M Y, H:i")


class GoingInline(_AnswerInline):
    status = RSVP.Status.GOING
    verbose_name = "member going"
    verbose_name_plural = "going"
    ordering = ["created_at", "id"]


class WaitingInline(_AnswerInline):
    status = RSVP.Status.WAITLISTED
    verbose_name = "member waiting"
    verbose_name_plural = "waiting list (in arrival order)"
    ordering = ["waitlisted_at", "id"]
    fields = ["place", "member", "email", "waiting_since"]
    readonly_fields = fields

    def get_queryset(self, request):
        # The place is counted by the database: one query however long the list.
        return (
            super()
            .get_queryset(request)
            .annotate(
                position=Window(
                    RowNumber(),
                    partition_by=[F("event_id")],
                    order_by=[F("waitlisted_at").asc(), F("id").asc()],
                )
            )
        )

    @admin.display(description="place")
    def place(self, rsvp):
        return rsvp.position

    @admin.display(description="waiting since (UTC)")
    def waiting_since(self, rsvp):
        return date_format(rsvp.waitlisted_at.astimezone(UTC), "j M Y, H:i")


class ReminderInline(admin.TabularInline):
    model = Reminder
    extra = 0
    can_delete = False
    fields = ["lead_minutes", "created_at", "emails_sent_at"]
    readonly_fields = fields
    verbose_name_plural = "reminders sent"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventAdminForm
    list_display = ["title", "kind", "state", "starts", "going", "waiting", "capacity"]
    list_filter = ["state", "kind"]
    search_fields = ["title", "description", "resource_title"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["hosts"]
    date_hierarchy = "start"
    readonly_fields = ["in_utc", "sequence", "cancelled_at", "cancelled_by", "created_by"]
    actions = ["export_attendees", "cancel_events"]
    inlines = [GoingInline, WaitingInline, ReminderInline]
    fieldsets = [
        (None, {"fields": ["title", "slug", "kind", "state", "description"]}),
        (
            "When",
            {
                "fields": ["time_zone", "start", "end", "rsvp_deadline", "in_utc"],
                "description": "Type the times as the organiser reads them, in the chosen time "
                "zone; they are stored in UTC and shown to each member in theirs.",
            },
        ),
        ("Where and what", {"fields": ["location", "resource_title", "resource_url", "hosts"]}),
        ("Seats", {"fields": ["capacity"]}),
        (
            "Record",
            {
                "classes": ["collapse"],
                "fields": ["sequence", "created_by", "cancelled_at", "cancelled_by"],
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_counts()

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("time_zone", getattr(request.user, "timezone", "") or "UTC")
        return initial

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.state == Event.State.CANCELLED:
            fields.append("state")
        return fields

    @admin.display(description="starts", ordering="start")
    def starts(self, event):
        local = event.start.astimezone(_zone(event.time_zone))
        return f"{date_format(local, 'D j M Y, H:i')} {event.time_zone}"

    @admin.display(description="going", ordering="going_count")
    def going(self, event):
        return event.going_count

    @admin.display(description="waiting", ordering="waitlist_count")
    def waiting(self, event):
        return event.waitlist_count

    @admin.display(description="in UTC")
    def in_utc(self, event):
        if not event.pk:
            return "Shown after saving."
        start, end = event.start.astimezone(UTC), event.end.astimezone(UTC)
        return format_html(
            "{} – {} UTC", date_format(start, "D j M Y, H:i"), date_format(end, "D j M Y, H:i")
        )

    def save_model(self, request, obj, form, change):
        try:
            services.event_save(event=obj, by=request.user)
        except ValidationError as exc:
            # The form checks transitions first; this is a race with another organiser.
            self.message_user(request, exc.messages[0], messages.ERROR)

    @admin.action(description="Export attendees and waiting lists (CSV)")
    def export_attendees(self, request, queryset):
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        return attendees_csv_response(queryset.order_by("start"), filename=f"attendees-{stamp}.csv")

    @admin.action(description="Cancel the selected events (emails going and maybe members)")
    def cancel_events(self, request, queryset):
        cancelled = 0
        for event in queryset.exclude(state=Event.State.CANCELLED):
            services.event_cancel(event=event, by=request.user)
            cancelled += 1
        if cancelled:
            self.message_user(
                request,
                f"Cancelled {cancelled} event{'s' if cancelled != 1 else ''}; members who "
                "answered going or maybe are being emailed.",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, "Those events were already cancelled.", messages.WARNING)

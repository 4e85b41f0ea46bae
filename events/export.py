"""The attendee and waiting lists as CSV, for organisers (admin action and event page)."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.http import HttpResponse

from .models import RSVP, Event

HEADER = ["event", "answer", "waiting list place", "name", "email", "discord", "answered at (UTC)"]


def attendee_rows(events: Iterable[Event]) -> list[list[str]]:
    """Going members in order of answer, then the waiting list in arrival order, per event."""
    events = list(events)
    rsvps = (
        RSVP.objects.filter(
            event__in=events, status__in=[RSVP.Status.GOING, RSVP.Status.WAITLISTED]
        )
        .select_related("user", "event")
        .order_by("event__start", "event_id", "status", "waitlisted_at", "created_at", "id")
    )
    rows = []
    place = 0
    current_event = None
    for rsvp in rsvps:
        if rsvp.event_id != current_event:
            current_event, place = rsvp.event_id, 0
        if rsvp.status == RSVP.Status.WAITLISTED:
            place += 1
        user = rsvp.user
        rows.append(
            [
                _cell(rsvp.event.title),
                rsvp.get_status_display(),
                str(place) if rsvp.status == RSVP.Status.WAITLISTED else "",
                _cell(user.public_name),
                _cell(user.email),
                _cell(user.discord_handle),
                rsvp.created_at.strftime("%Y-%m-%d %H:%M"),
            ]
        )
    return rows


def _cell(value: str) -> str:
    """Keep spreadsheet programs from running member text as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def attendees_csv_response(events: Iterable[Event], *, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(HEADER)
    writer.writerows(attendee_rows(events))
    return response

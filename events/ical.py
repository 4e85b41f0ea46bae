"""iCalendar (RFC 5545) documents for one event and for the subscribable feed.

Times are written in UTC, so every calendar application shows them in its own
zone. UIDs are stable (`event-<pk>@<site host>`) and SEQUENCE grows when a
published event changes, so subscribed calendars update the entry in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

import icalendar
from django.conf import settings
from django.utils import timezone

from portal.site import absolute_url

from .models import Event

# Subscribed calendars may look again after this long (a hint most applications follow).
REFRESH_INTERVAL = "PT1H"


def site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def event_uid(event: Event) -> str:
    return f"event-{event.pk}@{site_host()}"


def event_url(event: Event) -> str:
    return absolute_url(event.get_absolute_url())


def _description(event: Event) -> str:
    parts = []
    if event.resource_title or event.resource_url:
        parts.append(" ".join(p for p in (event.resource_title, event.resource_url) if p))
    if event.description:
        parts.append(event.description.strip())
    parts.append(event_url(event))
    return "\n\n".join(parts)


def _vevent(event: Event, *, stamp: datetime) -> icalendar.Event:
    vevent = icalendar.Event()
    vevent.add("uid", event_uid(event))
    vevent.add("dtstamp", stamp)
    vevent.add("created", event.created_at.astimezone(UTC))
    vevent.add("last-modified", event.updated_at.astimezone(UTC))
    vevent.add("sequence", event.sequence)
    vevent.add("dtstart", event.start.astimezone(UTC))
    vevent.add("dtend", event.end.astimezone(UTC))
    summary = event.title
    if event.state == Event.State.CANCELLED:
        summary = f"Cancelled: {summary}"
    vevent.add("summary", summary)
    vevent.add("description", _description(event))
    vevent.add("url", event_url(event))
    if event.location:
        vevent.add("location", event.location)
    vevent.add("categories", [event.get_kind_display()])
    vevent.add("status", "CANCELLED" if event.state == Event.State.CANCELLED else "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    return vevent


def calendar_document(events: Iterable[Event], *, name: str | None = None) -> bytes:
    """A VCALENDAR with one VEVENT per event, as bytes ready to serve."""
    cal = icalendar.Calendar()
    cal.add("prodid", f"-//{settings.SITE_NAME}//Events//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    # vText escapes what a title may hold (commas, semicolons, line breaks).
    cal.add("x-wr-calname", icalendar.vText(name or f"{settings.SITE_NAME} events"))
    cal.add(
        "refresh-interval",
        icalendar.vDuration.from_ical(REFRESH_INTERVAL),
        parameters={"VALUE": "DURATION"},
    )
    cal.add("x-published-ttl", REFRESH_INTERVAL)
    stamp = timezone.now().astimezone(UTC).replace(microsecond=0)
    for event in events:
        cal.add_component(_vevent(event, stamp=stamp))
    return cal.to_ical()


def google_calendar_url(event: Event) -> str:
    """An "add to Google Calendar" link, with the times in UTC."""
    fmt = "%Y%m%dT%H%M%SZ"
    start = event.start.astimezone(UTC).strftime(fmt)
    end = event.end.astimezone(UTC).strftime(fmt)
    params = {
        "action": "TEMPLATE",
        "text": event.title,
        "dates": f"{start}/{end}",
        "details": f"{event_url(event)}",
    }
    if event.location:
        params["location"] = event.location
    return "https://calendar.google.com/calendar/render?" + urlencode(params)

"""iCalendar documents: /events/<slug>.ics and the subscribable /events/calendar.ics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import icalendar
from django.urls import resolve
from django.utils import timezone

from events import services
from events.ical import google_calendar_url
from events.models import Event
from tests.factories import EventFactory


def fetch(client, url: str) -> tuple[bytes, icalendar.Calendar]:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return response.content, icalendar.Calendar.from_ical(response.content)


def test_event_ics_has_the_event_in_utc_with_stable_uid(client, settings, db):
    settings.SITE_URL = "https://community.example.org"
    start = datetime(2031, 3, 10, 13, 30, tzinfo=UTC)
    event = EventFactory(
        title="Reading: Mamba",
        start=start,
        end=start + timedelta(minutes=90),
        location="https://meet.example.org/mamba",
        resource_title="Mamba",
        resource_url="https://arxiv.org/abs/2312.00752",
    )

    body, cal = fetch(client, f"/events/{event.slug}.ics")

    assert b"DTSTART:20310310T133000Z" in body
    assert b"DTEND:20310310T150000Z" in body
    (vevent,) = cal.events
    assert str(vevent["UID"]) == f"event-{event.pk}@community.example.org"
    assert vevent.decoded("DTSTART") == start
    assert vevent["SUMMARY"] == "Reading: Mamba"
    assert vevent["URL"] == f"https://community.example.org/events/{event.slug}/"
    assert vevent["LOCATION"] == "https://meet.example.org/mamba"
    assert "https://arxiv.org/abs/2312.00752" in vevent["DESCRIPTION"]
    assert vevent["STATUS"] == "CONFIRMED"
    assert vevent["SEQUENCE"] == 0
    assert isinstance(vevent.decoded("DTSTAMP"), datetime)
    assert cal["VERSION"] == "2.0"


def test_event_ics_round_trips_through_icalendar(client, db):
    event = EventFactory(description="Line one; with, punctuation\n\nAnd a second *paragraph*.")
    body, cal = fetch(client, f"/events/{event.slug}.ics")
    assert cal.to_ical() == body
    again = icalendar.Calendar.from_ical(cal.to_ical())
    assert again.events[0]["DESCRIPTION"] == cal.events[0]["DESCRIPTION"]
    assert "Line one; with, punctuation" in str(again.events[0]["DESCRIPTION"])


def test_event_ics_is_a_download(client, db):
    event = EventFactory()
    response = client.get(f"/events/{event.slug}.ics")
    assert response["Content-Disposition"] == f'attachment; filename="{event.slug}.ics"'


def test_calendar_feed_has_published_and_cancelled_not_drafts(client, db):
    published = EventFactory(title="On")
    cancelled = EventFactory(title="Off", state=Event.State.CANCELLED, cancelled_at=timezone.now())
    EventFactory(title="Draft", state=Event.State.DRAFT)

    body, cal = fetch(client, "/events/calendar.ics")

    by_uid = {str(v["UID"]).split("@")[0]: v for v in cal.events}
    assert set(by_uid) == {f"event-{published.pk}", f"event-{cancelled.pk}"}
    assert by_uid[f"event-{published.pk}"]["STATUS"] == "CONFIRMED"
    assert by_uid[f"event-{cancelled.pk}"]["STATUS"] == "CANCELLED"
    assert cal.to_ical() == body
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in body


def test_calendar_feed_sequence_grows_and_uid_stays_when_event_changes(client, editor):
    event = EventFactory()
    _, before = fetch(client, "/events/calendar.ics")
    event.start += timedelta(hours=2)
    event.end += timedelta(hours=2)
    services.event_save(event=event, by=editor)
    services.event_cancel(event=event, by=editor)
    _, after = fetch(client, "/events/calendar.ics")

    (old,), (new,) = before.events, after.events
    assert new["UID"] == old["UID"]
    assert (old["SEQUENCE"], new["SEQUENCE"]) == (0, 2)
    assert new["STATUS"] == "CANCELLED"
    assert new.decoded("DTSTART") == old.decoded("DTSTART") + timedelta(hours=2)


def test_calendar_urls_are_not_taken_for_event_slugs(db):
    assert resolve("/events/calendar.ics").url_name == "calendar-ics"
    assert resolve("/events/some-talk.ics").url_name == "event-ics"
    assert resolve("/events/some-talk/").url_name == "event-detail"


def test_google_calendar_link_uses_utc_times(db):
    start = datetime(2031, 3, 10, 13, 30, tzinfo=UTC)
    event = EventFactory(title="Talk & tea", start=start, end=start + timedelta(hours=1))
    query = parse_qs(urlsplit(google_calendar_url(event)).query)
    assert query["action"] == ["TEMPLATE"]
    assert query["text"] == ["Talk & tea"]
    assert query["dates"] == ["20310310T133000Z/20310310T143000Z"]


def test_event_ics_escapes_a_title_with_line_breaks(client, db):
    """A title stored with CR/LF (an older row, an import) still makes a valid calendar."""
    event = EventFactory(title="Reading group\r\nX-INJECTED:yes; with, commas")
    content, calendar = fetch(client, f"/events/{event.slug}.ics")
    assert b"\r\nX-INJECTED" not in content
    assert b"X-WR-CALNAME:Reading group\\nX-INJECTED:yes\\; with\\, commas" in content


def test_event_titles_are_stored_on_one_line_without_format_characters(db):
    event = EventFactory.build(title="Reading\r\ngroup \u202eon pruning", slug="one-line")
    services.event_save(event=event)
    event.refresh_from_db()
    assert event.title == "Reading group on pruning"

"""Time zones end to end: entered in the organiser's zone, stored in UTC, shown in the viewer's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from events.models import Event
from tests.factories import EditorFactory, EventFactory, UserFactory

# 19:00 in Kolkata (UTC+5:30) is 13:30 UTC, and 06:30 in Los Angeles (PDT, UTC-7, from 9 March 2031).
KOLKATA_FORM = {
    "title": "Reading group: Kolkata evening",
    "slug": "kolkata-evening",
    "kind": "reading",
    "state": "published",
    "description": "We read a paper.",
    "time_zone": "Asia/Kolkata",
    "start": "2031-03-10T19:00",
    "end": "2031-03-10T20:30",
    "location": "https://discord.com/channels/1/2",
    "resource_title": "",
    "resource_url": "",
    "capacity": "",
    "rsvp_deadline": "",
    "rsvps-TOTAL_FORMS": "0",
    "rsvps-INITIAL_FORMS": "0",
    "rsvps-2-TOTAL_FORMS": "0",
    "rsvps-2-INITIAL_FORMS": "0",
    "reminders-TOTAL_FORMS": "0",
    "reminders-INITIAL_FORMS": "0",
}


@pytest.fixture
def kolkata_event(client, db) -> Event:
    """The event as an organiser in Kolkata enters it in the admin."""
    organiser = EditorFactory(is_superuser=True, timezone="Europe/Paris")
    client.force_login(organiser)
    response = client.post("/admin/events/event/add/", KOLKATA_FORM)
    assert response.status_code == 302, response.content.decode()[:3000]
    client.logout()
    return Event.objects.get(slug="kolkata-evening")


def test_kolkata_event_is_stored_in_utc(kolkata_event):
    assert kolkata_event.start == datetime(2031, 3, 10, 13, 30, tzinfo=UTC)
    assert kolkata_event.end == datetime(2031, 3, 10, 15, 0, tzinfo=UTC)
    assert kolkata_event.time_zone == "Asia/Kolkata"


def test_kolkata_event_shows_in_los_angeles_time_for_a_member_there(client, kolkata_event):
    client.force_login(UserFactory(timezone="America/Los_Angeles"))
    body = client.get(kolkata_event.get_absolute_url()).content.decode()
    assert "Mon 10 Mar 2031, 06:30–08:00 PDT" in body
    assert "(13:30–15:00 UTC)" in body
    assert "data-localtime" not in body  # the member's own zone: no browser rewrite


def test_kolkata_event_shows_in_kolkata_time_for_a_member_there(client, kolkata_event):
    client.force_login(UserFactory(timezone="Asia/Kolkata"))
    body = client.get(kolkata_event.get_absolute_url()).content.decode()
    assert "Mon 10 Mar 2031, 19:00–20:30 IST" in body


def test_kolkata_event_in_the_list_for_los_angeles(client, kolkata_event):
    client.force_login(UserFactory(timezone="America/Los_Angeles"))
    body = client.get("/events/").content.decode()
    assert "Mon 10 Mar, 06:30–08:00 PDT" in body


def test_kolkata_event_ics_is_in_utc(client, kolkata_event):
    body = client.get(f"/events/{kolkata_event.slug}.ics").content
    assert b"DTSTART:20310310T133000Z" in body
    assert b"DTEND:20310310T150000Z" in body
    (vevent,) = icalendar.Calendar.from_ical(body).events
    assert vevent.decoded("DTSTART") == datetime(2031, 3, 10, 13, 30, tzinfo=UTC)


def test_kolkata_event_anonymous_visitor_gets_utc_marked_for_the_browser(client, kolkata_event):
    body = client.get(kolkata_event.get_absolute_url()).content.decode()
    assert "Mon 10 Mar 2031, 13:30–15:00 UTC" in body
    assert 'datetime="2031-03-10T13:30:00Z"' in body
    assert 'data-localtime="range"' in body
    assert 'data-end="2031-03-10T15:00:00Z"' in body
    assert "js/localtime.js" in body
    assert "<script>" not in body  # no inline script (CSP)


def test_event_crossing_midnight_for_viewer_shows_the_utc_date(client, db):
    start = datetime(2031, 3, 10, 16, 0, tzinfo=UTC)  # 01:00 on 11 March in Tokyo
    event = EventFactory(start=start, end=start + timedelta(hours=1))
    client.force_login(UserFactory(timezone="Asia/Tokyo"))
    body = client.get(event.get_absolute_url()).content.decode()
    assert "Tue 11 Mar 2031, 01:00–02:00 JST" in body
    assert "(Mon 10 Mar 2031, 16:00–17:00 UTC)" in body


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_localtime_js_shows_browser_zone_to_anonymous_visitor(live_server, chromium):
    start = datetime(2031, 3, 10, 13, 30, tzinfo=UTC)
    event = EventFactory(start=start, end=start + timedelta(minutes=90))
    url = f"{live_server.url}{event.get_absolute_url()}"
    context = chromium.new_context(timezone_id="America/Los_Angeles", locale="en-GB")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console", lambda m: errors.append(m.text) if "Content Security" in m.text else None
        )
        page.goto(url)
        when = page.locator(".event-when time").inner_text()
        note = page.locator("#localtime-note").inner_text()
    finally:
        context.close()
    assert "06:30" in when and "08:00" in when
    assert "America/Los_Angeles" in note
    assert errors == []

"""The organisers' admin: entering events in their zone, attendee lists, CSV export, cancelling."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from events import services
from events.models import RSVP, Event
from tests.factories import EditorFactory, EventFactory, RSVPFactory, UserFactory

from .test_timezones import KOLKATA_FORM

ADD_URL = "/admin/events/event/add/"
LIST_URL = "/admin/events/event/"


def change_url(event) -> str:
    return f"/admin/events/event/{event.pk}/change/"


@pytest.fixture
def organiser(db):
    return EditorFactory(is_superuser=True, timezone="Asia/Kolkata")


@pytest.fixture
def admin_client(client, organiser):
    client.force_login(organiser)
    return client


def form_for(event, **changes) -> dict:
    data = {**KOLKATA_FORM, "title": event.title, "slug": event.slug, "state": event.state}
    data.update(changes)
    return data


def test_admin_add_defaults_to_the_organisers_time_zone(admin_client):
    body = admin_client.get(ADD_URL).content.decode()
    assert '<option value="Asia/Kolkata" selected>' in body


def test_admin_change_shows_times_in_the_events_zone(admin_client):
    start = datetime(2031, 3, 10, 13, 30, tzinfo=UTC)
    event = EventFactory(
        time_zone="America/Los_Angeles", start=start, end=start + timedelta(minutes=90)
    )
    body = admin_client.get(change_url(event)).content.decode()
    assert 'value="2031-03-10T06:30"' in body
    assert 'value="2031-03-10T08:00"' in body
    assert "Mon 10 Mar 2031, 13:30 – Mon 10 Mar 2031, 15:00 UTC" in body


def test_admin_add_time_in_a_clock_change_gap_is_refused(admin_client):
    data = {
        **KOLKATA_FORM,
        "time_zone": "America/New_York",
        "start": "2031-03-09T02:30",  # clocks jump from 02:00 to 03:00
        "end": "2031-03-09T04:00",
    }
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    assert "the clocks change then" in response.content.decode()
    assert not Event.objects.exists()


def test_admin_add_end_before_start_is_refused(admin_client):
    response = admin_client.post(ADD_URL, {**KOLKATA_FORM, "end": "2031-03-10T18:00"})
    assert "The event must end after it starts." in response.content.decode()
    assert not Event.objects.exists()


def test_admin_add_reserved_slug_is_refused(admin_client):
    response = admin_client.post(ADD_URL, {**KOLKATA_FORM, "slug": "calendar"})
    assert "used by the site" in response.content.decode()
    assert not Event.objects.exists()


def test_admin_add_renders_description_and_records_creator(admin_client, organiser):
    admin_client.post(ADD_URL, {**KOLKATA_FORM, "description": "Bring **questions**"})
    event = Event.objects.get()
    assert event.description_html == "<p>Bring <strong>questions</strong></p>"
    assert event.created_by == organiser


def test_admin_change_published_to_draft_is_refused(admin_client):
    event = EventFactory()
    response = admin_client.post(change_url(event), form_for(event, state="draft"))
    assert response.status_code == 200
    event.refresh_from_db()
    assert event.state == Event.State.PUBLISHED


def test_admin_change_start_bumps_sequence(admin_client):
    event = EventFactory()
    response = admin_client.post(change_url(event), form_for(event, start="2031-03-10T19:30"))
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.sequence == 1
    assert event.start == datetime(2031, 3, 10, 14, 0, tzinfo=UTC)


def test_admin_change_page_lists_going_and_waiting_members(admin_client):
    event = EventFactory(capacity=1)
    services.rsvp_set(event=event, user=UserFactory(display_name="Grace Going"), status="going")
    services.rsvp_set(event=event, user=UserFactory(display_name="Wally First"), status="going")
    services.rsvp_set(event=event, user=UserFactory(display_name="Wanda Second"), status="going")
    body = admin_client.get(change_url(event)).content.decode()
    assert "Grace Going" in body
    assert body.index("Wally First") < body.index("Wanda Second")
    assert "waiting list (in arrival order)" in body.lower()


def test_admin_export_action_gives_csv_of_attendees_and_waiting_lists(admin_client):
    first = EventFactory(title="First talk", capacity=1)
    second = EventFactory(title="Second talk")
    RSVPFactory(event=first, user=UserFactory(email="going@example.org"))
    RSVPFactory(event=first, user=UserFactory(email="waiting@example.org"), status="waitlisted")
    RSVPFactory(event=first, user=UserFactory(email="maybe@example.org"), status="maybe")
    RSVPFactory(event=second, user=UserFactory(email="other@example.org"))

    response = admin_client.post(
        LIST_URL, {"action": "export_attendees", "_selected_action": [first.pk, second.pk]}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["event"], r["answer"], r["email"]) for r in rows] == [
        ("First talk", "Going", "going@example.org"),
        ("First talk", "On the waiting list", "waiting@example.org"),
        ("Second talk", "Going", "other@example.org"),
    ]


def test_admin_cancel_action_cancels_and_emails(admin_client, django_capture_on_commit_callbacks):
    event = EventFactory(title="Cancel me")
    RSVPFactory(event=event, user=UserFactory(email="going@example.org"))
    RSVPFactory(event=event, user=UserFactory(email="no@example.org"), status=RSVP.Status.NOT_GOING)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            LIST_URL, {"action": "cancel_events", "_selected_action": [event.pk]}, follow=True
        )

    assert "Cancelled 1 event" in response.content.decode()
    event.refresh_from_db()
    assert event.state == Event.State.CANCELLED
    assert [m.to for m in mail.outbox] == [["going@example.org"]]


def test_admin_changelist_shows_counts(admin_client):
    event = EventFactory(title="Counted", capacity=3)
    RSVPFactory.create_batch(2, event=event)
    RSVPFactory(event=event, status=RSVP.Status.WAITLISTED)
    body = admin_client.get(LIST_URL).content.decode()
    assert "Counted" in body
    assert '<td class="field-going">2</td>' in body
    assert '<td class="field-waiting">1</td>' in body


def test_editors_manage_events_in_the_admin(db):
    """The outside review found editors could not manage events (no permissions)."""
    editor = EditorFactory()
    client = Client()
    client.force_login(editor)
    assert client.get("/admin/events/event/").status_code == 200
    assert client.get("/admin/events/event/add/").status_code == 200
    event = EventFactory()
    assert client.get(f"/admin/events/event/{event.pk}/change/").status_code == 200
    assert editor.has_perm("events.change_event") and not editor.has_perm("events.delete_event")


def test_admin_event_list_query_count_is_the_same_for_1_and_3_events(
    admin_client, django_assert_num_queries
):
    EventFactory()
    admin_client.get(LIST_URL)  # the organiser is read once, then from the cache
    with CaptureQueriesContext(connection) as one:
        assert admin_client.get(LIST_URL).status_code == 200
    EventFactory.create_batch(2)

    with django_assert_num_queries(len(one)):
        page = admin_client.get(LIST_URL)

    assert page.status_code == 200
    assert page.content.decode().count('class="action-select"') == 3

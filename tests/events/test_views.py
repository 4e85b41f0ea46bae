"""What visitors and members see on /events/ and an event page, and answering there."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from events import services
from events.models import RSVP, Event
from tests.factories import EventFactory, RSVPFactory, UserFactory

Status = RSVP.Status


def page(client, event) -> str:
    response = client.get(event.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def rsvp_url(event) -> str:
    return reverse("events:rsvp", args=[event.slug])


# --- The list ---------------------------------------------------------------------------------


def test_event_list_upcoming_soonest_first_then_past_most_recent_first(client, db):
    now = timezone.now()
    later = EventFactory(title="Later talk", start=now + timedelta(days=9))
    soon = EventFactory(title="Soon talk", start=now + timedelta(days=1))
    old = EventFactory(title="Old talk", start=now - timedelta(days=30))
    recent = EventFactory(title="Recent talk", start=now - timedelta(days=2))
    EventFactory(title="Secret draft", state=Event.State.DRAFT, start=now + timedelta(days=2))

    body = client.get(reverse("events:event-list")).content.decode()

    order = [body.index(e.title) for e in (soon, later, recent, old)]
    assert order == sorted(order)
    assert body.index("Upcoming") < order[0]
    assert "Secret draft" not in body


def test_event_list_shows_cancelled_events_marked(client, db):
    EventFactory(title="Called off", state=Event.State.CANCELLED, cancelled_at=timezone.now())
    body = client.get(reverse("events:event-list")).content.decode()
    assert "Called off" in body
    assert "badge-cancelled" in body


def test_event_list_links_the_calendar_feed(client, db):
    body = client.get(reverse("events:event-list")).content.decode()
    assert 'href="/events/calendar.ics"' in body


@pytest.mark.parametrize("rows", [1, 30])
def test_event_list_query_count_does_not_grow(client, db, django_assert_num_queries, rows):
    now = timezone.now()
    for i in range(rows):
        for days in (i + 1, -i - 1):  # one upcoming and one past event per row
            RSVPFactory(event=EventFactory(start=now + timedelta(days=days), capacity=3))
    # One query for the upcoming events, one count and one page of past events.
    with django_assert_num_queries(3):
        assert client.get(reverse("events:event-list")).status_code == 200


# --- The event page ---------------------------------------------------------------------------


def test_event_detail_shows_what_a_visitor_needs(client, db):
    host = UserFactory(display_name="Ada Host")
    event = EventFactory(
        title="Reading: FlashAttention",
        resource_title="FlashAttention-2",
        resource_url="https://arxiv.org/abs/2307.08691",
        location="https://discord.com/channels/1/2",
        capacity=10,
    )
    event.hosts.add(host)
    RSVPFactory(event=event)

    body = page(client, event)

    assert "Reading: FlashAttention" in body
    assert "<strong>the paper</strong>" in body
    assert "Ada Host" in body
    assert 'href="https://arxiv.org/abs/2307.08691"' in body
    assert "Discord:" in body
    assert "1 going of 10" in body and "9 seats left" in body
    assert "Log in to answer" in body
    assert 'name="status"' not in body
    assert "Add to Google Calendar" in body
    assert f'href="/events/{event.slug}.ics"' in body


def test_event_detail_draft_is_not_found(client, db):
    event = EventFactory(state=Event.State.DRAFT)
    assert client.get(event.get_absolute_url()).status_code == 404
    assert client.get(f"/events/{event.slug}.ics").status_code == 404


def test_event_detail_cancelled_shows_banner_and_no_answer_buttons(member_client, db):
    event = EventFactory(state=Event.State.CANCELLED, cancelled_at=timezone.now())
    body = page(member_client, event)
    assert "banner-cancelled" in body and "Cancelled." in body
    assert 'name="status"' not in body


def test_rsvp_post_going_shows_the_answer(member_client, member):
    event = EventFactory(capacity=3)
    response = member_client.post(rsvp_url(event), {"status": "going"}, follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == event.get_absolute_url()
    assert "You are going" in body
    assert "Your answer: <strong>Going</strong>" in body
    assert "2 seats left" in body


def test_rsvp_post_going_on_full_event_shows_waiting_list_place(member_client, member):
    event = EventFactory(capacity=1)
    RSVPFactory(event=event)
    RSVPFactory(event=event, status=Status.WAITLISTED)
    body = member_client.post(rsvp_url(event), {"status": "going"}, follow=True).content.decode()
    assert "you are number 2 on the waiting list" in body
    assert "You are <strong>number 2</strong> on the waiting list" in body
    assert "Leave the waiting list" in body


def test_rsvp_post_full_event_button_says_waiting_list(member_client, member):
    event = EventFactory(capacity=1)
    RSVPFactory(event=event)
    assert "Join the waiting list" in page(member_client, event)


def test_rsvp_post_after_deadline_is_refused_with_a_message(member_client, member):
    now = timezone.now()
    event = EventFactory(start=now + timedelta(days=1), rsvp_deadline=now - timedelta(hours=1))
    body = member_client.post(rsvp_url(event), {"status": "going"}, follow=True).content.decode()
    assert "The RSVP deadline has passed." in body
    assert not event.rsvps.exists()
    assert 'name="status"' not in body


def test_rsvp_post_unknown_answer_is_refused(member_client, member):
    event = EventFactory()
    body = member_client.post(rsvp_url(event), {"status": "yes!"}, follow=True).content.decode()
    assert "Choose going, maybe or not going." in body
    assert not event.rsvps.exists()


def test_rsvp_post_on_cancelled_event_is_refused(member_client, member):
    event = EventFactory(state=Event.State.CANCELLED, cancelled_at=timezone.now())
    body = member_client.post(rsvp_url(event), {"status": "going"}, follow=True).content.decode()
    assert "This event was cancelled." in body
    assert not event.rsvps.exists()


def test_rsvp_post_anonymous_goes_to_login(client, db):
    event = EventFactory()
    response = client.post(rsvp_url(event), {"status": "going"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not event.rsvps.exists()


def test_rsvp_post_without_csrf_token_is_refused(member):
    event = EventFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post(rsvp_url(event), {"status": "going"}).status_code == 403
    assert not event.rsvps.exists()


def test_rsvp_get_is_not_allowed(member_client, member):
    event = EventFactory()
    assert member_client.get(rsvp_url(event)).status_code == 405


def test_event_detail_form_has_csrf_token_and_three_answers(member_client, member):
    body = page(member_client, EventFactory())
    assert "csrfmiddlewaretoken" in body
    for value in ("going", "maybe", "not_going"):
        assert f'value="{value}"' in body


@pytest.mark.parametrize("rows", [1, 100])
def test_event_detail_query_count_does_not_grow(client, db, django_assert_num_queries, rows):
    host, viewer = UserFactory(), UserFactory()
    event = EventFactory(capacity=50)
    event.hosts.add(host)
    for _ in range(rows):
        services.rsvp_set(event=event, user=UserFactory(), status=Status.GOING)
    services.rsvp_set(event=event, user=viewer, status=Status.MAYBE)
    client.force_login(viewer)
    # The user and the editor check (the first time: then from the cache; the session is in
    # the cache), event with its counts, hosts, the member's answer, the names going.
    with django_assert_num_queries(6):
        page(client, event)
    client.force_login(host)
    # The same, and the organiser's going and waiting lists in one query.
    with django_assert_num_queries(6):
        body = page(client, event)
    assert f"Going ({min(rows, 50)})" in body
    assert f"Waiting list ({max(rows - 50, 0)})" in body or rows <= 50


# --- Organisers -------------------------------------------------------------------------------


def test_event_detail_organiser_sees_lists_member_does_not(client, member):
    host = UserFactory()
    event = EventFactory(capacity=1)
    event.hosts.add(host)
    RSVPFactory(event=event, user=UserFactory(display_name="Grace Going"))
    RSVPFactory(
        event=event, user=UserFactory(display_name="Wally Waiting"), status=Status.WAITLISTED
    )

    client.force_login(member)
    assert "Grace Going" not in page(client, event)
    client.force_login(host)
    body = page(client, event)
    assert "Grace Going" in body and "Wally Waiting" in body
    assert "Waiting list (1)" in body


def test_attendees_csv_host_downloads_going_then_waiting(client, db):
    host = UserFactory()
    event = EventFactory(capacity=1, title="CSV talk")
    event.hosts.add(host)
    services.rsvp_set(event=event, user=UserFactory(display_name="First"), status=Status.GOING)
    services.rsvp_set(event=event, user=UserFactory(display_name="=Second"), status=Status.GOING)
    services.rsvp_set(event=event, user=UserFactory(display_name="Third"), status=Status.GOING)
    client.force_login(host)

    response = client.get(reverse("events:attendees-csv", args=[event.slug]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["event", "answer", "waiting list place", "name"]
    assert [(r[1], r[2], r[3]) for r in rows[1:]] == [
        ("Going", "", "First"),
        ("On the waiting list", "1", "'=Second"),
        ("On the waiting list", "2", "Third"),
    ]


def test_attendees_csv_member_is_forbidden_and_anonymous_must_log_in(client, member):
    event = EventFactory()
    url = reverse("events:attendees-csv", args=[event.slug])
    assert client.get(url).status_code == 302
    client.force_login(member)
    assert client.get(url).status_code == 403


def test_attendees_csv_staff_may_download(client, db):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    event = EventFactory()
    assert client.get(reverse("events:attendees-csv", args=[event.slug])).status_code == 200


def test_rsvp_changes_are_rate_limited_per_member(member_client, member, settings):
    """The outside review flipped an answer 20 times in 0.6 s; the eleventh in a minute waits."""
    cache.delete(f"ratelimit:rsvp:{member.pk}")  # a member of an earlier test may have had this id
    event = EventFactory()
    url = reverse("events:rsvp", args=[event.slug])
    statuses = [
        member_client.post(url, {"status": ["going", "not_going"][n % 2]}).status_code
        for n in range(12)
    ]
    assert statuses == [302] * 10 + [429] * 2
    assert "Too many attempts" in member_client.post(url, {"status": "going"}).content.decode()


# --- Who is going, My RSVPs and the personal calendar ----------------------------------------


def test_event_detail_members_see_names_of_those_who_allow_it(client, member):
    event = EventFactory()
    RSVPFactory(event=event, user=UserFactory(display_name="Open Olga", show_when_going=True))
    RSVPFactory(event=event, user=UserFactory(display_name="Quiet Quentin"))
    RSVPFactory(
        event=event,
        user=UserFactory(display_name="Maybe Mia", show_when_going=True),
        status=Status.MAYBE,
    )

    anonymous = page(client, event)
    client.force_login(member)
    body = page(client, event)

    assert "Open Olga" in body
    assert "Quiet Quentin" not in body and "Maybe Mia" not in body
    assert "and 1 other member." in body
    assert "Who is going" not in anonymous and "Open Olga" not in anonymous


@pytest.mark.parametrize("rows", [1, 3])
def test_event_detail_with_attendees_query_count_does_not_grow(
    client, member, django_assert_num_queries, rows
):
    event = EventFactory()
    for i in range(rows):
        RSVPFactory(event=event, user=UserFactory(show_when_going=True, display_name=f"Att {i}"))
    client.force_login(member)
    page(client, event)  # the user and the editor check are cached from here on
    # The session is in the cache: the event with its counts, hosts, the member's answer,
    # the names going.
    with django_assert_num_queries(4):
        body = page(client, event)
    assert body.count("<li>Att ") == rows


def my_rsvps(client) -> str:
    response = client.get(reverse("events:my-rsvps"))
    assert response.status_code == 200
    return response.content.decode()


def test_my_rsvps_lists_answers_upcoming_then_past(client, member):
    now = timezone.now()
    soon = EventFactory(title="Soon group", start=now + timedelta(days=1))
    later = EventFactory(title="Later group", start=now + timedelta(days=5))
    gone = EventFactory(title="Gone group", start=now - timedelta(days=3))
    draft = EventFactory(title="Draft group", state=Event.State.DRAFT)
    RSVPFactory(event=later, user=member, status=Status.MAYBE)
    RSVPFactory(event=soon, user=member)
    RSVPFactory(event=gone, user=member, status=Status.NOT_GOING)
    RSVPFactory(event=draft, user=member)
    RSVPFactory(event=EventFactory(title="Someone else's"), user=UserFactory())
    client.force_login(member)

    body = my_rsvps(client)

    assert body.index("Soon group") < body.index("Later group") < body.index("Gone group")
    assert body.index("Upcoming") < body.index("Soon group") < body.index("Past")
    assert "Maybe" in body and "Not going" in body
    assert "Draft group" not in body and "Someone else" not in body


def test_my_rsvps_asks_anonymous_visitors_to_log_in(client, db):
    response = client.get(reverse("events:my-rsvps"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("rows", [1, 3])
def test_my_rsvps_query_count_does_not_grow(client, member, django_assert_num_queries, rows):
    for _ in range(rows):
        RSVPFactory(user=member)
        RSVPFactory(user=member, event=EventFactory(start=timezone.now() - timedelta(days=9)))
    client.force_login(member)
    my_rsvps(client)
    # The session is in the cache: the answers with their events in one query.
    with django_assert_num_queries(1):
        body = my_rsvps(client)
    assert body.count("Your answer:") == 2 * rows


def test_personal_calendar_holds_the_events_the_member_goes_to(client, member):
    going = EventFactory(title="Going to this")
    maybe = EventFactory(title="Maybe this")
    other = EventFactory(title="Not mine")
    RSVPFactory(event=going, user=member)
    RSVPFactory(event=maybe, user=member, status=Status.MAYBE)
    RSVPFactory(event=other, user=UserFactory())
    client.force_login(member)

    client.post(reverse("events:my-rsvps"), {"calendar": "new"})
    member.refresh_from_db()
    assert member.calendar_token
    assert member.calendar_token in my_rsvps(client)
    client.logout()
    url = reverse("events:personal-calendar", args=[member.calendar_token])
    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    body = response.content.decode()
    assert "SUMMARY:Going to this" in body
    assert "Maybe this" not in body and "Not mine" not in body


def test_personal_calendar_new_link_retires_the_old_and_revoke_ends_it(client, member):
    client.force_login(member)
    client.post(reverse("events:my-rsvps"), {"calendar": "new"})
    member.refresh_from_db()
    first = reverse("events:personal-calendar", args=[member.calendar_token])
    client.post(reverse("events:my-rsvps"), {"calendar": "new"})
    member.refresh_from_db()
    second = reverse("events:personal-calendar", args=[member.calendar_token])

    assert first != second
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    client.post(reverse("events:my-rsvps"), {"calendar": "revoke"})
    assert client.get(second).status_code == 404
    member.refresh_from_db()
    assert member.calendar_token == ""


def test_personal_calendar_unknown_action_says_what_to_do(client, member):
    client.force_login(member)
    response = client.post(reverse("events:my-rsvps"), {"calendar": "explode"}, follow=True)
    assert "Choose to make a new calendar link or to turn it off." in response.content.decode()
    member.refresh_from_db()
    assert member.calendar_token == ""


def test_home_shows_event_times_for_the_browser_zone(client, db):
    EventFactory(title="Home group")
    body = client.get(reverse("portal:home")).content.decode()
    assert 'data-localtime="range"' in body
    assert "js/localtime.js" in body

"""RSVPs, the waiting list, deadlines, cancelling and event changes (events/services.py)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, connection
from django.utils import timezone

from events import services
from events.models import RSVP, Event
from portal.states import IllegalTransition
from tests.factories import EventFactory, RSVPFactory, UserFactory

Status = RSVP.Status


def answer(event, user, status=Status.GOING):
    return services.rsvp_set(event=event, user=user, status=status)


def statuses(event) -> dict[str, str]:
    return {r.user.username: r.status for r in event.rsvps.select_related("user")}


# --- Answers and the waiting list -------------------------------------------------------------


def test_rsvp_set_going_with_seats_left_is_going(member):
    event = EventFactory(capacity=2)
    result = answer(event, member)
    assert result.rsvp.status == Status.GOING
    assert result.place is None


def test_rsvp_set_going_when_full_joins_waiting_list_with_place(member, other_member):
    event = EventFactory(capacity=1)
    answer(event, UserFactory())
    first = answer(event, member)
    second = answer(event, other_member)
    assert (first.rsvp.status, first.place) == (Status.WAITLISTED, 1)
    assert (second.rsvp.status, second.place) == (Status.WAITLISTED, 2)


def test_rsvp_set_without_capacity_never_waitlists(db):
    event = EventFactory(capacity=None)
    results = [answer(event, UserFactory()) for _ in range(30)]
    assert {r.rsvp.status for r in results} == {Status.GOING}


def test_rsvp_set_going_twice_keeps_waiting_list_place(member):
    event = EventFactory(capacity=1)
    answer(event, UserFactory())
    answer(event, member)
    answer(event, UserFactory())
    again = answer(event, member)
    assert (again.rsvp.status, again.place) == (Status.WAITLISTED, 1)


def test_rsvp_set_one_answer_per_member(member):
    event = EventFactory()
    answer(event, member, Status.MAYBE)
    answer(event, member, Status.GOING)
    answer(event, member, Status.NOT_GOING)
    assert event.rsvps.filter(user=member).count() == 1
    assert event.rsvps.get(user=member).status == Status.NOT_GOING


def test_rsvp_database_refuses_a_second_row_per_member(member):
    event = EventFactory()
    RSVPFactory(event=event, user=member)
    with pytest.raises(IntegrityError):
        RSVPFactory(event=event, user=member, status=Status.MAYBE)


def test_rsvp_set_going_member_leaving_promotes_first_waitlisted_and_emails_them(
    member, django_capture_on_commit_callbacks
):
    event = EventFactory(capacity=1, title="Attention reading")
    first_waiting, second_waiting = UserFactory(), UserFactory()
    answer(event, member)
    answer(event, first_waiting)
    answer(event, second_waiting)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        result = answer(event, member, Status.NOT_GOING)

    assert result.promoted.user == first_waiting
    assert statuses(event) == {
        member.username: Status.NOT_GOING,
        first_waiting.username: Status.GOING,
        second_waiting.username: Status.WAITLISTED,
    }
    assert services.waitlist_place(event.rsvps.get(user=second_waiting)) == 1
    assert [m.to for m in mail.outbox] == [[first_waiting.email]]
    assert "Attention reading" in mail.outbox[0].subject
    assert "you are now going" in mail.outbox[0].body


def test_rsvp_set_going_member_to_maybe_also_frees_the_seat(member, other_member):
    event = EventFactory(capacity=1)
    answer(event, member)
    answer(event, other_member)
    answer(event, member, Status.MAYBE)
    assert event.rsvps.get(user=other_member).status == Status.GOING


def test_rsvp_set_waitlisted_member_leaving_moves_the_others_up(member):
    event = EventFactory(capacity=1)
    answer(event, UserFactory())
    answer(event, member)
    behind = UserFactory()
    answer(event, behind)
    answer(event, member, Status.NOT_GOING)
    assert services.waitlist_place(event.rsvps.get(user=behind)) == 1
    assert event.rsvps.get(user=member).waitlisted_at is None
    assert mail.outbox == []


def test_rsvp_set_waiting_list_keeps_arrival_order_across_promotions(db):
    event = EventFactory(capacity=2)
    going = [UserFactory() for _ in range(2)]
    waiting = [UserFactory() for _ in range(4)]
    for user in going + waiting:
        answer(event, user)
    answer(event, going[0], Status.NOT_GOING)
    answer(event, going[1], Status.NOT_GOING)
    assert event.rsvps.get(user=waiting[0]).status == Status.GOING
    assert event.rsvps.get(user=waiting[1]).status == Status.GOING
    places = [services.waitlist_place(event.rsvps.get(user=u)) for u in waiting[2:]]
    assert places == [1, 2]


def test_rsvp_set_member_rejoining_goes_to_the_back_of_the_list(member):
    event = EventFactory(capacity=1)
    answer(event, UserFactory())
    answer(event, member)
    later = UserFactory()
    answer(event, later)
    answer(event, member, Status.MAYBE)
    result = answer(event, member)
    assert result.place == 2
    assert services.waitlist_place(event.rsvps.get(user=later)) == 1


# --- Refusals ---------------------------------------------------------------------------------


def test_rsvp_set_after_deadline_is_refused_and_changes_nothing(member):
    now = timezone.now()
    event = EventFactory(rsvp_deadline=now - timedelta(minutes=1), start=now + timedelta(days=1))
    RSVPFactory(event=event, user=member, status=Status.MAYBE)
    with pytest.raises(services.RSVPRefused, match="deadline has passed"):
        answer(event, member, Status.GOING)
    assert event.rsvps.get(user=member).status == Status.MAYBE


def test_rsvp_set_before_deadline_is_taken(member):
    now = timezone.now()
    event = EventFactory(rsvp_deadline=now + timedelta(minutes=5), start=now + timedelta(days=1))
    assert answer(event, member).rsvp.status == Status.GOING


def test_rsvp_set_after_start_without_deadline_is_refused(member):
    now = timezone.now()
    event = EventFactory(start=now - timedelta(minutes=5), end=now + timedelta(minutes=55))
    with pytest.raises(services.RSVPRefused, match="has started"):
        answer(event, member)
    assert not event.rsvps.exists()


@pytest.mark.parametrize(
    ("state", "message"),
    [(Event.State.DRAFT, "not open"), (Event.State.CANCELLED, "was cancelled")],
)
def test_rsvp_set_on_event_not_published_is_refused(member, state, message):
    event = EventFactory(state=state, cancelled_at=timezone.now() if state == "cancelled" else None)
    with pytest.raises(services.RSVPRefused, match=message):
        answer(event, member)


def test_rsvp_set_waitlisted_is_not_an_answer_a_member_can_give(member):
    event = EventFactory()
    with pytest.raises(services.RSVPRefused):
        answer(event, member, Status.WAITLISTED)


# --- Concurrency ------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rsvp_set_concurrent_going_never_exceeds_capacity():
    event = EventFactory(capacity=5)
    users = [UserFactory() for _ in range(20)]
    barrier = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def go(user):
        try:
            barrier.wait(timeout=30)
            services.rsvp_set(event=Event(pk=event.pk), user=user, status=Status.GOING)
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert event.rsvps.filter(status=Status.GOING).count() == 5
    waiting = list(event.rsvps.filter(status=Status.WAITLISTED).order_by("waitlisted_at", "id"))
    assert len(waiting) == 15
    assert [services.waitlist_place(r) for r in waiting] == list(range(1, 16))
    # Arrival order: the order in which the answers were decided (row ids grow with it).
    assert [r.pk for r in waiting] == sorted(r.pk for r in waiting)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rsvp_set_concurrent_leaving_promotes_each_waiting_member_once():
    event = EventFactory(capacity=5)
    going = [UserFactory() for _ in range(5)]
    waiting = [UserFactory() for _ in range(8)]
    for user in going + waiting:
        services.rsvp_set(event=event, user=user, status=Status.GOING)
    barrier = threading.Barrier(len(going))

    def leave(user):
        try:
            barrier.wait(timeout=30)
            services.rsvp_set(event=Event(pk=event.pk), user=user, status=Status.NOT_GOING)
        finally:
            connection.close()

    threads = [threading.Thread(target=leave, args=(u,)) for u in going]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert set(event.rsvps.filter(status=Status.GOING).values_list("user_id", flat=True)) == {
        u.pk for u in waiting[:5]
    }
    assert event.rsvps.filter(status=Status.WAITLISTED).count() == 3
    # The five who first went were each confirmed; each promoted member is told once.
    subjects = [m.subject.split(":")[0] for m in mail.outbox]
    assert subjects.count("You have a seat") == 5
    assert subjects.count("You are going") == 5


# --- Event changes and cancelling -------------------------------------------------------------


def test_event_save_renders_description_sanitised(editor):
    event = EventFactory.build(
        slug="safe", description="Read **this**<script>alert(1)</script>", state=Event.State.DRAFT
    )
    services.event_save(event=event, by=editor)
    event.refresh_from_db()
    assert "<strong>this</strong>" in event.description_html
    assert "<script" not in event.description_html
    assert event.created_by == editor


def test_event_save_published_change_bumps_sequence(editor):
    event = EventFactory()
    assert event.sequence == 0
    event.start += timedelta(hours=1)
    event.end += timedelta(hours=1)
    services.event_save(event=event, by=editor)
    event.location = "Room 4"
    services.event_save(event=event, by=editor)
    event.refresh_from_db()
    assert event.sequence == 2


def test_event_save_draft_changes_and_saving_unchanged_keep_sequence(editor):
    event = EventFactory(state=Event.State.DRAFT)
    event.title = "New title"
    services.event_save(event=event, by=editor)
    event.state = Event.State.PUBLISHED
    services.event_save(event=event, by=editor)
    services.event_save(event=event, by=editor)
    event.refresh_from_db()
    assert event.sequence == 0


def test_event_save_published_back_to_draft_is_refused(editor):
    event = EventFactory()
    event.state = Event.State.DRAFT
    with pytest.raises(IllegalTransition, match="Cancel it instead"):
        services.event_save(event=event, by=editor)
    event.refresh_from_db()
    assert event.state == Event.State.PUBLISHED


def test_event_save_larger_capacity_promotes_waiting_members(
    editor, django_capture_on_commit_callbacks
):
    event = EventFactory(capacity=1)
    users = [UserFactory() for _ in range(4)]
    for user in users:
        answer(event, user)
    event.capacity = 3
    with django_capture_on_commit_callbacks(execute=True):
        services.event_save(event=event, by=editor)
    assert event.rsvps.filter(status=Status.GOING).count() == 3
    assert event.rsvps.get(user=users[3]).status == Status.WAITLISTED
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in users[1:3])


def test_event_cancel_emails_going_and_maybe_and_keeps_the_event(
    editor, django_capture_on_commit_callbacks
):
    event = EventFactory(capacity=1, title="Mamba night")
    going, maybe, no, waiting = (UserFactory() for _ in range(4))
    answer(event, going)
    answer(event, maybe, Status.MAYBE)
    answer(event, no, Status.NOT_GOING)
    answer(event, waiting)

    with django_capture_on_commit_callbacks(execute=True):
        services.event_cancel(event=event, by=editor)

    event.refresh_from_db()
    assert event.state == Event.State.CANCELLED
    assert event.cancelled_by == editor
    assert event.sequence == 1
    assert Event.objects.visible().filter(pk=event.pk).exists()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([going.email, maybe.email])
    assert all(m.subject == "Cancelled: Mamba night" for m in mail.outbox)


def test_event_cancel_twice_emails_once(editor, member, django_capture_on_commit_callbacks):
    event = EventFactory()
    answer(event, member)
    with django_capture_on_commit_callbacks(execute=True):
        services.event_cancel(event=event, by=editor)
        services.event_cancel(event=event, by=editor)
    assert len(mail.outbox) == 1


def test_event_save_with_state_cancelled_cancels_through_event_cancel(
    editor, member, django_capture_on_commit_callbacks
):
    event = EventFactory()
    answer(event, member, Status.MAYBE)
    event.state = Event.State.CANCELLED
    with django_capture_on_commit_callbacks(execute=True):
        services.event_save(event=event, by=editor)
    event.refresh_from_db()
    assert (event.state, event.cancelled_by) == (Event.State.CANCELLED, editor)
    assert [m.to for m in mail.outbox] == [[member.email]]


# --- The "Going" confirmation -----------------------------------------------------------------


def test_rsvp_set_going_emails_a_confirmation_with_the_ics(
    member, django_capture_on_commit_callbacks
):
    event = EventFactory(title="Sparse attention night")
    with django_capture_on_commit_callbacks(execute=True):
        answer(event, member)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [member.email]
    assert message.subject == "You are going: Sparse attention night"
    ((name, content, mimetype),) = message.attachments
    assert name == f"{event.slug}.ics"
    assert mimetype.startswith("text/calendar")
    assert "SUMMARY:Sparse attention night" in content


def test_rsvp_set_maybe_or_waitlisted_sends_no_confirmation(
    member, other_member, django_capture_on_commit_callbacks
):
    event = EventFactory(capacity=1)
    with django_capture_on_commit_callbacks(execute=True):
        answer(EventFactory(), member, Status.MAYBE)
        answer(event, UserFactory(email=""))
        answer(event, other_member)  # waiting list
    assert mail.outbox == []


def test_rsvp_set_going_twice_confirms_once(member, django_capture_on_commit_callbacks):
    event = EventFactory()
    with django_capture_on_commit_callbacks(execute=True):
        answer(event, member)
        answer(event, member)
    assert len(mail.outbox) == 1


def test_going_email_send_missing_or_changed_answer_sends_nothing(member):
    from events.tasks import send_going_email

    send_going_email(rsvp_id=0)
    rsvp = RSVPFactory(user=member, status=Status.NOT_GOING)
    send_going_email(rsvp_id=rsvp.pk)
    assert mail.outbox == []


def test_reminder_emails_skip_members_who_turned_them_off(db):
    event = EventFactory(start=timezone.now() + timedelta(minutes=30))
    keen, quiet = UserFactory(), UserFactory(email_reminders=False)
    RSVPFactory(event=event, user=keen)
    RSVPFactory(event=event, user=quiet)
    reminder = event.reminders.create(lead_minutes=60)
    services.reminder_emails_send(reminder_id=reminder.pk)
    assert [m.to for m in mail.outbox] == [[keen.email]]

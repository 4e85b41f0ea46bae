"""Reminders before events: posted to Discord and emailed to members going, each exactly once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from events import services, tasks
from events.models import RSVP, Event, Reminder
from tests.factories import EventFactory, RSVPFactory, UserFactory
from tests.workers import wait_until

Status = RSVP.Status


def event_in(minutes: float, **kwargs) -> Event:
    start = timezone.now().replace(microsecond=0) + timedelta(minutes=minutes)
    return EventFactory(start=start, end=start + timedelta(hours=1), **kwargs)


# --- Which reminders are due ------------------------------------------------------------------


def test_reminders_due_day_before_gets_the_24_hour_reminder(db):
    event = event_in(23 * 60)
    assert services.reminders_due() == [(event, 1440)]


def test_reminders_due_published_late_gets_only_the_hour_reminder(db):
    event = event_in(30)
    assert services.reminders_due() == [(event, 60)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"state": Event.State.DRAFT},
        {"state": Event.State.CANCELLED, "cancelled_at": datetime(2030, 1, 1, tzinfo=UTC)},
    ],
)
def test_reminders_due_not_for_drafts_or_cancelled(db, kwargs):
    event_in(30, **kwargs)
    assert services.reminders_due() == []


def test_reminders_due_none_far_ahead_or_started(db):
    event_in(3 * 24 * 60)
    event_in(-5)
    assert services.reminders_due() == []


def test_reminders_due_skips_hour_reminder_right_after_the_day_one(db):
    event = event_in(61)
    services.reminder_send(event=event, lead=1440)
    later = timezone.now() + timedelta(minutes=2)
    assert services.reminders_due(now=later) == []


def test_reminders_due_follows_the_setting(db, settings):
    settings.EVENT_REMINDER_LEADS = [15]
    event_in(60)
    soon = event_in(10)
    assert services.reminders_due() == [(soon, 15)]


# --- Sending ----------------------------------------------------------------------------------


def test_send_due_reminders_twice_posts_and_emails_once(
    discord_settings, reminder_channel, django_capture_on_commit_callbacks
):
    event = event_in(45, title="Reading: RWKV")
    going, maybe = UserFactory(), UserFactory()
    RSVPFactory(event=event, user=going)
    RSVPFactory(event=event, user=maybe, status=Status.MAYBE)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_due_reminders() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_due_reminders() == 0

    assert Reminder.objects.filter(event=event).count() == 1
    assert len(discord_settings.posts) == 1
    assert [m.to for m in mail.outbox] == [[going.email]]
    assert Reminder.objects.get().emails_sent_at is not None


def test_reminder_discord_message_has_timestamps_and_no_pings(
    discord_settings, reminder_channel, django_capture_on_commit_callbacks
):
    event = event_in(45, title="@everyone Reading *group*", resource_title="RWKV")
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_due_reminders()

    (content,) = discord_settings.contents()
    unix = int(event.start.timestamp())
    assert f"<t:{unix}:F>" in content
    assert f"<t:{unix}:R>" in content
    assert "@everyone" not in content
    assert "Reading \\*group\\*" in content
    assert f"/events/{event.slug}/" in content
    assert discord_settings.posts[0]["allowed_mentions"] == {"parse": []}


def test_reminder_only_to_channels_that_take_reminders(
    discord_settings, reminder_channel, django_capture_on_commit_callbacks
):
    from newsletter.models import DiscordChannel

    DiscordChannel.objects.create(
        name="issues-only", webhook_id="222", webhook_token="t" * 30, receives_reminders=False
    )
    DiscordChannel.objects.create(
        name="switched-off",
        webhook_id="333",
        webhook_token="u" * 30,
        receives_reminders=True,
        active=False,
    )
    event_in(45)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_due_reminders()
    assert [p["path"].split("?")[0] for p in discord_settings.posts] == [
        "/api/v10/webhooks/111/secret-token-abcd"
    ]


def test_reminder_email_shows_the_members_own_time(db, django_capture_on_commit_callbacks):
    start = (timezone.now() + timedelta(minutes=40)).replace(second=0, microsecond=0)
    event = EventFactory(start=start, end=start + timedelta(hours=1), title="Zoned")
    member = UserFactory(timezone="Asia/Kolkata")
    RSVPFactory(event=event, user=member)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_due_reminders()
    local = start.astimezone(ZoneInfo("Asia/Kolkata"))
    (email,) = mail.outbox
    assert f"{local:%H:%M} IST" in email.subject
    assert "Asia/Kolkata" in email.body


def test_reminder_after_the_start_moves_is_sent_again(
    discord_settings, reminder_channel, editor, django_capture_on_commit_callbacks
):
    event = event_in(45)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_due_reminders()
    event.start -= timedelta(minutes=10)
    event.end -= timedelta(minutes=10)
    with django_capture_on_commit_callbacks(execute=True):
        services.event_save(event=event, by=editor)
        tasks.send_due_reminders()
    assert len(discord_settings.posts) == 2
    assert f"<t:{int(event.start.timestamp())}:F>" in discord_settings.contents()[1]


@pytest.mark.parametrize(
    ("task", "kwargs"),
    [
        (tasks.send_reminder_emails, {"reminder_id": 987654}),
        (tasks.send_promotion_email, {"rsvp_id": 987654}),
        (tasks.send_cancellation_emails, {"event_id": 987654}),
    ],
)
def test_email_tasks_with_missing_rows_return_quietly(db, task, kwargs):
    assert task(**kwargs) is None
    assert mail.outbox == []


def test_send_reminder_emails_run_twice_emails_once(db):
    event = event_in(30)
    RSVPFactory(event=event)
    reminder = Reminder.objects.create(event=event, lead_minutes=60)
    tasks.send_reminder_emails(reminder_id=reminder.pk)
    tasks.send_reminder_emails(reminder_id=reminder.pk)
    assert len(mail.outbox) == 1


def test_send_due_reminders_requeues_emails_a_dead_worker_left(
    db, django_capture_on_commit_callbacks
):
    event = event_in(30)
    RSVPFactory(event=event)
    Reminder.objects.create(
        event=event, lead_minutes=60, created_at=timezone.now() - timedelta(minutes=10)
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_due_reminders()
    assert len(mail.outbox) == 1
    assert Reminder.objects.get().emails_sent_at is not None


# --- Through a real worker --------------------------------------------------------------------


@pytest.fixture
def worker_with_discord(discord_settings, reminder_channel, celery_worker):
    """A real worker whose DISCORD_API_BASE is the stand-in (set before the worker starts)."""
    yield celery_worker
    # Stopped here so its output pipe can be closed (the worker fixture leaves it open).
    celery_worker.stop()
    for thread in threading.enumerate():
        if thread.name.endswith("(_read)"):  # the worker's output reader, now at its end
            thread.join(10)
    if celery_worker.proc and celery_worker.proc.stdout:
        celery_worker.proc.stdout.close()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_reminder_through_a_real_worker_is_posted_and_emailed_once(
    discord_settings, worker_with_discord
):
    event = event_in(45)
    RSVPFactory(event=event)

    # Beat firing twice in a row, both runs queued to the worker.
    tasks.send_due_reminders.delay()
    tasks.send_due_reminders.delay()

    wait_until(
        lambda: Reminder.objects.filter(event=event, emails_sent_at__isnull=False).exists(),
        timeout=30,
        message="the reminder emails were not sent",
    )
    wait_until(lambda: len(discord_settings.posts) >= 1, timeout=30, message="nothing posted")
    time.sleep(2)  # room for a duplicate to show up, were there one
    assert len(discord_settings.posts) == 1
    assert Reminder.objects.filter(event=event).count() == 1


def test_reminder_email_subject_and_body_are_plain_text(db, django_capture_on_commit_callbacks):
    start = (timezone.now() + timedelta(minutes=40)).replace(second=0, microsecond=0)
    event = EventFactory(start=start, end=start + timedelta(hours=1), title="<b>Q&A</b> night")
    RSVPFactory(event=event, user=UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_due_reminders()
    (email,) = mail.outbox
    assert "<b>Q&A</b> night" in email.subject
    assert "&lt;" not in email.subject and "&amp;" not in email.body

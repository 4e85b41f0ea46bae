"""Delivering to Discord: every message once, in order, and editors told what went wrong.

Each test reads what the local Discord stand-in received, not which functions ran.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from newsletter.models import Delivery, DeliveryMessage, Submission
from newsletter.services.compose import issue_item_add
from newsletter.services.corrections import deliveries_correct_for_issue, delivery_correct
from newsletter.services.delivery import (
    DeliveryBusy,
    deliveries_create_for_issue,
    deliveries_with_progress,
    delivery_create,
    delivery_retry,
    delivery_sweep,
)
from newsletter.services.delivery_run import delivery_send
from newsletter.services.issues import issue_create
from newsletter.tasks.delivery import deliver, sweep_deliveries
from tests.factories import EditorFactory, PublishedIssueFactory, SubmissionFactory
from tests.stubs.discord import discord_server, make_channel  # noqa: F401  (fixture)
from tests.workers import wait_until

Message = DeliveryMessage.State


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.DISCORD_RETRY_BACKOFF = 0.01
    settings.DISCORD_HTTP_TIMEOUT = 2.0
    settings.DISCORD_RETRY_LIMIT = 4


def texts(count: int, prefix: str = "Message") -> list[str]:
    return [
        f"{prefix} {number}: **bold** [link](https://example.org/{number})"
        for number in range(count)
    ]


def create(channel, contents, key="test-subject", capture=None):
    """Create a delivery the way publishing does: sending starts when the transaction commits."""
    with capture(execute=True):
        return delivery_create(channel=channel, key=key, contents=contents)


def hook_of(server, channel):
    return server.hooks[channel.webhook_id]


# --- creating ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_delivery_create_posts_every_message_in_order_after_commit(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    channel = make_channel(discord_server)
    contents = texts(3)

    delivery = create(channel, contents, capture=django_capture_on_commit_callbacks)

    assert discord_server.contents(hook_of(discord_server, channel)) == contents
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT
    assert delivery.finished_at is not None
    rows = list(delivery.messages.all())
    assert [m.state for m in rows] == [Message.SENT] * 3
    assert [m.discord_message_id for m in rows] == [
        m.id for m in discord_server.posted(hook_of(discord_server, channel))
    ]
    assert [m.attempts for m in rows] == [1, 1, 1]


@pytest.mark.django_db
def test_delivery_create_sends_nothing_until_commit(discord_server):  # noqa: F811
    channel = make_channel(discord_server)

    delivery_create(channel=channel, key="k", contents=texts(2))

    assert discord_server.contents() == []


@pytest.mark.django_db
def test_delivery_create_twice_with_the_same_key_sends_once(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    channel = make_channel(discord_server)
    first = create(
        channel, texts(2), key="reminder:event:5:60", capture=django_capture_on_commit_callbacks
    )

    second = create(
        channel, texts(2), key="reminder:event:5:60", capture=django_capture_on_commit_callbacks
    )

    assert first is not None
    assert second is None
    assert Delivery.objects.count() == 1
    assert len(discord_server.contents()) == 2


@pytest.mark.django_db
def test_delivery_create_drops_blank_messages_and_refuses_empty(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    channel = make_channel(discord_server)

    assert create(channel, ["", "  \n"], capture=django_capture_on_commit_callbacks) is None
    delivery = create(
        channel, ["one", " ", "two"], key="k2", capture=django_capture_on_commit_callbacks
    )

    assert list(delivery.messages.values_list("position", "content")) == [(0, "one"), (1, "two")]
    assert discord_server.contents() == ["one", "two"]


@pytest.mark.django_db
def test_deliveries_create_for_issue_goes_to_active_issue_channels_only(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from newsletter.rendering import issue_discord_messages

    issue = PublishedIssueFactory()
    news = make_channel(discord_server, name="news")
    also = make_channel(discord_server, name="also news")
    make_channel(discord_server, name="off", active=False)
    make_channel(discord_server, name="events only", receives_issues=False, receives_reminders=True)

    with django_capture_on_commit_callbacks(execute=True):
        deliveries = deliveries_create_for_issue(issue=issue)

    expected = issue_discord_messages(issue)
    assert expected
    assert sorted(d.channel.name for d in deliveries) == ["also news", "news"]
    assert {d.key for d in deliveries} == {f"issue:{issue.pk}"}
    assert discord_server.contents(hook_of(discord_server, news)) == expected
    assert discord_server.contents(hook_of(discord_server, also)) == expected
    assert len(discord_server.contents()) == 2 * len(expected)


@pytest.mark.django_db
def test_deliveries_create_for_issue_twice_sends_once(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    issue = PublishedIssueFactory()
    make_channel(discord_server)
    with django_capture_on_commit_callbacks(execute=True):
        deliveries_create_for_issue(issue=issue)
    sent = len(discord_server.contents())

    with django_capture_on_commit_callbacks(execute=True):
        again = deliveries_create_for_issue(issue=issue)

    assert again == []
    assert len(discord_server.contents()) == sent


# --- sending exactly once ------------------------------------------------------------------------


def pending_delivery(channel, contents, key="k"):
    """A delivery recorded but not sent: as a crash or a down broker leaves it."""
    delivery = Delivery.objects.create(channel=channel, key=key)
    DeliveryMessage.objects.bulk_create(
        DeliveryMessage(delivery=delivery, position=n, content=text)
        for n, text in enumerate(contents)
    )
    return delivery


@pytest.mark.django_db
def test_delivery_send_again_posts_nothing_twice(discord_server):  # noqa: F811
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(3))

    delivery_send(delivery_id=delivery.pk)
    again = delivery_send(delivery_id=delivery.pk)
    deliver(delivery_id=delivery.pk)

    assert again is None
    assert discord_server.contents() == texts(3)


@pytest.mark.django_db
def test_delivery_send_resumes_after_the_last_message_with_an_id(discord_server):  # noqa: F811
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(4))
    # A worker posted the first two and died.
    delivery.messages.filter(position__lt=2).update(
        state=Message.SENT, discord_message_id="1111", attempts=1, sent_at=timezone.now()
    )
    delivery.state = Delivery.State.SENDING
    delivery.save()

    delivery_send(delivery_id=delivery.pk)

    assert discord_server.contents() == texts(4)[2:]
    assert set(delivery.messages.values_list("state", flat=True)) == {Message.SENT}


@pytest.mark.django_db
def test_a_delivery_waits_for_an_earlier_one_to_its_channel_then_follows_it(
    discord_server,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    settings.DISCORD_SWEEP_AFTER = 0
    channel = make_channel(discord_server)
    other_channel = make_channel(discord_server)
    older = pending_delivery(channel, texts(2, "Older"), key="issue:1")
    newer = pending_delivery(channel, texts(2, "Newer"), key="issue:2")
    elsewhere = pending_delivery(other_channel, texts(1, "Elsewhere"), key="issue:2")

    assert delivery_send(delivery_id=newer.pk) is None
    assert discord_server.contents() == []
    assert deliveries_with_progress().get(pk=newer.pk).waiting is True
    assert deliveries_with_progress().get(pk=elsewhere.pk).waiting is False
    # The sweeper leaves the waiting one to the run that finishes the one before it.
    with django_capture_on_commit_callbacks() as queued:
        assert delivery_sweep() == 2
    assert len(queued) == 2

    with django_capture_on_commit_callbacks(execute=True):
        delivery_send(delivery_id=older.pk)

    assert discord_server.contents(hook_of(discord_server, channel)) == (
        texts(2, "Older") + texts(2, "Newer")
    )
    assert Delivery.objects.get(pk=newer.pk).state == Delivery.State.SENT


@pytest.mark.django_db
def test_a_test_message_neither_waits_for_nor_holds_back_the_channels_deliveries(
    discord_server,  # noqa: F811
):
    from newsletter.services.channels import channel_send_test

    channel = make_channel(discord_server)
    unfinished = pending_delivery(channel, ["the issue"], key="issue:1")  # waits for the sweeper

    test = channel_send_test(channel=channel)
    delivery_send(delivery_id=unfinished.pk)

    assert test.state == Delivery.State.SENT
    assert discord_server.contents()[1:] == ["the issue"]
    assert Delivery.objects.get(pk=unfinished.pk).state == Delivery.State.SENT


@pytest.mark.django_db
def test_a_message_with_an_id_is_never_posted_even_if_marked_pending(discord_server):  # noqa: F811
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(2))
    delivery.messages.filter(position=0).update(discord_message_id="2222")

    delivery_send(delivery_id=delivery.pk)

    assert discord_server.contents() == texts(2)[1:]


@pytest.mark.django_db
def test_an_unanswered_attempt_is_posted_again_and_flagged(discord_server):  # noqa: F811
    """The documented trade-off: no answer means maybe posted; we re-post and say so."""
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(2))
    delivery.messages.filter(position=0).update(attempts=1, awaiting_answer=True)

    delivery_send(delivery_id=delivery.pk)

    first, second = delivery.messages.all()
    assert first.maybe_duplicate is True
    assert second.maybe_duplicate is False
    assert first.attempts == 2
    assert discord_server.contents() == texts(2)


@pytest.mark.django_db
def test_a_timed_out_post_is_posted_again_and_flagged(discord_server, settings):  # noqa: F811
    settings.DISCORD_HTTP_TIMEOUT = 0.5
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(2))
    discord_server.slow_next = 1
    discord_server.slow_seconds = 1.0

    delivery_send(delivery_id=delivery.pk)

    # Discord stored the slow one, then the re-post: this is the duplicate editors are told of.
    assert discord_server.contents() == [texts(2)[0], texts(2)[0], texts(2)[1]]
    first = delivery.messages.get(position=0)
    assert first.state == Message.SENT
    assert first.maybe_duplicate is True
    assert deliveries_with_progress().get(pk=delivery.pk).duplicate_count == 1


@pytest.mark.django_db
def test_temporary_failures_are_retried_and_sent_once(discord_server):  # noqa: F811
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(3))
    discord_server.fail_next = 2

    delivery_send(delivery_id=delivery.pk)

    assert discord_server.contents() == texts(3)
    assert discord_server.count(503) == 2
    assert list(delivery.messages.values_list("attempts", flat=True)) == [3, 1, 1]
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT


@pytest.mark.django_db
def test_every_third_answer_5xx_still_delivers_everything_once(discord_server):  # noqa: F811
    discord_server.bucket_size = 100
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(12))
    discord_server.fail_every = 3

    delivery_send(delivery_id=delivery.pk)

    assert discord_server.contents() == texts(12)
    assert discord_server.count(503) >= 5


@pytest.mark.django_db
def test_a_long_outage_waits_for_the_sweeper_then_finishes(
    discord_server,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(2))
    discord_server.fail_next = 100

    delivery_send(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING
    assert "Message 1 of 2: Discord had an error (503" in delivery.last_error
    assert "Trying again in about 15 seconds" in delivery.last_error
    assert discord_server.contents() == []

    discord_server.fail_next = 0
    settings.DISCORD_SWEEP_AFTER = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_sweep() == 1

    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT
    assert discord_server.contents() == texts(2)


@pytest.mark.django_db
def test_a_message_that_keeps_failing_fails_for_good(discord_server, settings):  # noqa: F811
    settings.DISCORD_MAX_ATTEMPTS = 3
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(2))
    discord_server.fail_next = 100

    delivery_send(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED
    assert delivery.last_error.startswith("Message 1 of 2: Gave up after 3 attempts.")
    assert delivery.messages.get(position=0).state == Message.FAILED


@pytest.mark.django_db
def test_a_429_is_waited_out_even_when_not_json(discord_server):  # noqa: F811
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(2))
    discord_server.force_429_next = 1
    discord_server.html_429 = True

    delivery_send(delivery_id=delivery.pk)

    assert discord_server.contents() == texts(2)
    assert discord_server.count(429) == 1


@pytest.mark.django_db
def test_pacing_by_rate_limit_headers_sends_twelve_without_a_429(discord_server):  # noqa: F811
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(12))

    delivery_send(delivery_id=delivery.pk)

    assert discord_server.contents() == texts(12)
    assert discord_server.count(429) == 0


# --- permanent failures --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_deleted_webhook_switches_the_channel_off_and_tells_the_editors(
    discord_server,  # noqa: F811
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    editor = EditorFactory()
    channel = make_channel(discord_server, name="news")
    hook = hook_of(discord_server, channel)
    discord_server.delete_webhook_after(hook, 2)

    delivery = create(channel, texts(4), capture=django_capture_on_commit_callbacks)

    assert discord_server.contents() == texts(4)[:2]
    delivery.refresh_from_db()
    channel.refresh_from_db()
    assert channel.active is False
    assert "no longer knows this webhook" in channel.deactivated_reason
    assert delivery.state == Delivery.State.FAILED
    assert "no longer knows this webhook" in delivery.last_error
    assert list(delivery.messages.values_list("state", flat=True)) == [
        Message.SENT,
        Message.SENT,
        Message.PENDING,
        Message.PENDING,
    ]
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [editor.email]
    assert "“news” was switched off" in mailoutbox[0].subject
    assert "no longer knows this webhook" in mailoutbox[0].body
    for text in (mailoutbox[0].body, channel.deactivated_reason, delivery.last_error):
        assert hook.token not in text


@pytest.mark.django_db
def test_a_switched_off_channel_fails_its_deliveries_with_the_reason(discord_server):  # noqa: F811
    channel = make_channel(discord_server, active=False, deactivated_reason="Webhook deleted.")
    delivery = pending_delivery(channel, texts(1))

    delivery_send(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED
    assert "switched off: Webhook deleted." in delivery.last_error
    assert discord_server.contents() == []


@pytest.mark.django_db
def test_a_refused_message_fails_with_discords_reason_and_stops_the_delivery(
    discord_server,  # noqa: F811
):
    channel = make_channel(discord_server)
    contents = ["first", "x" * 2001, "third"]
    delivery = pending_delivery(channel, contents)

    delivery_send(delivery_id=delivery.pk)

    assert discord_server.contents() == ["first"]
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED
    assert delivery.last_error == (
        "Message 2 of 3: Discord refused the message: 400 Invalid Form Body "
        "(content: Must be 2000 or fewer in length.) (code 50035)."
    )
    assert list(delivery.messages.values_list("state", flat=True)) == [
        Message.SENT,
        Message.FAILED,
        Message.PENDING,
    ]
    channel.refresh_from_db()
    assert channel.active is True


@pytest.mark.django_db
def test_retry_failed_sends_the_rest_in_order(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, ["first", "x" * 2001, "third"])
    delivery_send(delivery_id=delivery.pk)
    DeliveryMessage.objects.filter(delivery=delivery, position=1).update(content="second")
    delivery.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_retry(delivery=delivery) is True

    assert discord_server.contents() == ["first", "second", "third"]
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT
    assert delivery.last_error == ""


@pytest.mark.django_db
def test_retry_on_a_switched_off_channel_says_what_to_do(discord_server):  # noqa: F811
    channel = make_channel(discord_server, active=False)
    delivery = pending_delivery(channel, texts(1))
    delivery.state = Delivery.State.FAILED
    delivery.save()

    with pytest.raises(ValueError, match="switched off"):
        delivery_retry(delivery=delivery)


# --- corrections ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_correction_edits_in_place_and_posts_at_the_end(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    channel = make_channel(discord_server)
    hook = hook_of(discord_server, channel)
    delivery = create(channel, ["one", "two", "three"], capture=django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        correction = delivery_correct(
            delivery=delivery, contents=["one", "two, corrected", "three", "four"]
        )

    assert (correction.edits, correction.posts, correction.deletes) == (1, 1, 0)
    assert discord_server.visible(hook) == ["one", "two, corrected", "three", "four"]
    assert [m.method for m in discord_server.requests] == ["POST"] * 3 + ["PATCH", "POST"]
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT


@pytest.mark.django_db
def test_a_shorter_correction_deletes_the_extra_messages(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    channel = make_channel(discord_server)
    hook = hook_of(discord_server, channel)
    delivery = create(channel, ["one", "two", "three"], capture=django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        correction = delivery_correct(delivery=delivery, contents=["one and two"])

    assert str(correction) == "1 to edit, 2 to delete"
    assert discord_server.visible(hook) == ["one and two"]
    progress = deliveries_with_progress().get(pk=delivery.pk)
    assert (progress.sent_count, progress.total_count) == (1, 1)

    with django_capture_on_commit_callbacks(execute=True):
        again = delivery_correct(delivery=delivery, contents=["one and two", "back"])
    assert (again.edits, again.posts, again.deletes) == (0, 1, 0)
    assert discord_server.visible(hook) == ["one and two", "back"]


@pytest.mark.django_db
def test_an_unchanged_correction_sends_nothing(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    channel = make_channel(discord_server)
    delivery = create(channel, ["one"], capture=django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        correction = delivery_correct(delivery=delivery, contents=["one"])

    assert correction.changed is False
    assert len(discord_server.requests) == 1


@pytest.mark.django_db
def test_a_correction_while_sending_is_refused(discord_server):  # noqa: F811
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, ["one"])
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.SENDING,
        lease_token="x",
        lease_expires_at=timezone.now() + timedelta(minutes=1),
    )

    with pytest.raises(DeliveryBusy):
        delivery_correct(delivery=delivery, contents=["two"])

    assert delivery.messages.get().content == "one"


@pytest.mark.django_db
def test_update_on_discord_for_a_corrected_issue(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from newsletter.rendering import issue_discord_messages

    issue = PublishedIssueFactory(introduction="Before the correction.")
    channel = make_channel(discord_server)
    with django_capture_on_commit_callbacks(execute=True):
        deliveries_create_for_issue(issue=issue)
    issue.introduction = "After the correction."
    issue.save()

    with django_capture_on_commit_callbacks(execute=True):
        [(delivery, correction)] = deliveries_correct_for_issue(issue=issue)

    assert correction.changed
    assert discord_server.visible(hook_of(discord_server, channel)) == issue_discord_messages(issue)
    assert "After the correction." in "".join(discord_server.visible())


@pytest.mark.django_db
def test_a_correction_posts_again_a_message_deleted_in_discord_and_says_so(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    channel = make_channel(discord_server)
    hook = hook_of(discord_server, channel)
    delivery = create(channel, ["one", "two", "three"], capture=django_capture_on_commit_callbacks)
    deleted_id = delivery.messages.get(position=1).discord_message_id
    discord_server.messages[1].deleted = True  # someone deleted it in Discord

    with django_capture_on_commit_callbacks(execute=True):
        delivery_correct(delivery=delivery, contents=["one", "two, corrected", "three, corrected"])

    # It cannot be edited, so it is posted again: after the messages that followed it.
    assert discord_server.visible(hook) == ["one", "three, corrected", "two, corrected"]
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT
    assert delivery.last_error == "Message 2 was deleted in Discord and was posted again."
    second = delivery.messages.get(position=1)
    assert second.state == Message.SENT
    assert second.reposted_at is not None
    assert second.discord_message_id == discord_server.posted(hook)[-1].id != deleted_id
    assert second.maybe_duplicate is False

    # Corrected once more, the new message is edited in place like any other.
    with django_capture_on_commit_callbacks(execute=True):
        delivery_correct(delivery=delivery, contents=["one", "two, again", "three, corrected"])

    assert discord_server.visible(hook) == ["one", "three, corrected", "two, again"]
    delivery.refresh_from_db()
    assert delivery.last_error == ""
    assert delivery.messages.get(position=1).reposted_at is None


# --- sweeper and tasks ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_sweep_requeues_only_stalled_deliveries(
    discord_server,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    settings.DISCORD_SWEEP_AFTER = 300
    # A channel each: deliveries to one channel go one after the other (tested elsewhere).
    stalled, fresh, leased, done = (
        pending_delivery(make_channel(discord_server), [key], key=key)
        for key in ("stalled", "fresh", "leased", "done")
    )
    old = timezone.now() - timedelta(minutes=10)
    Delivery.objects.filter(pk__in=[stalled.pk, leased.pk, done.pk]).update(updated_at=old)
    Delivery.objects.filter(pk=leased.pk).update(
        state=Delivery.State.SENDING,
        lease_token="x",
        lease_expires_at=timezone.now() + timedelta(minutes=1),
    )
    Delivery.objects.filter(pk=done.pk).update(state=Delivery.State.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        queued = sweep_deliveries()

    assert queued == 1
    assert discord_server.contents() == ["stalled"]
    assert Delivery.objects.get(pk=fresh.pk).state == Delivery.State.PENDING


@pytest.mark.django_db
def test_sweep_picks_up_a_run_whose_lease_expired(
    discord_server,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    settings.DISCORD_SWEEP_AFTER = 60
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(2))
    # A worker took it, posted nothing, and was killed.
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.SENDING,
        lease_token="dead",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        updated_at=timezone.now() - timedelta(minutes=2),
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_sweep() == 1

    assert discord_server.contents() == texts(2)


@pytest.mark.django_db
def test_sweep_queues_at_once_a_delivery_that_could_not_be_queued(
    discord_server,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    settings.DISCORD_SWEEP_AFTER = 300
    channel = make_channel(discord_server)
    lost = pending_delivery(channel, ["lost"], key="lost")
    fresh = pending_delivery(make_channel(discord_server), ["fresh"], key="fresh")
    Delivery.objects.filter(pk=lost.pk).update(queue_failed_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_sweep() == 1

    assert discord_server.contents() == ["lost"]
    lost.refresh_from_db()
    assert (lost.state, lost.queue_failed_at) == (Delivery.State.SENT, None)
    assert Delivery.objects.get(pk=fresh.pk).state == Delivery.State.PENDING


@pytest.mark.django_db
def test_sweep_leaves_a_delivery_alone_until_its_next_attempt_is_well_past(
    discord_server,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    settings.DISCORD_SWEEP_AFTER = 20
    delivery = pending_delivery(make_channel(discord_server), ["later"])
    long_ago = timezone.now() - timedelta(minutes=5)
    # Its run ended for a backoff and queued the next one for a minute from now.
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.SENDING,
        updated_at=long_ago,
        next_attempt_at=timezone.now() + timedelta(minutes=1),
    )
    assert delivery_sweep() == 0

    # That continuation never ran (its worker died): the sweeper takes over.
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_sweep() == 1
    assert discord_server.contents() == ["later"]


@pytest.mark.django_db
def test_a_run_that_cannot_be_queued_is_recorded_on_the_delivery(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from portal.celery import app as celery_app
    from tests.workers import reset_broker

    reset_broker("redis://127.0.0.1:9/0")  # nothing listens there: the broker is unreachable
    celery_app.conf.task_always_eager = False
    channel = make_channel(discord_server)

    with django_capture_on_commit_callbacks(execute=True):
        delivery = delivery_create(channel=channel, key="k", contents=["one"])

    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING
    assert delivery.queue_failed_at is not None
    assert discord_server.contents() == []


def test_recovery_settings_resume_a_killed_workers_delivery_within_half_a_minute(settings):
    """Production defaults: a lease outlasts a request, yet expires soon after its run died,
    and the sweeper looks often enough to take over within 30 s."""
    from newsletter.services.delivery_run import _lease_seconds, _renew_after, _request_seconds
    from portal import settings as production

    for name in ("DISCORD_HTTP_TIMEOUT", "DISCORD_DELIVERY_LEASE", "DISCORD_SWEEP_AFTER"):
        setattr(settings, name, getattr(production, name))
    sweep = production.CELERY_BEAT_SCHEDULE["sweep-stalled-deliveries"]["schedule"]
    lease = production.DISCORD_DELIVERY_LEASE
    assert _lease_seconds() == lease > _request_seconds() + 1
    assert _renew_after() > 0
    assert max(lease, production.DISCORD_SWEEP_AFTER) + sweep.total_seconds() <= 30


@pytest.mark.django_db
def test_tasks_return_quietly_for_a_missing_delivery():
    assert deliver(delivery_id=987654) is None
    assert sweep_deliveries() == 0


# --- concurrency and the real worker -------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_post_each_message_once(discord_server):  # noqa: F811
    discord_server.bucket_size = 100
    discord_server.delay = 0.02
    channel = make_channel(discord_server)
    delivery = pending_delivery(channel, texts(8))
    start = threading.Barrier(4)

    def run():
        try:
            start.wait()
            delivery_send(delivery_id=delivery.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert discord_server.contents() == texts(8)
    assert Delivery.objects.get(pk=delivery.pk).state == Delivery.State.SENT


def publishable_issue(items: int):
    issue = issue_create(title="What happened in May", introduction="Hello @everyone!")
    for number in range(items):
        submission = SubmissionFactory(
            state=Submission.State.ACCEPTED,
            title=f"Paper {number} on efficient training",
            summary="A summary that is long enough to matter. " * 6,
        )
        issue_item_add(issue=issue, submission=submission)
    return issue


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_publishing_delivers_every_message_once_in_order_through_a_real_worker(
    discord_server,  # noqa: F811
    celery_worker,
    settings,
):
    """End to end: publish, Redis, a real worker, the stand-in's record."""
    from newsletter.rendering import issue_discord_messages
    from newsletter.services.issues import issue_publish

    settings.DISCORD_MESSAGE_LIMIT = 500  # more messages, so pacing and order matter
    first = make_channel(discord_server, name="first")
    second = make_channel(discord_server, name="second")
    issue = publishable_issue(10)

    issue_publish(issue=issue, actor=EditorFactory())

    expected = issue_discord_messages(issue)
    assert len(expected) > 5
    wait_until(
        lambda: Delivery.objects.filter(state=Delivery.State.SENT).count() == 2,
        timeout=60,
        message="the worker did not deliver both channels",
    )
    for channel in (first, second):
        posted = discord_server.posted(hook_of(discord_server, channel))
        assert [m.content for m in posted] == expected
        assert all(0 < len(m.content) <= 500 for m in posted)
        assert len({m.id for m in posted}) == len(expected)
        assert all(m.body["allowed_mentions"] == {"parse": []} for m in posted)
    assert discord_server.count(429) == 0
    stored = DeliveryMessage.objects.filter(delivery__channel=first).order_by("position")
    assert [m.discord_message_id for m in stored] == [
        m.id for m in discord_server.posted(hook_of(discord_server, first))
    ]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_single_worker_process_delivers_three_channels_in_parallel(discord_server):  # noqa: F811
    """A run that must wait for its rate-limit window hands the process to other channels."""
    from portal.celery import app as celery_app
    from tests.workers import WorkerProcess

    channels = [make_channel(discord_server, name=f"channel {n}") for n in range(3)]
    celery_app.conf.task_always_eager = False
    worker = WorkerProcess(concurrency=1, extra_env={"DISCORD_API_BASE": discord_server.api_base})
    worker.start()
    try:
        started = time.monotonic()
        for channel in channels:
            delivery_create(channel=channel, key="k", contents=texts(9))
        wait_until(
            lambda: Delivery.objects.filter(state=Delivery.State.SENT).count() == 3, timeout=30
        )
        elapsed = time.monotonic() - started
    finally:
        worker.stop()
        celery_app.conf.task_always_eager = True

    for channel in channels:
        assert discord_server.contents(hook_of(discord_server, channel)) == texts(9)
    assert discord_server.count(429) == 0
    # One after the other would take three windows of 2 s at least; in parallel, about one.
    assert elapsed < 4.5

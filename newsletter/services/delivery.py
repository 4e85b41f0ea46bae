"""Discord delivery: what each channel must receive, and sending it in order, exactly once.

A `Delivery` is everything one channel receives for one subject (an issue, a reminder); its
`DeliveryMessage` rows are the messages, in order. The `newsletter.deliver` task calls
`delivery_send` (in `delivery_run.py`, the sending run), which works through the rows that
still need a request: post (pending), edit (after a correction) or delete (a correction made
the issue shorter). This module creates deliveries, retries and sweeps them, and reads them.

How "exactly once" holds:

- A message with a Discord id is never posted again: each row is posted only while it has no id,
  and the id from the `wait=true` answer is stored as soon as the answer arrives.
- Before each request the attempt is recorded (attempts + 1, awaiting_answer) and committed, in
  a short transaction of its own or together with the previous message's answer; no transaction
  is ever open across an HTTP call.
- One sending run per delivery at a time: a run takes a lease on the delivery row (a conditional
  UPDATE, so it works the same on SQLite and PostgreSQL) and renews it between requests, so that
  it always outlasts the next request. A duplicate task run finds the lease taken and returns.
  A killed run's lease expires (DISCORD_DELIVERY_LEASE, 20 s), and the sweeper
  (`delivery_sweep`, every 5 s) queues it again: a killed worker's delivery goes on within
  half a minute.
- A run that could not be queued (the broker unreachable at publishing time) is recorded on the
  delivery (`queue_failed_at`): the admin says it waits for the task queue, publishing says
  that Discord will follow, and the sweeper queues it as soon as the broker is back.
- One channel, one delivery at a time, in the order they were made (two issues published a
  minute apart must not interleave): a run takes its lease only when no earlier delivery to the
  channel is unfinished and no other one holds a lease, checked with the channel's row locked;
  otherwise it returns, and the run that finishes a delivery queues the channel's next one.
- In a worker, a run that must wait for the rate-limit window ends and queues its continuation
  for when the window reopens, so one worker process serves several channels in parallel.
- The one case no client can settle: a POST that went out and got no answer (a read timeout, a
  dropped connection, a worker killed mid-request). Discord has no idempotency key and a webhook
  cannot list a channel's messages, so whether it posted is unknowable. We post it again, and
  mark the row `maybe_duplicate` so the admin shows "may appear twice". The alternative, never
  re-posting, would leave the rest of the issue stuck until an editor looked into the channel;
  a rare duplicate an editor can delete is the smaller harm. Connection refusals, 4xx/5xx and 429
  answers are not ambiguous: Discord did not post, and the retry is exact.

Failures: temporary ones (timeouts, connection errors, 5xx, 429) are retried with exponential
backoff (1, 2, 4 … times DISCORD_RETRY_BACKOFF, at most a minute). In a worker the backoff is
no sleep: the run ends and queues its continuation for then, as for a rate-limit wait, and the
delivery says which attempt failed and when the next one is. Run inline, a run sleeps through
it, up to DISCORD_RETRY_LIMIT failures, then leaves the rest to the sweeper. A message that
reaches DISCORD_MAX_ATTEMPTS fails. Permanent ones: an unknown webhook or a bad
token switches the channel off, fails its delivery and emails the editors; any other 4xx fails
that message with Discord's explanation and stops the delivery (later messages would come out
of order). Editors see all of it in the admin and can "retry failed".
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from newsletter.models import Delivery, DeliveryMessage, DiscordChannel, Issue
from newsletter.rendering import ForumPost, issue_discord_messages, issue_forum_posts
from portal.celery import queue_after_commit
from portal.site import absolute_url

logger = logging.getLogger(__name__)

Message = DeliveryMessage.State
# Rows that still need a request, and the request each needs.
_TODO = (Message.PENDING, Message.EDIT, Message.DELETE)
_ACTIVE = (Delivery.State.PENDING, Delivery.State.SENDING)


class DeliveryBusy(Exception):
    """The delivery is being sent right now; a correction has to wait until it is done."""


# --- creating ----------------------------------------------------------------------------------


def delivery_create(
    *,
    channel: DiscordChannel,
    key: str,
    contents: list[str] | list[ForumPost],
    issue: Issue | None = None,
) -> Delivery | None:
    """Record `contents` as the messages `channel` must receive under `key`; send after commit.

    Returns None, creating nothing, when the channel already has a delivery with that key, so
    calling twice never sends twice. Blank contents are dropped (Discord refuses them).
    A forum channel's contents are `ForumPost`s: each with a thread name opens a post.
    """
    delivery = _delivery_create(channel=channel, key=key, contents=contents, issue=issue)
    if delivery is not None:
        _queue(delivery.pk)
    return delivery


def deliveries_create_for_issue(*, issue: Issue) -> list[Delivery]:
    """One delivery per active channel that receives issues; call in the publishing transaction."""

    channels = list(DiscordChannel.objects.filter(active=True, receives_issues=True))
    if not channels:
        return []
    messages = issue_discord_messages(issue)
    posts = issue_forum_posts(issue) if any(channel.forum for channel in channels) else []
    deliveries = []
    for channel in channels:
        delivery = delivery_create(
            channel=channel,
            key=issue_delivery_key(issue),
            contents=posts if channel.forum else messages,
            issue=issue,
        )
        if delivery is not None:
            deliveries.append(delivery)
    return deliveries


def issue_delivery_key(issue: Issue) -> str:
    return f"issue:{issue.pk}"


def issue_contents(issue: Issue, channel: DiscordChannel) -> list[str] | list[ForumPost]:
    """What `channel` receives for `issue`: messages, or a forum channel's posts."""
    return issue_forum_posts(issue) if channel.forum else issue_discord_messages(issue)


def posts_of(contents: list[str] | list[ForumPost]) -> list[ForumPost]:
    """Contents as forum posts (plain messages have no thread name), blank ones dropped."""
    posts = [ForumPost(text) if isinstance(text, str) else text for text in contents]
    return [
        ForumPost(post.content.strip(), post.thread_name, post.item_pk)
        for post in posts
        if post.content and post.content.strip()
    ]


def _delivery_create(
    *, channel: DiscordChannel, key: str, contents: list[str] | list[ForumPost], issue: Issue | None
) -> Delivery | None:
    contents = posts_of(contents)
    if not contents:
        return None
    with transaction.atomic():
        try:
            with transaction.atomic():
                delivery = Delivery.objects.create(channel=channel, key=key, issue=issue)
        except IntegrityError:
            return None
        DeliveryMessage.objects.bulk_create(
            DeliveryMessage(
                delivery=delivery,
                position=position,
                content=post.content,
                thread_name=post.thread_name,
                item_id=post.item_pk,
            )
            for position, post in enumerate(contents)
        )
    return delivery


# The key of an editor's test message ("test:…"). A test message stands alone: it neither
# waits for the channel's unfinished deliveries nor holds them back (it still never goes out
# while another delivery to the channel is being sent).
TEST_KEY_PREFIX = "test:"


def deliveries_ahead(delivery: Delivery | None = None):
    """The deliveries to the same channel that go before `delivery` (unfinished and older),
    or, without one, a subquery of those ahead of the outer row (for `Exists`; see `waiting`).

    One channel receives its deliveries one after the other, in the order they were made
    (publication order): a delivery waits while one of these exists.
    """
    if delivery is None:
        channel, created_at, pk = OuterRef("channel_id"), OuterRef("created_at"), OuterRef("pk")
    elif delivery.key.startswith(TEST_KEY_PREFIX):
        return Delivery.objects.none()
    else:
        channel, created_at, pk = delivery.channel_id, delivery.created_at, delivery.pk
    return (
        Delivery.objects.filter(channel_id=channel, state__in=_ACTIVE)
        .filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
        .exclude(key__startswith=TEST_KEY_PREFIX)
    )


def waiting() -> Q:
    """Deliveries waiting for an earlier one to their channel (see `deliveries_ahead`)."""
    return Q(Exists(deliveries_ahead())) & ~Q(key__startswith=TEST_KEY_PREFIX)


def _queue(delivery_id: int) -> None:
    """Queue a sending run once the current transaction commits.

    A broker that is down fails nothing: the delivery stays pending, says it waits for the task
    queue, and the sweeper queues it again once the broker is back.
    """
    queue_after_commit(
        "newsletter.deliver",
        delivery_id=delivery_id,
        on_failure=partial(_queue_failed, delivery_id),
    )


def _queue_failed(delivery_id: int) -> None:
    Delivery.objects.filter(pk=delivery_id).update(queue_failed_at=timezone.now())


def deliveries_waiting_for_queue(*, issues) -> bool:
    """Whether a delivery of these issues could not be queued (the broker is unreachable)."""
    return Delivery.objects.filter(issue__in=issues, queue_failed_at__isnull=False).exists()


def _delivery_fail(delivery: Delivery, reason: str, *, lease: str | None = None) -> None:
    rows = Delivery.objects.filter(pk=delivery.pk)
    if lease is not None:
        rows = rows.filter(lease_token=lease)
    now = timezone.now()
    rows.update(
        state=Delivery.State.FAILED, last_error=reason[:2000], finished_at=now, updated_at=now
    )
    logger.warning("Delivery %s failed: %s", delivery.pk, reason)


# --- channels ----------------------------------------------------------------------------------


def channel_deactivate(*, channel: DiscordChannel, reason: str) -> bool:
    """Switch a channel off for a permanent failure and tell the editors (once)."""
    reason = reason[:300]
    with transaction.atomic():
        changed = DiscordChannel.objects.filter(pk=channel.pk, active=True).update(
            active=False, deactivated_reason=reason
        )
        if changed:
            channel.active = False
            channel.deactivated_reason = reason
            transaction.on_commit(lambda: _tell_editors_deactivated(channel))
    if changed:
        logger.warning("Discord channel %s switched off: %s", channel.pk, reason)
    return bool(changed)


def _tell_editors_deactivated(channel: DiscordChannel) -> None:

    editors = get_user_model().objects.filter(groups__name="Editors", is_active=True)
    recipients = sorted({user.email for user in editors if user.email})
    if not recipients:
        return
    context = {
        "channel": channel,
        "site_name": settings.SITE_NAME,
        "admin_url": absolute_url(
            reverse("admin:newsletter_discordchannel_change", args=[channel.pk])
        ),
    }
    subject = render_to_string("admin/newsletter/channels/deactivated_subject.txt", context).strip()
    body = render_to_string("admin/newsletter/channels/deactivated_body.txt", context)
    try:
        send_mail(subject, body, None, recipients)
    except Exception as exc:  # the admin banner still tells them
        logger.warning("Could not email the editors about channel %s: %s", channel.pk, exc)


def delivery_reopen(delivery: Delivery) -> None:
    """Back to pending, with no error or wait on record, and a sending run queued after commit
    (a retry, a correction). The caller holds the delivery's row lock."""
    delivery.state = Delivery.State.PENDING
    delivery.last_error = ""
    delivery.finished_at = None
    delivery.next_attempt_at = delivery.queue_failed_at = None
    delivery.save(
        update_fields=[
            "state",
            "last_error",
            "finished_at",
            "next_attempt_at",
            "queue_failed_at",
            "updated_at",
        ]
    )
    _queue(delivery.pk)


def delivery_retry(*, delivery: Delivery) -> bool:
    """Send again what failed (or is waiting for the sweeper). False when nothing to retry."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update().select_related("channel").get(pk=delivery.pk)
        )
        if delivery.state not in (Delivery.State.FAILED, Delivery.State.PENDING):
            return False
        if not delivery.channel.active:
            raise ValueError(
                f"The channel “{delivery.channel}” is switched off. Paste a working webhook URL "
                "and tick “active” first."
            )
        for message in delivery.messages.filter(state=Message.FAILED):
            message.state = Message.EDIT if message.discord_message_id else Message.PENDING
            message.attempts = 0
            message.last_error = ""
            message.save(update_fields=["state", "attempts", "last_error"])
        delivery.messages.filter(state__in=_TODO).update(attempts=0)
        delivery_reopen(delivery)
    return True


def delivery_sweep() -> int:
    """Queue again what a killed worker or an unreachable broker left undone (beat, every 5 s).

    - a delivery whose run could not be queued: at once (once its next attempt is due);
    - one left pending or half-sent, with no live lease, for DISCORD_SWEEP_AFTER seconds after
      its last sign of life (or after the time its continuation was queued for).
    Not one that waits for an earlier delivery to its channel: the run that finishes that one
    queues it. A queued run that finds the delivery busy or done returns at once, so this is
    safe.
    """
    now = timezone.now()
    quiet_since = now - timedelta(seconds=settings.DISCORD_SWEEP_AFTER)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    stale = (
        Delivery.objects.filter(state__in=_ACTIVE)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .filter(
            (Q(queue_failed_at__isnull=False) & due)
            | Q(next_attempt_at__isnull=True, updated_at__lt=quiet_since)
            | Q(next_attempt_at__lt=quiet_since)
        )
        .exclude(waiting())
        .values_list("pk", flat=True)
    )
    queued = 0
    for delivery_id in list(stale):
        # Touch it so the next sweep leaves it alone while this run is queued (queueing that
        # fails marks it again).
        Delivery.objects.filter(pk=delivery_id).update(
            updated_at=now, next_attempt_at=None, queue_failed_at=None
        )
        _queue(delivery_id)
        queued += 1
    if queued:
        logger.info("Sweeper queued %s stalled deliveries again.", queued)
    return queued


# --- reading -----------------------------------------------------------------------------------


def deliveries_with_progress(queryset=None):
    """Deliveries annotated with `sent_count`, `total_count`, `failed_count`, `duplicate_count`,
    and `waiting` (an earlier delivery to the channel goes first)."""
    queryset = Delivery.objects.all() if queryset is None else queryset
    return queryset.annotate(
        waiting=ExpressionWrapper(waiting(), output_field=BooleanField()),
        total_count=Count("messages", filter=~Q(messages__state=Message.DELETED), distinct=True),
        sent_count=Count("messages", filter=Q(messages__state=Message.SENT), distinct=True),
        failed_count=Count("messages", filter=Q(messages__state=Message.FAILED), distinct=True),
        duplicate_count=Count("messages", filter=Q(messages__maybe_duplicate=True), distinct=True),
    )

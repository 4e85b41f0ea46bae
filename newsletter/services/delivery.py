"""Discord delivery: what each channel must receive, and sending it in order, exactly once.

A `Delivery` is everything one channel receives for one subject (an issue, a reminder); its
`DeliveryMessage` rows are the messages, in order. The `newsletter.deliver` task calls
`delivery_send`, which works through the rows that still need a request: post (pending), edit
(after a correction) or delete (a correction made the issue shorter).

How "exactly once" holds:

- A message with a Discord id is never posted again: each row is posted only while it has no id,
  and the id from the `wait=true` answer is stored as soon as the answer arrives.
- Before each request the attempt is recorded (attempts + 1, awaiting_answer) and committed, in
  a short transaction of its own or together with the previous message's answer; no transaction
  is ever open across an HTTP call.
- One sending run per delivery at a time: a run takes a lease on the delivery row (a conditional
  UPDATE, so it works the same on SQLite and PostgreSQL) and renews it, between requests, before
  half of it is used. A duplicate task run finds the lease taken and returns. A killed run's
  lease expires, and the sweeper (`delivery_sweep`, every two minutes) queues it again.
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
backoff, up to DISCORD_RETRY_LIMIT per run; then the delivery waits for the sweeper, and a
message that reaches DISCORD_MAX_ATTEMPTS fails. Permanent ones: an unknown webhook or a bad
token switches the channel off, fails its delivery and emails the editors; any other 4xx fails
that message with Discord's explanation and stops the delivery (later messages would come out
of order). Editors see all of it in the admin and can "retry failed".
"""

from __future__ import annotations

import logging
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from newsletter.discord.client import (
    DiscordClient,
    DiscordError,
    DiscordRateLimited,
    DiscordRejected,
    DiscordTemporaryError,
    UnknownMessage,
    Webhook,
    WebhookGone,
)
from newsletter.models import Delivery, DeliveryMessage, DiscordChannel, Issue
from newsletter.rendering import issue_discord_messages
from portal.celery import app as celery_app
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
    *, channel: DiscordChannel, key: str, contents: list[str], issue: Issue | None = None
) -> Delivery | None:
    """Record `contents` as the messages `channel` must receive under `key`; send after commit.

    Returns None, creating nothing, when the channel already has a delivery with that key, so
    calling twice never sends twice. Blank contents are dropped (Discord refuses them).
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
    contents = issue_discord_messages(issue)
    deliveries = []
    for channel in channels:
        delivery = delivery_create(
            channel=channel, key=issue_delivery_key(issue), contents=contents, issue=issue
        )
        if delivery is not None:
            deliveries.append(delivery)
    return deliveries


def issue_delivery_key(issue: Issue) -> str:
    return f"issue:{issue.pk}"


def _delivery_create(
    *, channel: DiscordChannel, key: str, contents: list[str], issue: Issue | None
) -> Delivery | None:
    contents = [text.strip() for text in contents if text and text.strip()]
    if not contents:
        return None
    with transaction.atomic():
        try:
            with transaction.atomic():
                delivery = Delivery.objects.create(channel=channel, key=key, issue=issue)
        except IntegrityError:
            return None
        DeliveryMessage.objects.bulk_create(
            DeliveryMessage(delivery=delivery, position=position, content=text)
            for position, text in enumerate(contents)
        )
    return delivery


def _queue(delivery_id: int) -> None:
    """Queue a sending run once the current transaction commits.

    A broker that is down fails nothing: the delivery stays pending and the sweeper queues
    it again once the broker is back.
    """
    queue_after_commit("newsletter.deliver", delivery_id=delivery_id)


# --- sending -----------------------------------------------------------------------------------


def _lease_seconds() -> float:
    # Renewed before every request, so it must outlast one request: connecting and answering
    # may each take up to the timeout.
    return max(float(settings.DISCORD_DELIVERY_LEASE), 2 * settings.DISCORD_HTTP_TIMEOUT + 1)


def _lease_take(delivery_id: int) -> str | None:
    token = uuid.uuid4().hex
    now = timezone.now()
    taken = (
        Delivery.objects.filter(pk=delivery_id, state__in=_ACTIVE)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            lease_token=token,
            lease_expires_at=now + timedelta(seconds=_lease_seconds()),
            state=Delivery.State.SENDING,
            updated_at=now,
        )
    )
    return token if taken else None


def _lease_renew(delivery_id: int, token: str) -> bool:
    now = timezone.now()
    return bool(
        Delivery.objects.filter(pk=delivery_id, lease_token=token).update(
            lease_expires_at=now + timedelta(seconds=_lease_seconds()), updated_at=now
        )
    )


def _lease_release(delivery_id: int, token: str) -> None:
    Delivery.objects.filter(pk=delivery_id, lease_token=token).update(
        lease_token="", lease_expires_at=None
    )


def delivery_send(
    *, delivery_id: int, yield_to_others: bool = False, retry_limit: int | None = None
) -> Delivery | None:
    """Make every request the delivery still needs, in order. Safe to call any number of times.

    With `yield_to_others` (a worker's run), a rate-limit wait of more than a moment ends the
    run and queues the next one for when the window reopens: the worker process is free for
    other channels meanwhile, so five channels take about as long as one even with a worker
    of two processes. Without it (tasks run inline), the run waits.

    `retry_limit`: failed attempts before the run leaves the rest to the sweeper (default
    DISCORD_RETRY_LIMIT); an editor waiting on a page wants 1.

    Returns the delivery as it ended, or None when there was nothing to do (gone, finished,
    or another run is sending it).
    """

    token = _lease_take(delivery_id)
    if token is None:
        return None
    run = None
    try:
        delivery = Delivery.objects.select_related("channel").get(pk=delivery_id)
        channel = delivery.channel
        if not channel.active:
            _delivery_fail(
                delivery,
                f"The channel “{channel}” is switched off"
                + (f": {channel.deactivated_reason}" if channel.deactivated_reason else ".")
                + " Fix it in the channel settings, then retry.",
            )
            return delivery
        with DiscordClient() as client:
            run = _Run(
                client=client,
                delivery=delivery,
                lease=token,
                yield_to_others=yield_to_others,
                retry_limit=retry_limit or settings.DISCORD_RETRY_LIMIT,
            )
            run.go()
        delivery.refresh_from_db()
        return delivery
    finally:
        _lease_release(delivery_id, token)
        if run is not None and run.resume_in is not None:
            _queue_later(delivery_id, run.resume_in)


def _queue_later(delivery_id: int, seconds: float) -> None:
    """Queue the next run through the broker, to start in `seconds` (called by a worker)."""
    try:
        # send_task always goes through the broker, even where tasks are otherwise run
        # inline (test settings): running inline here would ignore the countdown.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            celery_app.send_task(
                "newsletter.deliver", kwargs={"delivery_id": delivery_id}, countdown=seconds
            )
    except Exception as exc:  # a broker that is down: the sweeper queues it again
        logger.warning("Could not queue delivery %s (%s).", delivery_id, type(exc).__name__)


# A rate-limit wait longer than this ends a worker's run (see `delivery_send`); shorter ones
# are waited out, as queueing again costs a few database queries and a trip through the broker.
_YIELD_LONGER_THAN = 0.5

# What `_Run._message` tells the loop: go on with the next row, read the rows again, stop.
_NEXT, _REREAD, _STOP = "next", "reread", "stop"


@dataclass
class _Run:
    client: object
    delivery: Delivery
    lease: str
    yield_to_others: bool = False
    retry_limit: int = 1
    resume_in: float | None = None  # set when the run ends to let other channels go first

    def go(self) -> None:
        self.webhook = Webhook.for_channel(self.delivery.channel)
        self.lease_renewed = time.monotonic()
        self.following: DeliveryMessage | None = None
        self.premarked: tuple[int, bool] | None = None  # (pk, awaiting_answer before)
        while True:
            # Read the rows still to do once; a row changed meanwhile makes us read again.
            todo = list(
                self.delivery.messages.exclude(state__in=[Message.SENT, Message.DELETED]).order_by(
                    "position"
                )
            )
            if not todo:
                self._finish()
                return
            for index, message in enumerate(todo):
                self.following = todo[index + 1] if index + 1 < len(todo) else None
                if message.state == Message.PENDING and message.discord_message_id:
                    # Posted already (its id is stored): never again, whatever the state says.
                    DeliveryMessage.objects.filter(pk=message.pk).update(
                        state=Message.SENT, awaiting_answer=False
                    )
                    continue
                if message.state == Message.FAILED:
                    # Only after a crash between failing the message and failing the delivery.
                    _delivery_fail(self.delivery, self._position(message) + message.last_error)
                    return
                outcome = self._message(message)
                if outcome is _STOP:
                    return
                if outcome is _REREAD:
                    break
            else:
                # Every row read was done, and while we hold the lease nobody adds rows.
                self._finish()
                return

    def _keep_lease(self) -> bool:
        """Renew the lease once half of it is used: it must never run out during a request."""
        if time.monotonic() - self.lease_renewed < _lease_seconds() / 2:
            return True
        if not _lease_renew(self.delivery.pk, self.lease):
            return False
        self.lease_renewed = time.monotonic()
        return True

    def _finish(self) -> None:
        now = timezone.now()
        Delivery.objects.filter(pk=self.delivery.pk, lease_token=self.lease).update(
            state=Delivery.State.SENT, last_error="", finished_at=now, updated_at=now
        )

    def _position(self, message: DeliveryMessage) -> str:
        total = self.delivery.messages.exclude(state=Message.DELETED).count()
        return f"Message {message.position + 1} of {total}: "

    def _message(self, message: DeliveryMessage) -> str:
        """Make the request this row needs, retrying what is temporary."""
        failures = rate_limits = 0
        premarked, self.premarked = self.premarked, None
        while True:
            if premarked and premarked[0] == message.pk:
                # Marked together with the previous message's answer (see `_done`).
                unanswered_before, premarked = premarked[1], None
            else:
                unanswered_before = message.awaiting_answer
                blocked = self._before_request(message)
                if blocked:
                    return blocked
            state = message.state
            try:
                answer = self._request(message, state)
            except DiscordTemporaryError as exc:
                self._note_temporary(message, exc, unanswered_before)
                if message.attempts >= settings.DISCORD_MAX_ATTEMPTS:
                    self._message_fail(
                        message, f"Gave up after {message.attempts} attempts. Last answer: {exc}"
                    )
                    return _STOP
                if isinstance(exc, DiscordRateLimited):
                    rate_limits += 1
                    if rate_limits <= 3 * self.retry_limit:
                        continue  # the client waits out retry_after before the next request
                failures += 1
                if failures >= self.retry_limit:
                    self._postpone(message, exc)
                    return _STOP
                time.sleep(_backoff(failures))
                continue
            except DiscordError as exc:
                return self._refused(message, state, exc, unanswered_before)
            self._done(message, state, answer, unanswered_before)
            return _NEXT

    def _before_request(self, message: DeliveryMessage) -> str | None:
        """Wait for the rate limit, keep the lease and record the attempt; or say why not."""
        if self.yield_to_others:
            wait = self.client.would_wait(self.webhook)
            if wait > _YIELD_LONGER_THAN:
                self.resume_in = wait
                return _STOP
        self.client.pause_for_rate_limit(self.webhook)
        if not self._keep_lease():
            logger.warning("Delivery %s: lease lost to another run.", self.delivery.pk)
            return _STOP
        # The attempt is on record before the request leaves (own short transaction).
        if not self._mark(message):
            return _REREAD  # changed meanwhile
        return None

    def _request(self, message: DeliveryMessage, state: str) -> dict:
        if state == Message.PENDING:
            return self.client.execute(self.webhook, message.content)
        if state == Message.EDIT:
            return self.client.edit(self.webhook, message.discord_message_id, message.content)
        return self.client.delete(self.webhook, message.discord_message_id)

    @staticmethod
    def _note_temporary(message: DeliveryMessage, exc: DiscordTemporaryError, before: bool) -> None:
        """Keep the last error, and whether the request may have gone out unanswered."""
        message.awaiting_answer = exc.maybe_sent or before
        message.last_error = str(exc)
        DeliveryMessage.objects.filter(pk=message.pk).update(
            last_error=str(exc)[:1000], awaiting_answer=message.awaiting_answer
        )

    def _refused(self, message, state: str, exc: DiscordError, unanswered_before: bool) -> str:
        """A permanent answer: a deleted message is gone already, a gone webhook switches the
        channel off, anything else fails the message and stops the delivery (order matters)."""
        if isinstance(exc, UnknownMessage) and state == Message.DELETE:
            self._done(message, state, {}, unanswered_before)
            return _NEXT
        if isinstance(exc, WebhookGone):
            self._answered(message, str(exc))
            channel_deactivate(channel=self.delivery.channel, reason=str(exc))
            _delivery_fail(self.delivery, str(exc), lease=self.lease)
            return _STOP
        if isinstance(exc, DiscordRejected):
            self._message_fail(message, str(exc))
            return _STOP
        raise exc

    @staticmethod
    def _mark(message: DeliveryMessage) -> bool:
        """Record an attempt (attempts + 1, awaiting an answer); False if the row changed."""
        rows = DeliveryMessage.objects.filter(pk=message.pk, state=message.state)
        if message.state == Message.PENDING:
            rows = rows.filter(discord_message_id="")  # never post twice what has an id
        if not rows.update(attempts=F("attempts") + 1, awaiting_answer=True):
            return False
        message.attempts += 1
        return True

    def _done(self, message, state, answer, unanswered_before: bool) -> None:
        """Store the answer. When the next request may go at once, its attempt is recorded in
        the same transaction: one commit per message instead of two."""
        following = self.following
        ready = (
            following is not None
            and following.state in _TODO
            and not (following.state == Message.PENDING and following.discord_message_id)
            and self.client.would_wait(self.webhook) == 0
            and time.monotonic() - self.lease_renewed < _lease_seconds() / 2
        )
        with transaction.atomic():
            self._store(message, state, answer, unanswered_before)
            if ready:
                awaiting_before = following.awaiting_answer
                if self._mark(following):
                    self.premarked = (following.pk, awaiting_before)

    def _store(self, message, state, answer, unanswered_before: bool) -> None:
        now = timezone.now()
        fields = {"awaiting_answer": False, "last_error": "", "sent_at": now}
        if state == Message.PENDING:
            fields["discord_message_id"] = str(answer.get("id", ""))
            fields["state"] = Message.SENT
            fields["maybe_duplicate"] = unanswered_before
        elif state == Message.EDIT:
            fields["state"] = Message.SENT
        else:
            fields["state"] = Message.DELETED
        DeliveryMessage.objects.filter(pk=message.pk).update(**fields)

    def _answered(self, message, error: str) -> None:
        DeliveryMessage.objects.filter(pk=message.pk).update(
            awaiting_answer=False, last_error=error[:1000]
        )

    def _message_fail(self, message, error: str) -> None:
        DeliveryMessage.objects.filter(pk=message.pk).update(
            state=Message.FAILED, awaiting_answer=False, last_error=error[:1000]
        )
        _delivery_fail(self.delivery, self._position(message) + error, lease=self.lease)

    def _postpone(self, message, exc) -> None:
        minutes = max(1, round(settings.DISCORD_SWEEP_AFTER / 60))
        Delivery.objects.filter(pk=self.delivery.pk, lease_token=self.lease).update(
            state=Delivery.State.PENDING,
            last_error=(
                f"{self._position(message)}{exc} Trying again in about {minutes} minute"
                f"{'s' if minutes != 1 else ''}."
            )[:2000],
            updated_at=timezone.now(),
        )


def _backoff(failures: int) -> float:
    """Seconds to wait after the n-th temporary failure in a row: base × 2^(n-1), capped."""
    return min(settings.DISCORD_RETRY_BACKOFF * 2 ** (failures - 1), 60.0)


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
        delivery.state = Delivery.State.PENDING
        delivery.last_error = ""
        delivery.finished_at = None
        delivery.save(update_fields=["state", "last_error", "finished_at", "updated_at"])
        _queue(delivery.pk)
    return True


def delivery_sweep() -> int:
    """Queue again deliveries left pending or half-sent for longer than DISCORD_SWEEP_AFTER.

    Catches what a killed worker or a broker that was down at publishing time left behind.
    A queued run that finds the delivery busy or done returns at once, so this is safe.
    """
    now = timezone.now()
    stale = (
        Delivery.objects.filter(
            state__in=_ACTIVE, updated_at__lt=now - timedelta(seconds=settings.DISCORD_SWEEP_AFTER)
        )
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .values_list("pk", flat=True)
    )
    queued = 0
    for delivery_id in list(stale):
        # Touch it so the next sweep leaves it alone while this run is queued.
        Delivery.objects.filter(pk=delivery_id).update(updated_at=now)
        _queue(delivery_id)
        queued += 1
    if queued:
        logger.info("Sweeper queued %s stalled deliveries again.", queued)
    return queued


# --- reading -----------------------------------------------------------------------------------


def deliveries_with_progress(queryset=None):
    """Deliveries annotated with `sent_count`, `total_count`, `failed_count`, `duplicate_count`."""
    queryset = Delivery.objects.all() if queryset is None else queryset
    return queryset.annotate(
        total_count=Count("messages", filter=~Q(messages__state=Message.DELETED), distinct=True),
        sent_count=Count("messages", filter=Q(messages__state=Message.SENT), distinct=True),
        failed_count=Count("messages", filter=Q(messages__state=Message.FAILED), distinct=True),
        duplicate_count=Count("messages", filter=Q(messages__maybe_duplicate=True), distinct=True),
    )

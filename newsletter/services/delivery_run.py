"""The sending run: one delivery's requests to Discord, in order, exactly once.

How and why (the lease, the record of each attempt, the one ambiguous case) is told at the top
of `delivery.py`; this module is the run itself. `delivery_send` takes the delivery's lease,
makes every request still needed, and lets it go.
"""

from __future__ import annotations

import logging
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
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
from portal.celery import app as celery_app

from .delivery import (
    _ACTIVE,
    _TODO,
    TEST_KEY_PREFIX,
    Message,
    _delivery_fail,
    _queue,
    _queue_failed,
    channel_deactivate,
    deliveries_ahead,
)
from .issues import issue_render

logger = logging.getLogger(__name__)


def _request_seconds() -> float:
    """The longest one request may take: connecting (at most 5 s), then waiting for the answer."""
    timeout = settings.DISCORD_HTTP_TIMEOUT
    return min(5.0, timeout) + timeout


def _lease_seconds() -> float:
    """How long a lease lasts: short, so that a killed run's delivery is taken over soon, but
    longer than one request, as it is renewed between requests only."""
    return max(float(settings.DISCORD_DELIVERY_LEASE), _request_seconds() + 1)


def _renew_after() -> float:
    """Seconds after a renewal when the next request could outlast the lease: renew then."""
    return _lease_seconds() - _request_seconds() - 1


def _lease_take(delivery_id: int) -> str | None:
    """The lease, unless the delivery is done, being sent, or must wait for its channel."""
    token = uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.filter(pk=delivery_id, state__in=_ACTIVE).first()
        if delivery is None:
            return None
        # Two runs for one channel take turns here (the channel's row is locked), so that only
        # the earliest unfinished delivery to a channel is ever sent.
        list(DiscordChannel.objects.select_for_update().filter(pk=delivery.channel_id))
        others = Delivery.objects.filter(channel_id=delivery.channel_id).exclude(pk=delivery_id)
        if deliveries_ahead(delivery).exists() or others.filter(lease_expires_at__gte=now).exists():
            return None
        taken = (
            Delivery.objects.filter(pk=delivery_id, state__in=_ACTIVE)
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
            .update(
                lease_token=token,
                lease_expires_at=now + timedelta(seconds=_lease_seconds()),
                state=Delivery.State.SENDING,
                next_attempt_at=None,
                queue_failed_at=None,
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


def _lease_release(delivery_id: int, token: str, *, resume_in: float | None = None) -> None:
    """Let the delivery go; `resume_in`: its continuation is queued for that many seconds on."""
    next_attempt = timezone.now() + timedelta(seconds=resume_in) if resume_in is not None else None
    Delivery.objects.filter(pk=delivery_id, lease_token=token).update(
        lease_token="", lease_expires_at=None, next_attempt_at=next_attempt
    )


def delivery_send(
    *, delivery_id: int, yield_to_others: bool = False, retry_limit: int | None = None
) -> Delivery | None:
    """Make every request the delivery still needs, in order. Safe to call any number of times.

    With `yield_to_others` (a worker's run), a rate-limit wait of more than a moment ends the
    run and queues the next one for when the window reopens, and so does the backoff after a
    temporary failure: the worker process is free for other channels meanwhile, so five
    channels take about as long as one even with a worker of two processes. Without it (tasks
    run inline), the run waits.

    `retry_limit`: failed attempts before the run leaves the rest to the sweeper (default
    DISCORD_RETRY_LIMIT); an editor waiting on a page wants 1.

    Returns the delivery as it ended, or None when there was nothing to do (gone, finished,
    another run is sending it, or an earlier delivery to its channel goes first: the run that
    finishes that one queues this one).
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
        if run.threads_opened:
            _links_show(delivery)
        return delivery
    finally:
        if run is not None and run.resume_in is not None:
            _lease_release(delivery_id, token, resume_in=run.resume_in)
            _queue_later(delivery_id, run.resume_in)
        else:
            _lease_release(delivery_id, token)
            _queue_following(delivery_id)


def _links_show(delivery: Delivery) -> None:
    """Render the issue again, so that its pages link each item to its new forum thread."""
    issue = Issue.objects.filter(pk=delivery.issue_id, state=Issue.State.PUBLISHED).first()
    if issue is not None:
        with transaction.atomic():
            issue_render(issue=issue)


def _guild_learn(client, webhook: Webhook, channel: DiscordChannel) -> None:
    """Store the channel's server id from the webhook's GET (for the links to its threads).
    Without an answer the posts still go; the links follow once it is known."""
    try:
        guild_id = str(client.get_webhook(webhook).get("guild_id") or "")
    except DiscordError as exc:
        logger.warning("Channel %s: could not read the webhook's server: %s", channel.pk, exc)
        return
    if guild_id:
        DiscordChannel.objects.filter(pk=channel.pk).update(guild_id=guild_id[:32])
        channel.guild_id = guild_id


def _queue_following(delivery_id: int) -> None:
    """Once a delivery is done (sent or failed), queue the next one waiting for its channel,
    and any test message that waited for the channel to be free."""
    done = Delivery.objects.filter(pk=delivery_id).exclude(state__in=_ACTIVE).first()
    if done is None:
        return  # still to finish (the sweeper resumes it): the next one keeps waiting
    unfinished = Delivery.objects.filter(channel_id=done.channel_id, state__in=_ACTIVE)
    tests = Q(key__startswith=TEST_KEY_PREFIX)
    following = [
        *unfinished.exclude(tests).order_by("created_at", "pk").values_list("pk", flat=True)[:1],
        *unfinished.filter(tests).values_list("pk", flat=True),
    ]
    for pk in following:
        _queue(pk)


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
        _queue_failed(delivery_id)


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
    threads_opened: int = 0  # forum posts made by this run

    def go(self) -> None:
        self.webhook = Webhook.for_channel(self.delivery.channel)
        if self.delivery.channel.forum and not self.delivery.channel.guild_id:
            _guild_learn(self.client, self.webhook, self.delivery.channel)
        self.lease_renewed = time.monotonic()
        self.following: DeliveryMessage | None = None
        self.premarked: tuple[int, bool] | None = None  # (pk, awaiting_answer before)
        self.showing = bool(self.delivery.last_error)  # a note of an earlier run's retry
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
        """Renew the lease when the next request could outlast it: it must never run out
        during a request."""
        if self._lease_fresh():
            return True
        if not _lease_renew(self.delivery.pk, self.lease):
            return False
        self.lease_renewed = time.monotonic()
        return True

    def _lease_fresh(self) -> bool:
        return time.monotonic() - self.lease_renewed < _renew_after()

    def _finish(self) -> None:
        now = timezone.now()
        reposted = self.delivery.messages.filter(reposted_at__isnull=False).values_list(
            "position", flat=True
        )
        note = " ".join(
            f"Message {position + 1} was deleted in Discord and was posted again."
            for position in reposted
        )
        Delivery.objects.filter(pk=self.delivery.pk, lease_token=self.lease).update(
            state=Delivery.State.SENT, last_error=note, finished_at=now, updated_at=now
        )

    def _position(self, message: DeliveryMessage) -> str:
        total = self.delivery.messages.exclude(state=Message.DELETED).count()
        return f"Message {message.position + 1} of {total}: "

    def _message(self, message: DeliveryMessage) -> str:
        """Make the request this row needs, retrying what is temporary."""
        self.failures = self.rate_limits = 0
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
                outcome = self._temporary(message, exc, unanswered_before)
                if outcome is not None:
                    return outcome
                continue
            except DiscordError as exc:
                return self._refused(message, state, exc, unanswered_before)
            self._done(message, state, answer, unanswered_before)
            return _NEXT

    def _temporary(self, message, exc: DiscordTemporaryError, unanswered_before: bool):
        """After a temporary failure: None to try again now, or _STOP when a later run (or the
        sweeper) goes on."""
        self._note_temporary(message, exc, unanswered_before)
        if message.attempts >= settings.DISCORD_MAX_ATTEMPTS:
            self._message_fail(
                message, f"Gave up after {message.attempts} attempts. Last answer: {exc}"
            )
            return _STOP
        if isinstance(exc, DiscordRateLimited):
            self.rate_limits += 1
            if self.rate_limits <= 3 * self.retry_limit:
                return None  # the client waits out retry_after (a worker's run yields)
        self.failures += 1
        if self.yield_to_others:
            # In a worker, the backoff is no sleep: the run ends and its continuation is
            # queued for then, so the process serves other channels meanwhile.
            self.resume_in = _backoff(message.attempts)
            self._show(
                f"{self._position(message)}{exc} Attempt {message.attempts} failed; "
                f"trying again in {self.resume_in:g} s."
            )
            return _STOP
        if self.failures >= self.retry_limit:
            self._postpone(message, exc)
            return _STOP
        time.sleep(_backoff(self.failures))
        return None

    def _show(self, text: str) -> None:
        """What editors read on the delivery while it waits to try again."""
        Delivery.objects.filter(pk=self.delivery.pk, lease_token=self.lease).update(
            last_error=text[:2000], updated_at=timezone.now()
        )
        self.showing = True

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
            if message.thread_name:  # a forum post: opens its own thread
                return self.client.execute(
                    self.webhook, message.content, thread_name=message.thread_name
                )
            return self.client.execute(
                self.webhook, message.content, thread_id=self._thread_of(message)
            )
        if state == Message.EDIT:
            return self.client.edit(
                self.webhook,
                message.discord_message_id,
                message.content,
                thread_id=message.thread_id,
            )
        return self.client.delete(
            self.webhook, message.discord_message_id, thread_id=message.thread_id
        )

    def _thread_of(self, message: DeliveryMessage) -> str:
        """In a forum channel, a message without a thread name continues its item's post."""
        if not self.delivery.channel.forum:
            return ""
        if message.thread_id:
            return message.thread_id
        opening = (
            self.delivery.messages.filter(item_id=message.item_id)
            .exclude(thread_name="")
            .exclude(state=Message.DELETED)
            .order_by("position")
            .values_list("thread_id", flat=True)
            .first()
        )
        message.thread_id = opening or ""
        return message.thread_id

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
        if isinstance(exc, UnknownMessage) and state == Message.EDIT:
            # Deleted in Discord: what cannot be edited is posted again, as a new message.
            DeliveryMessage.objects.filter(pk=message.pk, state=Message.EDIT).update(
                state=Message.PENDING,
                discord_message_id="",
                awaiting_answer=False,
                last_error="",
                reposted_at=timezone.now(),
            )
            return _REREAD
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
            and self._lease_fresh()
        )
        with transaction.atomic():
            self._store(message, state, answer, unanswered_before)
            if self.showing:  # the note of a retry: going again now
                Delivery.objects.filter(pk=self.delivery.pk, lease_token=self.lease).update(
                    last_error=""
                )
                self.showing = False
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
            if message.thread_name:  # the answer of a forum post: in its new thread
                fields["thread_id"] = str(answer.get("channel_id", ""))[:32]
                self.threads_opened += 1
            elif message.thread_id:
                fields["thread_id"] = message.thread_id
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
        seconds = settings.DISCORD_SWEEP_AFTER
        later = f"{seconds} seconds" if seconds < 120 else f"{round(seconds / 60)} minutes"
        Delivery.objects.filter(pk=self.delivery.pk, lease_token=self.lease).update(
            state=Delivery.State.PENDING,
            last_error=f"{self._position(message)}{exc} Trying again in about {later}."[:2000],
            updated_at=timezone.now(),
        )


def _backoff(failures: int) -> float:
    """Seconds to wait after the n-th temporary failure in a row: base × 2^(n-1), capped."""
    return min(settings.DISCORD_RETRY_BACKOFF * 2 ** (failures - 1), 60.0)

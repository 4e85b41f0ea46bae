"""The email edition's sending: one row per email, handed to the mail server at most once.

Publishing an issue creates one `EmailSend` per confirmed subscriber, in the same transaction
as the Discord deliveries (`email_sends_create_for_issue`), and queues EMAIL_SEND_LANES sending
runs once it commits. The `newsletter.send_emails` task calls `email_sends_send`.

How "every subscriber gets it once" holds, with the Discord delivery's design:

- A run claims up to EMAIL_BATCH_SIZE pending rows of the issue with a lease (a token and an
  expiry, set by a conditional UPDATE, FOR UPDATE SKIP LOCKED on PostgreSQL), so two runs of
  the same issue, or a duplicate of a task, never hold the same row. A killed run's lease
  expires and its rows are claimed again.
- Before its message leaves, a row moves from pending to "sending" in an UPDATE of its own,
  committed, conditional on the lease and on the subscriber still being confirmed (so an
  unsubscribe wins up to that moment). Only then is the message given to Django's email
  backend (SMTP, or a provider's API through django-anymail). No transaction is open while
  the backend talks to the server.
- A row in "sending" is never sent again, whatever runs or retries come. Its answer moves it
  to sent (with the server's or provider's message id), failed (a permanent refusal: 5xx),
  or back to pending with a retry time (a temporary refusal: 4xx; nothing was delivered).
  A connection that breaks while the server is receiving the message leaves it unknowable
  whether the server kept it: the row becomes "unconfirmed" and is not sent again (a double
  email is the harm we promise never to do). So does a row a dead worker left in "sending",
  once the sweeper sees its lease expired. Over SMTP each message is preceded by a NOOP, so a
  connection that died between messages is noticed before anything is handed over, and the
  window of doubt is one message's transfer.
- A mail server out of reach (refused connection, failed login) takes nothing: the run
  releases its rows with a retry time and queues its sequel for then.
- Pace: before each message `portal.pacing` reserves the next slot of EMAIL_SEND_RATE per
  second, one schedule in Redis for every worker.
- In a worker a run ends after EMAIL_RUN_SECONDS and queues its sequel behind the other tasks,
  so a long list neither holds a worker process for an hour nor meets the task time limit.
  Without a worker (tasks inline), the run goes on until the issue is done.
- The sweeper (`email_sends_sweep`, every minute) queues runs for issues left with claimable
  rows and no activity for EMAIL_SWEEP_AFTER seconds (a broker that was down at publishing,
  a killed worker), and marks what dead runs left in "sending" as unconfirmed.

Corrections after publication do not re-send: rows are created only by the publication.
"""

from __future__ import annotations

import logging
import math
import secrets
import smtplib
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone

from newsletter.email import IssueEmail, issue_email, mail_domain
from newsletter.models import EmailSend, Issue, Subscriber
from portal import pacing
from portal.celery import queue_after_commit

from .bounces import subscriber_bounce
from .mail_answers import (
    LATER,
    REFUSED,
    SENT,
    UNKNOWN,
    UNREACHABLE,
    address_refused,
    classify,
    mailbox_unknown,
)
from .subscribers import unsubscribe_token

logger = logging.getLogger(__name__)

Send = EmailSend.State
CREATE_CHUNK = 5000
PACE = "email"  # one pace for everything the site emails through the provider
# A slot this close is as good as now: the next message is handed over with this one's answer.
SAME_COMMIT_WAIT = 0.002

# --- creating ----------------------------------------------------------------------------------


def email_sends_create_for_issue(*, issue: Issue) -> int:
    """One send per confirmed subscriber; call in the publishing transaction.

    Created in chunks (50,000 rows in a few seconds), each row once: a second call for the
    same issue adds only subscribers confirmed since. Sending starts after commit.
    """
    now = timezone.now()
    before = EmailSend.objects.filter(issue=issue).count()
    chunk: list[EmailSend] = []
    subscriber_ids = Subscriber.objects.receiving().order_by("pk").values_list("pk", flat=True)
    for subscriber_id in subscriber_ids.iterator(chunk_size=CREATE_CHUNK):
        chunk.append(EmailSend(issue_id=issue.pk, subscriber_id=subscriber_id, created_at=now))
        if len(chunk) >= CREATE_CHUNK:
            EmailSend.objects.bulk_create(chunk, ignore_conflicts=True)
            chunk = []
    if chunk:
        EmailSend.objects.bulk_create(chunk, ignore_conflicts=True)
    created = EmailSend.objects.filter(issue=issue).count() - before
    if created:
        _queue_lanes(issue.pk, created)
    return created


def _queue_lanes(issue_id: int, rows: int) -> None:
    lanes = max(1, min(settings.EMAIL_SEND_LANES, math.ceil(rows / settings.EMAIL_BATCH_SIZE)))
    for _ in range(lanes):
        _queue(issue_id)


def _queue(issue_id: int, countdown: float = 0) -> None:
    """Queue a sending run after commit. A broker that is down fails nothing: the rows stay
    pending and the sweeper queues a run once it is back."""
    if countdown > 0:
        queue_after_commit("newsletter.send_emails", issue_id=issue_id, countdown=countdown)
    else:
        queue_after_commit("newsletter.send_emails", issue_id=issue_id)


# --- sending -----------------------------------------------------------------------------------


def _lease_seconds() -> float:
    # Renewed between messages once half is used, so half of it must outlast one message:
    # the wait for a slot of the pace, a NOOP, then MAIL, RCPT and DATA, each up to the timeout.
    return max(float(settings.EMAIL_LEASE), 2 * (3 * float(settings.EMAIL_TIMEOUT or 30) + 1))


def _claimable(now):
    return Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)


def _claim(issue_id: int, token: str) -> list[EmailSend]:
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            EmailSend.objects.select_for_update(skip_locked=True)
            .filter(issue_id=issue_id, state=Send.PENDING)
            .filter(_claimable(now))
            .order_by("id")
            .values_list("pk", flat=True)[: settings.EMAIL_BATCH_SIZE]
        )
        if not ids:
            return []
        # Conditional again: on SQLite, which cannot skip locked rows, a concurrent run may
        # have read the same ids; only one UPDATE finds each row still free.
        EmailSend.objects.filter(pk__in=ids, state=Send.PENDING).filter(_claimable(now)).update(
            lease_token=token,
            lease_expires_at=now + timedelta(seconds=_lease_seconds()),
            updated_at=now,
        )
    return list(
        EmailSend.objects.filter(lease_token=token, state=Send.PENDING)
        .select_related("subscriber")
        .order_by("id")
    )


def email_sends_send(*, issue_id: int, yield_to_others: bool = False) -> int:
    """Send the issue's pending emails, a batch at a time. Safe to call any number of times.

    With `yield_to_others` (a worker's run): one batch at most, ending after
    EMAIL_RUN_SECONDS, then the sequel is queued. Without (inline): until nothing is left.
    Returns how many messages were sent.
    """
    issue = Issue.objects.filter(pk=issue_id).first()
    if issue is None:
        return 0
    run = _Run(issue, yield_to_others=yield_to_others)
    try:
        run.go()
    finally:
        run.close()
    return run.sent


class _Run:
    def __init__(self, issue: Issue, *, yield_to_others: bool) -> None:
        self.issue = issue
        self.yield_to_others = yield_to_others
        self.token = uuid.uuid4().hex
        self.started = time.monotonic()
        self.lease_renewed = self.started
        self.email: IssueEmail | None = None
        self.backend = None
        self.sent = 0
        self.handed: int | None = None  # the row handed over with the previous one's answer
        self.slot_wait: float | None = None  # a slot of the pace reserved already

    def go(self) -> None:
        while True:
            rows = _claim(self.issue.pk, self.token)
            if not rows:
                self._after_last_batch()
                return
            self.lease_renewed = time.monotonic()
            outcome = self._batch(rows)
            self._release()
            if outcome == UNREACHABLE:
                return
            if self.yield_to_others:
                _queue(self.issue.pk)  # the sequel, behind whatever else is queued
                return

    def close(self) -> None:
        self._release()
        if self.backend is not None:
            try:
                self.backend.close()
            except Exception as exc:  # a server that went away: nothing left to close
                logger.info("Closing the mail connection: %s", exc)

    def _release(self) -> None:
        EmailSend.objects.filter(lease_token=self.token, state=Send.PENDING).update(
            lease_token="", lease_expires_at=None
        )

    def _after_last_batch(self) -> None:
        """Nothing claimable: rows waiting for a retry time get a run queued for then."""
        if not self.yield_to_others:
            return  # inline: the sweeper takes them up
        next_retry = (
            EmailSend.objects.filter(issue_id=self.issue.pk, state=Send.PENDING, lease_token="")
            .filter(lease_expires_at__gt=timezone.now())
            .aggregate(at=Max("lease_expires_at"))["at"]
        )
        if next_retry is not None:
            seconds = (next_retry - timezone.now()).total_seconds()
            _queue(self.issue.pk, countdown=min(max(seconds, 0.1), settings.EMAIL_SWEEP_AFTER))

    def _batch(self, rows: list[EmailSend]) -> str | None:
        if self.email is None:
            self.email = issue_email(self.issue)
        for index, row in enumerate(rows):
            if (
                self.yield_to_others
                and time.monotonic() - self.started > settings.EMAIL_RUN_SECONDS
                and self.handed != row.pk
            ):
                return None  # released, and the sequel queued by `go`
            self._keep_lease()
            following = rows[index + 1] if index + 1 < len(rows) else None
            outcome = self._one(row, following)
            if outcome == UNREACHABLE:
                return UNREACHABLE
        return None

    def _keep_lease(self) -> None:
        if time.monotonic() - self.lease_renewed < _lease_seconds() / 2:
            return
        now = timezone.now()
        EmailSend.objects.filter(
            lease_token=self.token, state__in=[Send.PENDING, Send.SENDING]
        ).update(lease_expires_at=now + timedelta(seconds=_lease_seconds()), updated_at=now)
        self.lease_renewed = time.monotonic()

    def _one(self, row: EmailSend, following: EmailSend | None) -> str | None:
        """Send one row's message, or say why not; the row records what happened."""
        handed, self.handed = self.handed == row.pk, None
        if not handed:
            self._wait_for_slot()
        problem = self._connect()
        if problem:
            if handed:  # handed over, but nothing went: it waits like the others
                EmailSend.objects.filter(pk=row.pk, state=Send.SENDING).update(state=Send.PENDING)
            self._server_unreachable(row, problem)
            return UNREACHABLE
        if handed:
            message_id = row.message_id
        else:
            message_id = self._message_id(row)
            if not _hand_over(row, self.token, message_id):
                _suppress_if_gone(row)
                return None
        message = self.email.message(
            to=row.subscriber.email,
            token=unsubscribe_token(row.subscriber),
            message_id=message_id,
            send_id=row.pk,
        )
        try:
            self.backend.send_messages([message])
        except Exception as exc:  # every failure is recorded on the row, then classified
            outcome, reason, code = classify(exc)
            self._answered(row, outcome, reason, code)
            if outcome in (UNKNOWN, UNREACHABLE):
                self._drop_connection()
            return outcome
        status = getattr(message, "anymail_status", None)
        provider_id = getattr(status, "message_id", None) if status is not None else None
        if provider_id is None or provider_id == "":
            provider_id = message_id
        self._sent(row, str(provider_id)[:255], following)
        self.sent += 1
        return SENT

    def _message_id(self, row: EmailSend) -> str:
        return f"<issue{self.issue.number}.{row.pk}.{secrets.token_hex(6)}@{mail_domain()}>"

    def _wait_for_slot(self) -> None:
        wait = self.slot_wait if self.slot_wait is not None else pacing.reserve(PACE, _rate())
        self.slot_wait = None
        if wait > 0:
            time.sleep(wait)

    def _sent(self, row: EmailSend, message_id: str, following: EmailSend | None) -> None:
        """Store the answer. When the pace lets the next message go at once, it is handed over
        in the same transaction: one commit per message instead of two."""
        wait = pacing.reserve(PACE, _rate()) if following is not None else None
        now = timezone.now()
        with transaction.atomic():
            EmailSend.objects.filter(pk=row.pk, state__in=[Send.SENDING, Send.UNCONFIRMED]).update(
                updated_at=now,
                state=Send.SENT,
                attempts=F("attempts") + 1,
                message_id=message_id,
                last_error="",
                sent_at=now,
                lease_token="",
                lease_expires_at=None,
            )
            if wait is not None and wait <= SAME_COMMIT_WAIT:
                following.message_id = self._message_id(following)
                if _hand_over(following, self.token, following.message_id):
                    self.handed = following.pk
        self.slot_wait = None if self.handed else wait

    def _connect(self) -> str:
        """An open connection to the mail server ("" when fine), checked before each message:
        one that died since the last message is replaced before anything is handed over."""
        if self.backend is not None:
            if not hasattr(self.backend, "connection"):
                return ""  # not SMTP: a provider's API has no session to check
            if self.backend.connection is not None and _smtp_alive(self.backend.connection):
                return ""
            self._drop_connection()
        backend = get_connection(fail_silently=False)
        try:
            backend.open()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        self.backend = backend
        return ""

    def _drop_connection(self) -> None:
        if self.backend is not None:
            try:
                self.backend.close()
            except Exception as exc:
                logger.info("Closing a broken mail connection: %s", exc)
        self.backend = None

    def _server_unreachable(self, row: EmailSend, problem: str) -> None:
        """Nothing was handed over: every row of the batch waits, and the run ends."""
        retry_at = timezone.now() + timedelta(seconds=settings.EMAIL_RETRY_BACKOFF)
        note = (
            f"Not sent yet: the mail server could not be reached ({problem}). "
            f"Trying again at {retry_at:%H:%M:%S} UTC."
        )[:1000]
        EmailSend.objects.filter(lease_token=self.token, state=Send.PENDING).update(
            updated_at=timezone.now(), lease_token="", lease_expires_at=retry_at, last_error=note
        )
        logger.warning("Issue %s email: mail server unreachable: %s", self.issue.pk, problem)
        if self.yield_to_others:
            _queue(self.issue.pk, countdown=settings.EMAIL_RETRY_BACKOFF)

    def _answered(self, row: EmailSend, outcome: str, reason: str, code: int | None) -> None:
        rows = EmailSend.objects.filter(pk=row.pk, state__in=[Send.SENDING, Send.UNCONFIRMED])
        now = timezone.now()
        if outcome == UNKNOWN:
            rows.update(
                updated_at=timezone.now(),
                state=Send.UNCONFIRMED,
                last_error=(
                    f"The connection broke while the mail server was receiving it ({reason}): "
                    "it may have arrived, so it is not sent again."
                )[:1000],
                lease_token="",
                lease_expires_at=None,
            )
            return
        if outcome == UNREACHABLE:
            # Refused before taking the message (our sender or login): wait, as for a server down.
            rows.update(state=Send.PENDING, updated_at=now)
            self._server_unreachable(row, reason)
            return
        attempts = row.attempts + 1
        if outcome == LATER and attempts < settings.EMAIL_MAX_ATTEMPTS:
            retry_at = now + timedelta(seconds=_backoff(attempts))
            rows.update(
                updated_at=timezone.now(),
                state=Send.PENDING,
                attempts=attempts,
                last_error=(f"Refused for now: {reason} Trying again at {retry_at:%H:%M:%S} UTC.")[
                    :1000
                ],
                lease_token="",
                lease_expires_at=retry_at,
            )
            return
        if outcome == LATER:
            reason = f"Gave up after {attempts} attempts. Last answer: {reason}"
        rows.update(
            updated_at=timezone.now(),
            state=Send.FAILED,
            attempts=attempts,
            last_error=reason[:1000],
            lease_token="",
            lease_expires_at=None,
        )
        if outcome == REFUSED and code is not None and address_refused(reason):
            subscriber_bounce(
                subscriber=row.subscriber, hard=mailbox_unknown(reason), reason=reason[:250]
            )


def _rate() -> float:
    return float(settings.EMAIL_SEND_RATE)


def _hand_over(row: EmailSend, token: str, message_id: str) -> bool:
    """pending → sending, committed before the message leaves; False if it may not go.

    An address that stops receiving has its pending rows suppressed at once
    (`subscribers.sends_suppress_waiting`), so "still pending" means "still wanted"."""
    return bool(
        EmailSend.objects.filter(pk=row.pk, state=Send.PENDING, lease_token=token).update(
            state=Send.SENDING, message_id=message_id, updated_at=timezone.now()
        )
    )


def _suppress_if_gone(row: EmailSend) -> None:
    """The row could not be handed over: if its subscriber left, it is not sent at all."""
    EmailSend.objects.filter(pk=row.pk, state=Send.PENDING).exclude(
        subscriber__state=Subscriber.State.CONFIRMED
    ).update(
        updated_at=timezone.now(),
        state=Send.SUPPRESSED,
        last_error="Not sent: the address unsubscribed before its turn.",
        lease_token="",
        lease_expires_at=None,
    )


def _smtp_alive(smtp) -> bool:
    try:
        return smtp.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _backoff(attempts: int) -> float:
    """Seconds before the next try after the n-th temporary refusal: base × 2^(n-1), ≤ 1 h."""
    return min(settings.EMAIL_RETRY_BACKOFF * 2 ** (attempts - 1), 3600.0)


# --- the sweeper, retries, tests ---------------------------------------------------------------


def email_sends_sweep(*, now=None) -> dict[str, int]:
    """Mark what dead runs left handed over, and queue runs for issues nobody is sending."""
    now = now or timezone.now()
    unconfirmed = EmailSend.objects.filter(state=Send.SENDING, lease_expires_at__lt=now).update(
        updated_at=timezone.now(),
        state=Send.UNCONFIRMED,
        last_error=(
            "The worker stopped after handing it to the mail server, before the answer was "
            "recorded: it may have arrived, so it is not sent again."
        ),
        lease_token="",
        lease_expires_at=None,
    )
    stale_before = now - timedelta(seconds=settings.EMAIL_SWEEP_AFTER)
    queued = 0
    issue_ids = (
        EmailSend.objects.filter(state=Send.PENDING)
        .filter(_claimable(now))
        .values_list("issue_id", flat=True)
        .distinct()
    )
    for issue_id in list(issue_ids):
        last = EmailSend.objects.filter(issue_id=issue_id).aggregate(at=Max("updated_at"))["at"]
        if last is not None and last >= stale_before:
            continue  # a run is at work (or was queued a moment ago)
        first = (
            EmailSend.objects.filter(issue_id=issue_id, state=Send.PENDING)
            .order_by("id")
            .values_list("pk", flat=True)
            .first()
        )
        # Touched, so the next sweep leaves the issue alone while this run is queued.
        EmailSend.objects.filter(pk=first).update(updated_at=now)
        _queue_lanes(
            issue_id, EmailSend.objects.filter(issue_id=issue_id, state=Send.PENDING).count()
        )
        queued += 1
    if unconfirmed or queued:
        logger.info(
            "Email sweeper: %s left unconfirmed, runs queued for %s issues.", unconfirmed, queued
        )
    return {"unconfirmed": unconfirmed, "issues": queued}


def email_sends_retry_failed(*, issue: Issue) -> int:
    """Send again what was refused (never handed over, so never received), to addresses that
    still subscribe. Unconfirmed rows stay as they are: they may have arrived."""
    with transaction.atomic():
        count = EmailSend.objects.filter(
            issue=issue, state=Send.FAILED, subscriber__state=Subscriber.State.CONFIRMED
        ).update(
            state=Send.PENDING,
            attempts=0,
            last_error="",
            lease_token="",
            lease_expires_at=None,
            updated_at=timezone.now(),
        )
        if count:
            _queue_lanes(issue.pk, count)
    return count


def email_send_test(*, issue: Issue, to: str, email: IssueEmail | None = None) -> str:
    """Send the issue as it would go out now to one address (an editor's), marked as a test.
    Raises what the backend raised; returns the Message-ID."""
    email = email or issue_email(issue)
    message_id = f"<test.issue{issue.number}.{secrets.token_hex(6)}@{mail_domain()}>"
    message = email.message(to=to, token=unsubscribe_token(None), message_id=message_id)
    message.subject = f"[Test] {message.subject}"
    pacing.wait_turn(PACE, settings.EMAIL_SEND_RATE)
    message.send()
    return message_id


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailProgress:
    total: int = 0
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    unconfirmed: int = 0
    waiting: int = 0  # pending or being handed over
    bounced: int = 0
    last_problem: str = ""

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.suppressed + self.unconfirmed


def email_progress(issue: Issue) -> EmailProgress:
    """How far the issue's email went: counts by state and the latest problem, two queries."""
    counts = {
        row["state"]: row["n"]
        for row in EmailSend.objects.filter(issue=issue)
        .order_by()
        .values("state")
        .annotate(n=Count("id"))
    }
    if not counts:
        return EmailProgress()
    bounced = EmailSend.objects.filter(issue=issue).exclude(bounce="").count()
    problem = (
        EmailSend.objects.filter(issue=issue, state__in=[Send.PENDING, Send.FAILED])
        .exclude(last_error="")
        .order_by("-updated_at")
        .values_list("last_error", flat=True)
        .first()
    )
    return EmailProgress(
        total=sum(counts.values()),
        sent=counts.get(Send.SENT, 0),
        failed=counts.get(Send.FAILED, 0),
        suppressed=counts.get(Send.SUPPRESSED, 0),
        unconfirmed=counts.get(Send.UNCONFIRMED, 0),
        waiting=counts.get(Send.PENDING, 0) + counts.get(Send.SENDING, 0),
        bounced=bounced,
        last_problem=problem or "",
    )

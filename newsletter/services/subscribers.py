"""Every write to the email list: subscribing, confirming, unsubscribing, imports and bounces.

Double opt-in: an address asks (the subscribe form, an editor's import), gets an email with a
signed link (django.core.signing, valid EMAIL_CONFIRM_DAYS days), and receives issues only
once the link is used. What a visitor sees never depends on whether an address is on the list:
subscribing a new, pending, confirmed or unsubscribed address answers the same, and the
address's owner learns the rest by email, at most one email per address per hour.

Unsubscribing takes a signed token that never expires (the link in every email's footer and
its List-Unsubscribe header) and is immediate: sends of an issue still waiting for the
address are suppressed at once, and a run about to send one checks the state again.

Bounces and complaints, which end or suspend a subscription, are in `bounces.py`.
"""

from __future__ import annotations

import csv
import io
import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import idna
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from newsletter.email import notice_message
from newsletter.models import EmailSend, Subscriber
from portal import pacing
from portal.celery import queue_after_commit
from portal.site import absolute_url

logger = logging.getLogger(__name__)

State = Subscriber.State
Source = Subscriber.Source
Notice = Subscriber.Notice

MAX_LENGTH = 254  # RFC 5321's limit for a forward path
MAX_LOCAL_LENGTH = 64
NOTICE_INTERVAL = timedelta(hours=1)
_CONFIRM_SALT = "newsletter.subscriber.confirm"
_UNSUBSCRIBE_SALT = "newsletter.subscriber.unsubscribe"
# The token of test emails' unsubscribe links: it unsubscribes nobody.
TEST_TOKEN_PK = 0


class AddressError(ValidationError):
    """An address we cannot send to, with a message for the person who typed it."""


class TokenError(Exception):
    """A confirmation or unsubscribe link that is not (or no longer) valid."""


# --- addresses ---------------------------------------------------------------------------------


def address_clean(value: object) -> tuple[str, str]:
    """The address as we store it and its key (what makes two spellings one address).

    Compatibility forms fold (NFKC: "ａｄａ" is "ada"), case does not count, and the domain is
    kept in its ASCII form (IDNA), so a lookalike domain shows as the "xn--" name it is. The
    part before the @ must be ASCII: "аda" with a Cyrillic "а" is another mailbox that reads
    like "ada", and most mail servers cannot deliver to such addresses anyway.
    """
    if not isinstance(value, str) or not value.strip():
        raise AddressError("Enter your email address.", code="required")
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value):
        raise AddressError(
            "An email address is one line, without line breaks or control characters.",
            code="invalid",
        )
    value = value.strip()
    if len(value) > MAX_LENGTH:
        raise AddressError(
            f"An email address has at most {MAX_LENGTH} characters.", code="max_length"
        )
    value = unicodedata.normalize("NFKC", value)
    if any(unicodedata.category(char) == "Cf" or char.isspace() for char in value):
        raise AddressError(
            "This address contains spaces or invisible characters; type it again.", code="invalid"
        )
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise AddressError("Enter a complete address, such as ada@example.org.", code="invalid")
    if not local.isascii():
        raise AddressError(
            "Write the part before the @ in plain Latin letters and digits: some letters "
            "(such as a Cyrillic “а”) look like Latin ones but make another address.",
            code="invalid",
        )
    try:
        ascii_domain = idna.encode(domain.rstrip("."), uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        raise AddressError(
            "The part after the @ is not a domain name we can send to.", code="invalid"
        ) from None
    address = f"{local}@{ascii_domain}"
    if len(local) > MAX_LOCAL_LENGTH or len(address) > MAX_LENGTH:
        raise AddressError("This address is too long to be a real one.", code="max_length")
    try:
        validate_email(address)
    except ValidationError:
        raise AddressError(
            "Enter a valid email address, such as ada@example.org.", code="invalid"
        ) from None
    return address, address.lower()


def subscriber_for_address(value: str) -> Subscriber | None:
    try:
        _, key = address_clean(value)
    except AddressError:
        return None
    return Subscriber.objects.filter(key=key).first()


# --- signed links ------------------------------------------------------------------------------


def confirm_token(subscriber: Subscriber) -> str:
    return signing.TimestampSigner(salt=_CONFIRM_SALT).sign_object(
        {"s": subscriber.pk, "k": subscriber.key}
    )


def confirm_url(subscriber: Subscriber) -> str:
    return absolute_url(reverse("email:confirm", args=[confirm_token(subscriber)]))


def unsubscribe_token(subscriber: Subscriber | None) -> str:
    """Never expires: an old issue's link must still work. None: a test email's token."""
    pk = TEST_TOKEN_PK if subscriber is None else subscriber.pk
    return signing.Signer(salt=_UNSUBSCRIBE_SALT).sign(str(pk))


def unsubscribe_url(subscriber: Subscriber | None) -> str:
    return absolute_url(reverse("email:unsubscribe", args=[unsubscribe_token(subscriber)]))


def subscriber_from_confirm_token(token: str) -> Subscriber:
    try:
        data = signing.TimestampSigner(salt=_CONFIRM_SALT).unsign_object(
            token, max_age=timedelta(days=settings.EMAIL_CONFIRM_DAYS)
        )
    except signing.SignatureExpired:
        raise TokenError(
            "This confirmation link has expired. Subscribe again to get a new one."
        ) from None
    except (signing.BadSignature, ValueError, TypeError):
        raise TokenError("This confirmation link is not valid; copy the whole link.") from None
    subscriber = (
        Subscriber.objects.filter(pk=data.get("s"), key=data.get("k")).first()
        if isinstance(data, dict)
        else None
    )
    if subscriber is None:
        raise TokenError("This address is no longer on our list. Subscribe again.")
    return subscriber


def subscriber_from_unsubscribe_token(token: str) -> Subscriber | None:
    """The subscriber of an unsubscribe link; None for a test email's link."""
    try:
        value = signing.Signer(salt=_UNSUBSCRIBE_SALT).unsign(token)
    except signing.BadSignature:
        raise TokenError("This unsubscribe link is not valid; copy the whole link.") from None
    if not value.isdigit():
        raise TokenError("This unsubscribe link is not valid; copy the whole link.")
    if int(value) == TEST_TOKEN_PK:
        return None
    subscriber = Subscriber.objects.filter(pk=int(value)).first()
    if subscriber is None:
        raise TokenError("This address is no longer on our list: nothing will be sent to it.")
    return subscriber


# --- subscribing -------------------------------------------------------------------------------


def subscriber_subscribe(
    *, email: str, source: str = Source.FORM, now: datetime | None = None
) -> Subscriber:
    """Ask for the newsletter at `email`; the owner of the address is told by email.

    A new or lapsed address gets the confirmation link; a confirmed one a note that it is
    subscribed already. Either way, at most one such email per address per hour.
    """
    address, key = address_clean(email)
    now = now or timezone.now()
    with transaction.atomic():
        found, _ = Subscriber.objects.get_or_create(
            key=key, defaults={"email": address, "source": source, "created_at": now}
        )
        subscriber = Subscriber.objects.select_for_update().get(pk=found.pk)
        if subscriber.state == State.CONFIRMED:
            _notice_request(subscriber, Notice.ALREADY, now)
            return subscriber
        if subscriber.state != State.PENDING:
            subscriber.state = State.PENDING
            subscriber.source = source
            subscriber.email = address
            subscriber.save(update_fields=["state", "source", "email"])
        _notice_request(subscriber, Notice.CONFIRM, now)
    return subscriber


def _notice_request(subscriber: Subscriber, notice: str, now: datetime) -> bool:
    """Owe the address `notice`, unless it was owed one less than an hour ago."""
    last = subscriber.notice_requested_at
    if last is not None and now - last < NOTICE_INTERVAL:
        return False
    subscriber.notice = notice
    subscriber.notice_requested_at = now
    subscriber.save(update_fields=["notice", "notice_requested_at"])
    queue_after_commit("newsletter.send_subscriber_notice", subscriber_id=subscriber.pk)
    return True


def subscriber_confirm(*, token: str) -> Subscriber:
    """Use a confirmation link: from now on the address receives each issue."""
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(
            pk=subscriber_from_confirm_token(token).pk
        )
        if subscriber.state in (State.UNSUBSCRIBED, State.SUSPENDED):
            raise TokenError(
                "This link is older than your last unsubscribe. To receive the newsletter "
                "again, subscribe again."
            )
        if subscriber.state == State.PENDING:
            _confirm(subscriber)
    return subscriber


def _confirm(subscriber: Subscriber) -> None:
    subscriber.state = State.CONFIRMED
    subscriber.confirmed_at = timezone.now()
    subscriber.unsubscribed_at = None
    subscriber.reason = ""
    subscriber.soft_bounces_in_a_row = 0
    subscriber.save(
        update_fields=[
            "state",
            "confirmed_at",
            "unsubscribed_at",
            "reason",
            "soft_bounces_in_a_row",
        ]
    )


def subscriber_unsubscribe(*, subscriber: Subscriber, reason: str) -> bool:
    """Stop sending to the address now, recording why. False if it was not receiving."""
    with transaction.atomic():
        changed = (
            Subscriber.objects.filter(pk=subscriber.pk)
            .exclude(state=State.UNSUBSCRIBED)
            .update(state=State.UNSUBSCRIBED, unsubscribed_at=timezone.now(), reason=reason[:300])
        )
        sends_suppress_waiting(subscriber, "Unsubscribed before it was sent.")
    subscriber.refresh_from_db()
    return bool(changed)


def sends_suppress_waiting(subscriber: Subscriber, why: str) -> None:
    """Sends still waiting for the address are not sent. A run that has claimed one checks
    the state again just before sending (newsletter.services.email_delivery)."""
    EmailSend.objects.filter(subscriber=subscriber, state=EmailSend.State.PENDING).update(
        state=EmailSend.State.SUPPRESSED, last_error=why, lease_token="", lease_expires_at=None
    )


def subscriber_resubscribe(*, subscriber: Subscriber) -> Subscriber:
    """From the unsubscribe page: its signed link proves the mailbox, so no new opt-in."""
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.state != State.CONFIRMED:
            _confirm(subscriber)
    return subscriber


# --- members' profile switch -------------------------------------------------------------------


def subscriber_for_member(user) -> Subscriber | None:
    return subscriber_for_address(user.email) if user.email else None


def member_receives_issues(user) -> bool:
    subscriber = subscriber_for_member(user)
    return subscriber is not None and subscriber.state == State.CONFIRMED


def subscriber_set_for_member(*, user, receive: bool) -> Subscriber | None:
    """The profile switch. A verified account address needs no confirmation email."""
    if not user.email:
        return None
    if not receive:
        subscriber = subscriber_for_member(user)
        if subscriber is not None and subscriber.state != State.UNSUBSCRIBED:
            subscriber_unsubscribe(subscriber=subscriber, reason="switched off in the profile")
        return subscriber
    verified = EmailAddress.objects.filter(
        user=user, email__iexact=user.email, verified=True
    ).exists()
    if not verified:
        return subscriber_subscribe(email=user.email, source=Source.PROFILE)
    address, key = address_clean(user.email)
    with transaction.atomic():
        found, _ = Subscriber.objects.get_or_create(
            key=key, defaults={"email": address, "source": Source.PROFILE}
        )
        subscriber = Subscriber.objects.select_for_update().get(pk=found.pk)
        if subscriber.state != State.CONFIRMED:
            subscriber.source = Source.PROFILE
            subscriber.save(update_fields=["source"])
            _confirm(subscriber)
    return subscriber


# --- editors' imports --------------------------------------------------------------------------


@dataclass
class ImportReport:
    added: int = 0
    already: int = 0
    invalid: list[tuple[int, str, str]] = field(default_factory=list)  # (line, text, why)


def subscribers_import(*, text: str) -> ImportReport:
    """Add the addresses of a CSV file or a pasted list (the first cell with an @ of each
    line). New addresses get the confirmation email like anyone subscribing; addresses on
    the list already are left as they are: an import never undoes an unsubscribe."""
    report = ImportReport()
    wanted: dict[str, str] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cell = next((value for value in row if "@" in value), "")
        if not cell.strip():
            if any(value.strip() for value in row) and number > 1:
                report.invalid.append((number, ",".join(row)[:100], "No email address."))
            continue
        try:
            address, key = address_clean(cell)
        except AddressError as exc:
            report.invalid.append((number, cell[:100], " ".join(exc.messages)))
            continue
        wanted.setdefault(key, address)
    keys = list(wanted)
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        with transaction.atomic():
            known = set(Subscriber.objects.filter(key__in=chunk).values_list("key", flat=True))
            report.already += len(known)
            now = timezone.now()
            created = Subscriber.objects.bulk_create(
                [
                    Subscriber(
                        email=wanted[key],
                        key=key,
                        source=Source.IMPORT,
                        notice=Notice.CONFIRM,
                        notice_requested_at=now,
                        created_at=now,
                    )
                    for key in chunk
                    if key not in known
                ],
                ignore_conflicts=True,
            )
            report.added += len(created)
            for key in chunk:
                if key not in known:
                    queue_after_commit("newsletter.send_subscriber_notice", key=key)
    return report


# --- the notices (confirmation link, "already subscribed") -------------------------------------


def notice_send(*, subscriber_id: int | None = None, key: str | None = None) -> bool:
    """Send the email the address is owed, once; the sweeper retries one a failure left."""
    rows = Subscriber.objects.exclude(notice="")
    subscriber = (
        rows.filter(pk=subscriber_id).first()
        if subscriber_id is not None
        else rows.filter(key=key).first()
    )
    if subscriber is None:
        return False
    kind, requested_at = subscriber.notice, subscriber.notice_requested_at
    claimed = Subscriber.objects.filter(
        pk=subscriber.pk, notice=kind, notice_requested_at=requested_at
    ).update(notice="", notice_sent_at=timezone.now())
    if not claimed:
        return False  # another run took it
    if kind == Notice.CONFIRM:
        context = {"confirm_url": confirm_url(subscriber), "days": settings.EMAIL_CONFIRM_DAYS}
    else:
        context = {"unsubscribe_url": unsubscribe_url(subscriber)}
    pacing.wait_turn("email", settings.EMAIL_SEND_RATE)
    try:
        notice_message(kind=kind, to=subscriber.email, context=context).send()
    except Exception:
        # Owed again: the sweeper tries once NEWSLETTER_SWEEP_AFTER has passed.
        Subscriber.objects.filter(pk=subscriber.pk, notice="").update(
            notice=kind, notice_sent_at=subscriber.notice_sent_at
        )
        raise
    return True


def notices_sweep(*, now: datetime | None = None) -> int:
    """Queue again the notices a down broker or mail server left unsent."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.NEWSLETTER_SWEEP_AFTER)
    ids = list(
        Subscriber.objects.exclude(notice="")
        .filter(notice_requested_at__lt=stale)
        .values_list("pk", flat=True)[:1000]
    )
    for subscriber_id in ids:
        # Due again in NEWSLETTER_SWEEP_AFTER if this run is lost too.
        Subscriber.objects.filter(pk=subscriber_id).update(notice_requested_at=now)
        queue_after_commit("newsletter.send_subscriber_notice", subscriber_id=subscriber_id)
    return len(ids)

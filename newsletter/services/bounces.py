"""Bounces and complaints: what the provider's tracking webhook (django-anymail) reports.

A hard bounce or a complaint unsubscribes the address and records why; soft bounces are
counted, one per message, and EMAIL_SOFT_BOUNCE_LIMIT of them in a row (a delivery in between
resets the count) suspend the address until it subscribes again. A mail server that refuses
an address outright while sending (a 5xx) counts as a bounce too (`subscriber_bounce`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from newsletter.models import EmailSend, Subscriber

from .subscribers import sends_suppress_waiting, subscriber_for_address, subscriber_unsubscribe

logger = logging.getLogger(__name__)

State = Subscriber.State


HARD, SOFT, COMPLAINT, DELIVERED, UNSUBSCRIBED = (
    "hard",
    "soft",
    "complaint",
    "delivered",
    "unsubscribed",
)
_TEMPORARY_TYPES = {"softbounce", "transient", "dnserror", "autoresponder", "openrelaytest"}


@dataclass(frozen=True)
class TrackingEvent:
    """What a provider told us about one message, in anymail's normalised terms."""

    event_type: str  # anymail.signals.EventType: "bounced", "deferred", "complained", …
    recipient: str
    reject_reason: str = ""
    description: str = ""
    mta_response: str = ""
    message_id: str = ""
    send_id: str = ""
    esp_type: str = ""  # the provider's own kind of bounce, where it has one


def tracking_outcome(event: TrackingEvent) -> str | None:
    """hard, soft, complaint, delivered, unsubscribed, or None (nothing for the list).

    anymail calls every non-delivery "bounced"; the temporary ones are told apart by the
    provider's own type (Postmark's SoftBounce, Amazon SES's Transient), or by a 4xx answer.
    """
    kind = event.event_type
    if kind == "complained" or (kind == "rejected" and event.reject_reason == "spam"):
        return COMPLAINT
    if kind == "unsubscribed" or (kind == "rejected" and event.reject_reason == "unsubscribed"):
        return UNSUBSCRIBED
    if kind == "delivered":
        return DELIVERED
    if kind == "deferred":
        return SOFT
    if kind == "rejected":
        return HARD if event.reject_reason in ("bounced", "invalid") else None
    if kind != "bounced":
        return None
    esp_type = event.esp_type.replace(" ", "").lower()
    temporary = (
        esp_type in _TEMPORARY_TYPES
        or event.description.lower().startswith("transient")
        or event.mta_response.strip()[:1] == "4"
    )
    return SOFT if temporary else HARD


def subscriber_record_event(*, event: TrackingEvent) -> str | None:
    """Apply a provider's report to the address it is about; returns what it was."""
    outcome = tracking_outcome(event)
    if outcome is None:
        return None
    subscriber = subscriber_for_address(event.recipient or "")
    send = _send_of(event, subscriber)
    why = (event.mta_response or event.description or event.event_type).strip()[:250]
    if send is not None and outcome in (HARD, SOFT, COMPLAINT):
        if send.bounce and outcome == SOFT:
            return outcome  # the same message deferred again: one soft bounce per message
        EmailSend.objects.filter(pk=send.pk).update(bounce=outcome, last_error=f"{outcome}: {why}")
    if subscriber is None:
        logger.info("Tracking event %s for an address not on the list.", outcome)
        return outcome
    if outcome == DELIVERED:
        Subscriber.objects.filter(pk=subscriber.pk).update(soft_bounces_in_a_row=0)
    elif outcome == COMPLAINT:
        subscriber_unsubscribe(subscriber=subscriber, reason=f"complaint (marked as spam): {why}")
    elif outcome == UNSUBSCRIBED:
        subscriber_unsubscribe(subscriber=subscriber, reason=f"unsubscribed at the provider: {why}")
    else:
        subscriber_bounce(subscriber=subscriber, hard=outcome == HARD, reason=why)
    return outcome


def _send_of(event: TrackingEvent, subscriber: Subscriber | None) -> EmailSend | None:
    rows = EmailSend.objects.all()
    if subscriber is not None:
        rows = rows.filter(subscriber=subscriber)
    if event.send_id.isdigit():
        return rows.filter(pk=int(event.send_id)).first()
    if event.message_id:
        return rows.filter(message_id=event.message_id).first()
    return None


def subscriber_bounce(*, subscriber: Subscriber, hard: bool, reason: str) -> Subscriber:
    """A bounce: hard unsubscribes at once; soft ones suspend after the limit in a row.

    Also used for a mail server's own refusal of the address when sending (a 5xx).
    """
    now = timezone.now()
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        subscriber.bounce_count += 1
        subscriber.last_bounce_at = now
        subscriber.last_bounce = f"{'hard' if hard else 'soft'}: {reason}"[:300]
        fields = ["bounce_count", "last_bounce_at", "last_bounce"]
        receiving = subscriber.state in (State.CONFIRMED, State.PENDING)
        if hard:
            if receiving:
                subscriber.state = State.UNSUBSCRIBED
                subscriber.unsubscribed_at = now
                subscriber.reason = f"hard bounce: {reason}"[:300]
                fields += ["state", "unsubscribed_at", "reason"]
        else:
            subscriber.soft_bounces_in_a_row += 1
            fields.append("soft_bounces_in_a_row")
            limit = settings.EMAIL_SOFT_BOUNCE_LIMIT
            if receiving and subscriber.soft_bounces_in_a_row >= limit:
                subscriber.state = State.SUSPENDED
                subscriber.unsubscribed_at = now
                subscriber.reason = f"{limit} soft bounces in a row; last: {reason}"[:300]
                fields += ["state", "unsubscribed_at", "reason"]
        subscriber.save(update_fields=fields)
        if subscriber.state in (State.UNSUBSCRIBED, State.SUSPENDED):
            sends_suppress_waiting(subscriber, f"Not sent: {subscriber.reason}")
    return subscriber

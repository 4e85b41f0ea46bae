"""Every write to events and RSVPs goes through these functions.

Views, admin actions and tasks call them; none re-implements them. Two requests
racing for the last seat are serialised by a lock on the event's row
(`select_for_update`), so the going count never exceeds the capacity. Emails and
Discord posts are queued with `transaction.on_commit`, so nothing is sent for a
change that was rolled back.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from newsletter.models import DiscordChannel
from newsletter.services.delivery import delivery_create
from portal.celery import queue_after_commit
from portal.markdown import render_markdown
from portal.pagecache import reader_pages_changed
from portal.states import transition_check
from portal.text import one_line

from .ical import calendar_document
from .messages import event_email, reminder_discord_message
from .models import RSVP, Event, Reminder

Status = RSVP.Status
State = Event.State

# Fields whose change a calendar subscriber must see: they bump SEQUENCE (RFC 5545).
CALENDAR_FIELDS = ("title", "description", "start", "end", "location", "state")

# Which state may follow which; a published event is cancelled, never sent back to draft.
TRANSITIONS: dict[str, set[str]] = {
    State.DRAFT: {State.PUBLISHED, State.CANCELLED},
    State.PUBLISHED: {State.CANCELLED},
    State.CANCELLED: set(),
}


class RSVPRefused(ValidationError):
    """The answer cannot be taken (deadline passed, event cancelled or not published)."""


@dataclass(frozen=True)
class RSVPResult:
    rsvp: RSVP
    # Place on the waiting list (1 is next), None when not waitlisted.
    place: int | None
    promoted: RSVP | None = None


# --- RSVPs ------------------------------------------------------------------------------


def rsvp_set(
    *, event: Event, user, status: str, now: datetime | None = None, confirm: bool = True
) -> RSVPResult:
    """Record a member's answer. "Going" on a full event puts them on the waiting list.

    A new "Going" is confirmed by email with the event's .ics (`confirm=False`: not, for
    answers loaded rather than given, such as the demo's).

    The event's row is locked for the whole decision, so concurrent answers are
    counted one after another. When a going member stops going, the first member
    on the waiting list takes the seat at once and is emailed.
    """
    if status not in (Status.GOING, Status.MAYBE, Status.NOT_GOING):
        raise RSVPRefused("Choose going, maybe or not going.", code="invalid")
    with transaction.atomic():
        locked = Event.objects.select_for_update().get(pk=event.pk)
        # Read after the lock: the waiting list's order is the order answers were decided.
        now = now or timezone.now()
        _check_open(locked, now)
        rsvp = RSVP.objects.filter(event=locked, user=user).first()
        previous = rsvp.status if rsvp else None
        if rsvp is None:
            rsvp = RSVP(event=locked, user=user)
        if status == Status.GOING:
            if previous in (Status.GOING, Status.WAITLISTED):
                return RSVPResult(rsvp=rsvp, place=waitlist_place(rsvp))
            if _seats_left(locked) != 0:
                rsvp.status = Status.GOING
                rsvp.waitlisted_at = None
            else:
                rsvp.status = Status.WAITLISTED
                rsvp.waitlisted_at = now
        else:
            rsvp.status = status
            rsvp.waitlisted_at = None
        rsvp.save()
        if confirm and rsvp.status == Status.GOING and previous != Status.GOING:
            queue_after_commit("events.send_going_email", rsvp_id=rsvp.pk)
        promoted = None
        if previous == Status.GOING and rsvp.status != Status.GOING:
            filled = _fill_from_waitlist(locked, now=now)
            promoted = filled[0] if filled else None
        _pages_changed()
    return RSVPResult(rsvp=rsvp, place=waitlist_place(rsvp), promoted=promoted)


def _check_open(event: Event, now: datetime) -> None:
    if event.state == State.CANCELLED:
        raise RSVPRefused("This event was cancelled.", code="cancelled")
    if event.state != State.PUBLISHED:
        raise RSVPRefused("This event is not open for answers.", code="draft")
    if now >= event.answers_close_at:
        if event.rsvp_deadline and event.rsvp_deadline < event.start:
            raise RSVPRefused("The RSVP deadline has passed.", code="deadline")
        raise RSVPRefused("This event has started; answers are closed.", code="started")


def _seats_left(event: Event) -> int | None:
    """Seats left (None: no limit). Call with the event's row locked."""
    if event.capacity is None:
        return None
    going = RSVP.objects.filter(event=event, status=Status.GOING).count()
    return max(event.capacity - going, 0)


def _fill_from_waitlist(event: Event, *, now: datetime) -> list[RSVP]:
    """Promote the first waitlisted members into free seats, and queue their emails."""
    seats = _seats_left(event)
    waiting = RSVP.objects.filter(event=event, status=Status.WAITLISTED).order_by(
        "waitlisted_at", "id"
    )
    if seats is not None:
        waiting = waiting[:seats]
    promoted = list(waiting)
    for rsvp in promoted:
        rsvp.status = Status.GOING
        rsvp.waitlisted_at = None
        rsvp.promoted_at = now
        rsvp.save(update_fields=["status", "waitlisted_at", "promoted_at", "updated_at"])
        queue_after_commit("events.send_promotion_email", rsvp_id=rsvp.pk)
    return promoted


def waitlist_place(rsvp: RSVP) -> int | None:
    """1 for the next member to get a seat; None when the member is not waiting."""
    if rsvp.pk is None or rsvp.status != Status.WAITLISTED:
        return None
    ahead = (
        RSVP.objects.filter(event_id=rsvp.event_id, status=Status.WAITLISTED)
        .filter(
            Q(waitlisted_at__lt=rsvp.waitlisted_at)
            | Q(waitlisted_at=rsvp.waitlisted_at, id__lt=rsvp.pk)
        )
        .count()
    )
    return ahead + 1


# --- The member's own calendar ----------------------------------------------------------


def calendar_token_reset(*, user) -> str:
    """A new secret for the member's personal calendar URL; the old URL stops working."""
    user.calendar_token = secrets.token_urlsafe(24)
    user.save(update_fields=["calendar_token"])
    _calendar_link_changed()
    return user.calendar_token


def calendar_token_revoke(*, user) -> None:
    """No personal calendar URL any more: calendars subscribed to it get a 404."""
    user.calendar_token = ""
    user.save(update_fields=["calendar_token"])
    _calendar_link_changed()


# --- Events -------------------------------------------------------------------------------


def event_save(*, event: Event, by=None, now: datetime | None = None) -> Event:
    """Create or update an event as an organiser entered it.

    Renders the description, bumps SEQUENCE when a published event changes what a
    calendar shows, resets reminders when the start moves, fills seats a larger
    capacity opened, and routes a change to "cancelled" through `event_cancel`.
    """
    now = now or timezone.now()
    event.title = one_line(event.title)
    event.resource_title = one_line(event.resource_title)
    event.location = one_line(event.location)
    with transaction.atomic():
        before = Event.objects.select_for_update().filter(pk=event.pk).first() if event.pk else None
        if before is not None and event.state != before.state:
            transition_check(
                TRANSITIONS,
                thing="event",
                from_state=before.state,
                to_state=event.state,
                labels=dict(State.choices),
                hint="Cancel it instead." if before.state == State.PUBLISHED else "",
            )
        cancelling = event.state == State.CANCELLED and (
            before is None or before.state != State.CANCELLED
        )
        if cancelling:
            # Saved as it was first; event_cancel then records who cancelled and when.
            event.state = before.state if before else State.DRAFT
        event.description_html = render_markdown(event.description)
        changed = before is not None and any(
            getattr(before, name) != getattr(event, name) for name in CALENDAR_FIELDS
        )
        if changed and before.state != State.DRAFT:
            event.sequence = before.sequence + 1
        if event.pk is None and event.created_by_id is None and by is not None:
            event.created_by = by
        event.save()
        if before is not None and before.start != event.start:
            # Reminders were for the old time: the new one gets its own.
            event.reminders.all().delete()
        more_seats = (
            before is not None
            and before.capacity is not None
            and (event.capacity is None or event.capacity > before.capacity)
        )
        if more_seats and event.state == State.PUBLISHED:
            _fill_from_waitlist(event, now=now)
        if cancelling:
            event_cancel(event=event, by=by, now=now)
            event.refresh_from_db()
        _pages_changed()
    return event


def event_cancel(*, event: Event, by=None, now: datetime | None = None) -> Event:
    """Cancel an event: it stays visible as cancelled; going and maybe members are emailed."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Event.objects.select_for_update().get(pk=event.pk)
        if locked.state == State.CANCELLED:
            return locked
        was_published = locked.state == State.PUBLISHED
        locked.state = State.CANCELLED
        locked.cancelled_at = now
        locked.cancelled_by = by if by is not None and by.pk else None
        if was_published:
            locked.sequence += 1
        locked.save(
            update_fields=["state", "cancelled_at", "cancelled_by", "sequence", "updated_at"]
        )
        if was_published:
            queue_after_commit("events.send_cancellation_emails", event_id=locked.pk)
        _pages_changed()
    event.state, event.cancelled_at, event.sequence = (
        locked.state,
        locked.cancelled_at,
        locked.sequence,
    )
    return locked


# --- Reminders ----------------------------------------------------------------------------


def reminder_leads() -> list[int]:
    """Lead times in minutes, largest first (EVENT_REMINDER_LEADS)."""
    return sorted(
        {int(lead) for lead in settings.EVENT_REMINDER_LEADS if int(lead) > 0}, reverse=True
    )


def reminders_due(*, now: datetime | None = None) -> list[tuple[Event, int]]:
    """(event, lead) pairs whose reminder should go out now.

    For each published event not yet started, only the smallest lead whose time has
    come counts (an event published an hour before gets the one-hour reminder, not
    also the day-before one). A lead is skipped when an earlier reminder went out
    less than twice that lead before the start: it already said the same thing.
    """
    now = now or timezone.now()
    leads = reminder_leads()
    if not leads:
        return []
    events = (
        Event.objects.published()
        .filter(start__gt=now, start__lte=now + timedelta(minutes=leads[0]))
        .prefetch_related("reminders")
        .order_by("start", "id")
    )
    due = []
    for event in events:
        lead = min(lead for lead in leads if event.start - timedelta(minutes=lead) <= now)
        sent = {r.lead_minutes: r for r in event.reminders.all()}
        if lead in sent:
            continue
        recent = [
            r for r in sent.values() if r.created_at >= event.start - timedelta(minutes=2 * lead)
        ]
        if recent:
            continue
        due.append((event, lead))
    return due


def reminder_send(*, event: Event, lead: int, now: datetime | None = None) -> Reminder | None:
    """Send one reminder once: the Reminder row, the Discord deliveries and the emails
    are committed together; a second call (beat firing twice) finds the row and stops."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            reminder = Reminder.objects.create(event=event, lead_minutes=lead, created_at=now)
            content = reminder_discord_message(event)
            for channel in DiscordChannel.objects.filter(active=True, receives_reminders=True):
                delivery_create(
                    channel=channel,
                    key=f"reminder:{event.pk}:{lead}:{event.sequence}",
                    contents=[content],
                )
            queue_after_commit("events.send_reminder_emails", reminder_id=reminder.pk)
    except IntegrityError:
        return None
    return reminder


def reminders_send_due(*, now: datetime | None = None) -> list[Reminder]:
    """What the beat task does each minute; safe to run twice at the same time."""
    now = now or timezone.now()
    sent = []
    for event, lead in reminders_due(now=now):
        reminder = reminder_send(event=event, lead=lead, now=now)
        if reminder is not None:
            sent.append(reminder)
    # Emails a worker did not finish (killed after the commit) are queued again.
    stalled = Reminder.objects.filter(
        emails_sent_at__isnull=True,
        created_at__lt=now - timedelta(minutes=5),
        event__start__gt=now,
    ).values_list("pk", flat=True)
    for pk in stalled:
        queue_after_commit("events.send_reminder_emails", reminder_id=pk)
    return sent


# --- Emails (each sent at most once: lock the row, check its "sent" time, set it) ---


def reminder_emails_send(*, reminder_id: int) -> None:
    """Email the members going to the event of one reminder."""
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(of=("self",))
            .select_related("event")
            .filter(pk=reminder_id)
            .first()
        )
        if reminder is None or reminder.emails_sent_at is not None:
            return
        event = reminder.event
        if event.state == Event.State.PUBLISHED:
            going = RSVP.objects.filter(event=event, status=RSVP.Status.GOING).select_related(
                "user"
            )
            _send(
                [
                    event_email(user=rsvp.user, template="reminder", event=event)
                    for rsvp in going
                    if rsvp.user.email and rsvp.user.email_reminders
                ]
            )
        reminder.emails_sent_at = timezone.now()
        reminder.save(update_fields=["emails_sent_at"])


def promotion_email_send(*, rsvp_id: int) -> None:
    """Tell a member they moved from the waiting list to going."""
    with transaction.atomic():
        rsvp = (
            RSVP.objects.select_for_update(of=("self",))
            .select_related("event", "user")
            .filter(pk=rsvp_id)
            .first()
        )
        if rsvp is None or rsvp.promotion_emailed_at is not None or rsvp.promoted_at is None:
            return
        if rsvp.status == RSVP.Status.GOING and rsvp.event.state == Event.State.PUBLISHED:
            message = event_email(user=rsvp.user, template="promoted", event=rsvp.event)
            _send([_with_ics(message, rsvp.event)])
        rsvp.promotion_emailed_at = timezone.now()
        rsvp.save(update_fields=["promotion_emailed_at"])


def going_email_send(*, rsvp_id: int) -> None:
    """Confirm a member's "Going" with the event's .ics attached, while it is still true.

    The member asked for it by answering, so it goes whatever their reminder setting.
    """
    rsvp = RSVP.objects.select_related("event", "user").filter(pk=rsvp_id).first()
    if rsvp is None or rsvp.status != RSVP.Status.GOING or not rsvp.user.email:
        return
    if rsvp.event.state != Event.State.PUBLISHED:
        return
    message = event_email(user=rsvp.user, template="going", event=rsvp.event)
    _send([_with_ics(message, rsvp.event)])


def _with_ics(message, event: Event):
    """Attach the event as an .ics file, so a mail client offers "add to calendar"."""
    message.attach(
        f"{event.slug}.ics",
        calendar_document([event], name=event.title),
        "text/calendar; charset=utf-8; method=PUBLISH",
    )
    return message


def cancellation_emails_send(*, event_id: int) -> None:
    """Tell members who answered going or maybe that the event is cancelled."""
    with transaction.atomic():
        event = Event.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.cancellation_emailed_at is not None:
            return
        if event.state != Event.State.CANCELLED:
            return
        answers = RSVP.objects.filter(
            event=event, status__in=[RSVP.Status.GOING, RSVP.Status.MAYBE]
        ).select_related("user")
        _send(
            [
                event_email(user=rsvp.user, template="cancelled", event=event, answer=rsvp)
                for rsvp in answers
                if rsvp.user.email
            ]
        )
        event.cancellation_emailed_at = timezone.now()
        event.save(update_fields=["cancellation_emailed_at"])


def _send(messages: list) -> None:
    if messages:
        with get_connection() as connection:
            connection.send_messages(messages)


# --- Helpers ------------------------------------------------------------------------------


def _pages_changed() -> None:
    """Seats, answers and events show on cached reader pages (My RSVPs among them): retire
    them once committed."""
    transaction.on_commit(lambda: reader_pages_changed("events"))


def _calendar_link_changed() -> None:
    """My RSVPs shows the member's calendar link: retire the stored pages once committed (a
    scope of their own, so the events pages every reader shares stay)."""
    transaction.on_commit(lambda: reader_pages_changed("calendars"))

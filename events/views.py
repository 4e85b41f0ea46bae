"""Event pages, answers (RSVPs), calendars and the organisers' attendee list."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import TemplateView

from portal import ratelimit
from portal.models import User
from portal.pagecache import PERSONAL_PLACEHOLDER, reader_page
from portal.pagination import paginate

from . import services
from .export import attendees_csv_response
from .forms import RSVPForm
from .ical import calendar_document, google_calendar_url
from .models import RSVP, Event

PAST_PER_PAGE = 20
# Answers a member may give in a minute: plenty for changing one's mind, not for a script.
RSVPS_PER_MINUTE = 10
# How far back the subscribable calendar goes; calendars keep what they already have.
FEED_HISTORY = timedelta(days=365)


def _hosts_prefetch() -> Prefetch:
    return Prefetch("hosts", queryset=User.objects.order_by("display_name", "id"))


def is_organiser(user, event: Event) -> bool:
    """Organisers are the event's hosts and staff: they see who is coming."""
    if not user.is_authenticated:
        return False
    return user.is_staff or any(host.pk == user.pk for host in event.hosts.all())


def browser_zone(request: HttpRequest) -> bool:
    """True when the visitor chose no zone of their own: the browser's zone is used instead."""
    user = request.user
    return not user.is_authenticated or (user.timezone or "UTC") == "UTC"


class EventListView(TemplateView):
    """Upcoming events first (soonest first), then past ones (most recent first), paginated."""

    template_name = "events/event_list.html"

    def get(self, request, *args, **kwargs):
        visible = Event.objects.visible().with_counts()
        past = visible.past().order_by("-start", "-id")
        page, context, status = paginate(request, past, PAST_PER_PAGE)
        context.update(
            upcoming=list(visible.upcoming().order_by("start", "id")),
            past=page.object_list,
            browser_zone=browser_zone(request),
        )
        return self.render_to_response(self.get_context_data(**context), status=status)


# Stands for the member's place on the waiting list in the stored answer blocks.
PLACE_MARK = "\x00place\x00"


def rsvp_part(request: HttpRequest, parts: dict) -> str | None:
    """The member's own "Are you coming?" block on a shared event page: their answer read
    with one query, the block pre-rendered for that answer (the place on the waiting list put
    in). A host gets their own page (it lists who is coming)."""
    user = request.user
    if user.pk in parts["hosts"]:
        return None
    generations = tuple(parts.get("generations") or (None,))
    key = (generations, parts["event"], user.pk)
    found = _answers.get(key)
    if found is None:
        answer = RSVP.objects.filter(event_id=parts["event"], user=user).first()
        found = (answer.status, services.waitlist_place(answer)) if answer else ("", None)
        if None not in generations:
            _answers.put(key, found)
    status, place = found
    return parts["blocks"][status].replace(PLACE_MARK, str(place))


class _Answers:
    """Members' answers this process read, each under the "events" generation it was read
    at: every answer bumps that generation, so a kept answer (and place on the waiting list)
    is current for as long as the page it goes into is. A repeat visit makes no query."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[tuple, tuple[str, int | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[str, int | None] | None:
        with self._lock:
            return self._kept.get(key)

    def put(self, key: tuple, answer: tuple[str, int | None]) -> None:
        with self._lock:
            self._kept[key] = answer
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


_answers = _Answers(20_000)


# A minute at most: answers close when the event starts. The page is shared between members
# (per role and zone); each member's answer is put in by `rsvp_part`.
@reader_page("events", timeout=60, personal=rsvp_part)
def event_detail(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_object_or_404(
        Event.objects.visible().with_counts().prefetch_related(_hosts_prefetch()), slug=slug
    )
    user = request.user
    shared = getattr(request, "shared_page", False)
    answer = place = None
    if user.is_authenticated and not shared:
        answer = RSVP.objects.filter(event=event, user=user).first()
        place = services.waitlist_place(answer) if answer else None
    organiser = user.is_staff if shared else is_organiser(user, event)
    attendees = waiting = named = ()
    if user.is_authenticated and not organiser:
        # Members see the names of those going who allow it; the rest are counted.
        named = [
            rsvp.user
            for rsvp in RSVP.objects.filter(
                event=event, status=RSVP.Status.GOING, user__show_when_going=True
            )
            .select_related("user")
            .order_by("created_at", "id")
        ]
    if organiser:
        rows = list(
            RSVP.objects.filter(event=event, status__in=[RSVP.Status.GOING, RSVP.Status.WAITLISTED])
            .select_related("user")
            .order_by("waitlisted_at", "created_at", "id")
        )
        attendees = [r for r in rows if r.status == RSVP.Status.GOING]
        waiting = [r for r in rows if r.status == RSVP.Status.WAITLISTED]
    seats_left = None
    if event.capacity is not None:
        seats_left = max(event.capacity - event.going_count, 0)
    now = timezone.now()
    context = {
        "event": event,
        "answer": answer,
        "place": place,
        "form": RSVPForm(initial={"status": answer.status if answer else None}),
        "seats_left": seats_left,
        "is_open": event.state == Event.State.PUBLISHED and now < event.answers_close_at,
        "has_started": now >= event.start,
        "is_organiser": organiser,
        "attendees": attendees,
        "waiting": waiting,
        "named": named,
        "unnamed_count": event.going_count - len(named),
        "google_url": google_calendar_url(event),
        "browser_zone": browser_zone(request),
        "login_url": f"{reverse('account_login')}?{urlencode({'next': event.get_absolute_url()})}",
    }
    if not shared:
        return render(request, "events/event_detail.html", context)
    response = render(
        request,
        "events/event_detail.html",
        {**context, "personal_placeholder": mark_safe(PERSONAL_PLACEHOLDER)},  # noqa: S308
    )
    response.personal = {
        "event": event.pk,
        "hosts": [host.pk for host in event.hosts.all()],
        "blocks": _rsvp_blocks(request, event, context),
    }
    return response


def _rsvp_blocks(request: HttpRequest, event: Event, context: dict) -> dict[str, str]:
    """The "Are you coming?" block for each answer a member may have given ("" for none)."""
    if event.is_cancelled:
        return dict.fromkeys(["", *RSVP.Status.values], "")
    blocks = {}
    for status in ["", *RSVP.Status.values]:
        answer = RSVP(event=event, status=status) if status else None
        place = PLACE_MARK if status == RSVP.Status.WAITLISTED else None
        blocks[status] = render_to_string(
            "events/includes/_rsvp.html",
            {**context, "answer": answer, "place": place},
            request=request,
        )
    return blocks


@require_POST
def rsvp(request: HttpRequest, slug: str) -> HttpResponse:
    """Record the member's answer; works as a plain form post (no JavaScript needed)."""
    event = get_object_or_404(Event.objects.visible(), slug=slug)
    if not request.user.is_authenticated:
        login = reverse("account_login")
        return redirect(f"{login}?{urlencode({'next': event.get_absolute_url()})}")
    if not ratelimit.allow("rsvp", request.user.pk, limit=RSVPS_PER_MINUTE, seconds=60):
        return render(request, "429.html", status=429)
    form = RSVPForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose going, maybe or not going.")
        return redirect(event)
    try:
        result = services.rsvp_set(
            event=event, user=request.user, status=form.cleaned_data["status"]
        )
    except services.RSVPRefused as exc:
        messages.error(request, exc.messages[0])
        return redirect(event)
    status = result.rsvp.status
    if status == RSVP.Status.WAITLISTED:
        messages.warning(
            request,
            f"The event is full: you are number {result.place} on the waiting list. "
            "We will email you if a seat opens up.",
        )
    elif status == RSVP.Status.GOING:
        messages.success(request, "You are going. See you there!")
    elif status == RSVP.Status.MAYBE:
        messages.success(request, "Your answer is saved: maybe.")
    else:
        messages.success(request, "Your answer is saved: not going.")
    return redirect(event)


@require_GET
def event_ics(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_object_or_404(Event.objects.visible(), slug=slug)
    response = HttpResponse(
        calendar_document([event], name=event.title), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{event.slug}.ics"'
    return response


@require_GET
def calendar_ics(request: HttpRequest) -> HttpResponse:
    """The subscribable feed: published events, and cancelled ones marked STATUS:CANCELLED."""
    since = timezone.now() - FEED_HISTORY
    events = Event.objects.visible().filter(end__gte=since).order_by("start", "id")
    response = HttpResponse(calendar_document(events), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="calendar.ics"'
    return response


@require_GET
def attendees_csv(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_object_or_404(
        Event.objects.visible().prefetch_related(_hosts_prefetch()), slug=slug
    )
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not is_organiser(request.user, event):
        raise PermissionDenied
    return attendees_csv_response([event], filename=f"{event.slug}-attendees.csv")


@login_required
def my_rsvps(request: HttpRequest) -> HttpResponse:
    """The member's answers, upcoming events first, and their personal calendar link."""
    if request.method == "POST":
        action = request.POST.get("calendar")
        if action == "new":
            services.calendar_token_reset(user=request.user)
            messages.success(
                request,
                "Your calendar link is ready. Any link you had before no longer works.",
            )
        elif action == "revoke":
            services.calendar_token_revoke(user=request.user)
            messages.success(request, "Your calendar link is turned off.")
        else:
            messages.error(request, "Choose to make a new calendar link or to turn it off.")
        return redirect("events:my-rsvps")
    now = timezone.now()
    rows = list(
        RSVP.objects.filter(user=request.user)
        .exclude(event__state=Event.State.DRAFT)
        .select_related("event")
        .order_by("event__start", "event__id")
    )
    upcoming = [r for r in rows if r.event.end >= now]
    past = [r for r in rows if r.event.end < now][::-1]
    token = request.user.calendar_token
    feed_url = (
        request.build_absolute_uri(reverse("events:personal-calendar", args=[token]))
        if token
        else ""
    )
    return render(
        request,
        "events/my_rsvps.html",
        {
            "upcoming": upcoming,
            "past": past,
            "feed_url": feed_url,
            "browser_zone": browser_zone(request),
        },
    )


@require_GET
def personal_calendar(request: HttpRequest, token: str) -> HttpResponse:
    """A member's private feed: the events they are going to (and those cancelled since).

    The token is the only key: anyone with the URL sees the member's events, so the member
    can replace or turn it off on My RSVPs.
    """
    if not token:
        raise Http404
    user = User.objects.filter(calendar_token=token, is_active=True).first()
    if user is None:
        raise Http404
    since = timezone.now() - FEED_HISTORY
    events = (
        Event.objects.visible()
        .filter(rsvps__user=user, rsvps__status=RSVP.Status.GOING, end__gte=since)
        .order_by("start", "id")
    )
    document = calendar_document(events, name=f"My events · {settings.SITE_NAME}")
    response = HttpResponse(document, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="my-events.ics"'
    # Private: no shared cache keeps it, no search engine lists it.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response

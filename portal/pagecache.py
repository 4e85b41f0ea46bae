"""Whole reader pages cached in Redis for anonymous visitors, retired when their content changes.

Every visitor who is not logged in sees the same archive, issue, feed, events and home page,
so each is rendered once and then served from the cache, with the same middleware (security
headers, CSP) as any other response. Each page belongs to one or more scopes: "archive"
(issues and their items), "events" (events and answers), "submissions" (My submissions) and
"calendars" (the members' private calendar links, on My RSVPs). The services call
`reader_pages_changed(scope)` once a change is committed (publishing or correcting an issue,
saving or cancelling an event, an answer); that bumps the scope's generation, and a cached
page is served only while the generations it was built from are current. A timeout bounds
what only time changes (an event starting, an "upcoming" list) and what a missed bump could
leave behind; `READER_CACHE_SECONDS=0` turns the cache off.

Members who are logged in get the same pages, shared between every member who would see the
same bytes: a page is stored per role (member, staff, editor) and time zone, since those are
all a member's page shows of them, with the CSRF token taken out; each request puts the
member's own token back. A page that shows a member more than that has two ways: `personal`
(an event page's answer) stores the page with a placeholder where the member's own part goes
and has a function put each member's part in (from data the view stored with the page, at a
query or so a request); `members=False` renders the page afresh for each member. Visitors with a flash message waiting
(in its cookie or the session), and URLs with query parameters the view does not name (or
name twice, or a `page` that is not written as a plain number: ?page=01, ?page=1.0) are
always rendered afresh, so nothing personal is ever stored and one page is stored once, not
under every spelling of its URL. Each different search
(`q`) is stored, for a minute at most. If Redis is unreachable, pages are
rendered as if nothing were cached.

A hit costs little more than the trivial view: each process keeps the pages it served last
and reads the generations from Redis at most every GENERATION_CHECK_SECONDS, so a change
made in one gunicorn process reaches the others within a quarter of a second.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import wraps

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import _unmask_cipher_token, get_token
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers

logger = logging.getLogger(__name__)

SCOPES = frozenset({"archive", "events", "submissions", "calendars"})
# What a cached page keeps of its response's headers; the middleware adds the rest.
KEPT_HEADERS = ("Content-Type", "Content-Language", "Content-Disposition", "X-Robots-Tag", "Link")
# Each process also keeps the pages it served last, up to this many bytes.
RECENT_PAGES_BYTES = 16 * 2**20
# How often each process reads the generations from Redis: other processes see a change
# after this long at most.
GENERATION_CHECK_SECONDS = 0.25


# Generations this process last read or set: {key: (generation, when, on the monotonic clock)}.
_known: dict[str, tuple[int, float]] = {}


def _generation_key(scope: str) -> str:
    return f"reader:generation:{scope}"


def reader_pages_changed(*scopes: str) -> None:
    """Retire every cached page of `scopes`. Call it from `transaction.on_commit`."""
    for scope in scopes:
        if scope not in SCOPES:
            raise ValueError(f"Unknown reader page scope {scope!r}")
        key = _generation_key(scope)
        try:
            try:
                generation = cache.incr(key)
            except ValueError:  # no generation yet (or evicted): start a new, unseen one
                generation = time.time_ns()
                cache.set(key, generation, None)
            _known[key] = (generation, time.monotonic())
        except Exception:  # Redis down: the timeout retires the pages instead
            _known.pop(key, None)
            logger.warning("Could not retire cached %s pages; they expire on their own.", scope)


# Stands for the member's CSRF token in a page stored for members. Escaped text cannot hold
# it (a NUL byte, and "<" is escaped), nor can sanitised Markdown.
CSRF_PLACEHOLDER = b"<\x00csrf-token\x00>"
# Stands for the member's own part of a page stored for members (`personal`); the view writes
# it where that part goes when `request.shared_page` is set.
PERSONAL_PLACEHOLDER = "<\x00personal\x00>"
# A masked CSRF token, as {% csrf_token %} writes it.
_TOKEN = re.compile(rb"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")


def page_variant(request: HttpRequest, members: bool, per_member: bool = False) -> str | None:
    """ "" for an anonymous visitor; for a logged-in member, what their page depends on (role
    and time zone); None when the page must be rendered afresh."""
    cookies = request.COOKIES
    if CookieStorage.cookie_name in cookies:
        return None
    if settings.SESSION_COOKIE_NAME not in cookies:
        return ""
    if not members:
        return None
    user = request.user  # read first: loading the member may set their zone (portal.auth)
    if not user.is_authenticated or "_messages" in request.session:
        return None
    # Both flags: an editor who is not staff must not share a staff editor's page (an event
    # page lists who is coming to staff).
    role = "+".join(
        name for name, on in (("editor", user.is_editor), ("staff", user.is_staff)) if on
    )
    zone = timezone.get_current_timezone_name()
    if per_member:  # the page is the member's own (My submissions, My RSVPs): theirs alone
        return f"{role or 'member'} {zone} {user.pk}"
    return f"{role or 'member'} {zone}"


def without_csrf_token(request: HttpRequest, content: bytes) -> bytes:
    """The page with this member's CSRF token (wherever it appears) replaced by the
    placeholder; it is the only secret of theirs a shared member page holds."""
    secret = request.META.get("CSRF_COOKIE")
    if not secret:
        return content

    def placeholder(match: re.Match) -> bytes:
        token = match[0]
        return CSRF_PLACEHOLDER if _unmask_cipher_token(token.decode()) == secret else token

    return _TOKEN.sub(placeholder, content)


_PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")


def _cacheable_query(request: HttpRequest, allowed: frozenset[str]) -> bool:
    """Only the parameters the view reads, each once, and `page` as a plain number."""
    for name, values in request.GET.lists():
        if name not in allowed or len(values) != 1:
            return False
        if name == "page" and not _PAGE_NUMBER.fullmatch(values[0]):
            return False
    return True


def _storable(request: HttpRequest, response: HttpResponse, member: bool) -> bool:
    return (
        request.method == "GET"
        and response.status_code == 200
        and not response.streaming
        and not response.cookies
        # A page that used the CSRF token holds a per-visitor secret (a member's page is
        # stored without it).
        and (member or not request.META.get("CSRF_COOKIE_NEEDS_UPDATE"))
        and "private" not in response.get("Cache-Control", "")
        and "no-store" not in response.get("Cache-Control", "")
    )


def _shared_parts(request: HttpRequest, response: HttpResponse) -> dict:
    """What the view stored for `personal` (`response.personal`), with this member's CSRF
    token taken out of each pre-rendered part."""
    parts = dict(getattr(response, "personal", None) or {})
    parts["blocks"] = {
        name: without_csrf_token(request, block.encode()).decode()
        for name, block in parts.get("blocks", {}).items()
    }
    return parts


def _from_entry(content: bytes, headers: dict[str, str]) -> HttpResponse:
    response = HttpResponse(content)
    for name, value in headers.items():
        response[name] = value
    return response


class _RecentPages:
    """The pages this process served last, so that a hit reads only the small generation
    counters from Redis, not the page itself (a feed is hundreds of kilobytes)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[str, tuple] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str, generations: list, now: float) -> tuple | None:
        with self._lock:
            entry = self._pages.get(key)
            if entry is None:
                return None
            if entry[0] != generations or entry[1] <= now:
                self._drop(key)
                return None
            self._pages.move_to_end(key)
            return entry

    def put(self, key: str, entry: tuple) -> None:
        size = len(entry[2])
        if size > self.max_bytes // 4:
            return
        with self._lock:
            self._drop(key)
            self._pages[key] = entry
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._pages)))

    def _drop(self, key: str) -> None:
        entry = self._pages.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[2])


_recent = _RecentPages(RECENT_PAGES_BYTES)


def _generations(keys: list[str]) -> list:
    """The current generation of each scope; a scope without one gets a new, unseen one.

    Read from Redis at most every GENERATION_CHECK_SECONDS by each process: a cached page then
    costs no round trip to Redis at all. The process that made a change knows at once.
    """
    now = time.monotonic()
    known = [_known.get(key) for key in keys]
    if all(entry is not None and now - entry[1] < GENERATION_CHECK_SECONDS for entry in known):
        return [entry[0] for entry in known]
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            cache.add(key, time.time_ns(), None)
            found[key] = cache.get(key)
    for key in keys:
        if found[key] is not None:  # None: Redis unreachable, ask again next time
            _known[key] = (found[key], now)
    return [found[key] for key in keys]


def _cached_entry(page_key: str, generations: list) -> tuple | None:
    """An entry: (generations, expiry time, content, headers), if current."""
    now = time.time()
    entry = _recent.get(page_key, generations, now)
    if entry is None and None not in generations:
        entry = cache.get(page_key)
        if entry is not None and entry[0] == generations and entry[1] > now:
            _recent.put(page_key, entry)
        else:
            entry = None
    return entry


def _store(page_key: str, entry: tuple, path: str) -> None:
    try:
        cache.set(page_key, entry, round(entry[1] - time.time()))
        _recent.put(page_key, entry)
    except Exception:
        logger.warning("Could not cache %s.", path)


def _served(request: HttpRequest, entry: tuple, variant: str, personal) -> HttpResponse | None:
    """The stored page, with the member's own part and CSRF token put in; None when the
    member's page is their own (`personal` said so)."""
    content = entry[2]
    parts = entry[4] if personal is not None and variant and len(entry) > 4 else None
    if parts and parts.get("blocks"):
        own = personal(request, {**parts, "generations": entry[0]})
        if own is None:
            return None
        content = content.replace(PERSONAL_PLACEHOLDER.encode(), own.encode())
    if variant and CSRF_PLACEHOLDER in content:
        content = content.replace(CSRF_PLACEHOLDER, get_token(request).encode())
    return _from_entry(content, entry[3])


def _rendered(request, view, args, kwargs, variant, personal, fresh) -> HttpResponse | None:
    """The view's page, stored when it may be; a page shared between members (`personal`)
    is rendered with the placeholder, stored, then given this member's own part."""
    generations, expires, page_key, path = fresh
    shared = bool(variant) and personal is not None
    request.shared_page = shared
    response = view(request, *args, **kwargs)
    request.shared_page = False
    if hasattr(response, "render"):  # a TemplateResponse: its content is needed now
        response.render()
    parts = _shared_parts(request, response) if shared else None
    # No generations (Redis unreachable): nothing could retire the page, keep none.
    if _storable(request, response, bool(variant)) and None not in generations:
        content = response.content
        if variant:
            content = without_csrf_token(request, content)
        headers = {name: response[name] for name in KEPT_HEADERS if name in response}
        entry = (generations, expires, content, headers)
        _store(page_key, (*entry, parts) if shared else entry, path)
    if parts and parts.get("blocks"):
        own = personal(request, {**parts, "generations": generations})
        if own is None:
            return None
        token = get_token(request).encode()
        response.content = response.content.replace(
            PERSONAL_PLACEHOLDER.encode(), own.encode().replace(CSRF_PLACEHOLDER, token)
        )
    return response


def reader_page(
    *scopes: str,
    query: Iterable[str] = (),
    timeout: int | None = None,
    members: bool = True,
    personal: Callable[[HttpRequest, dict], str | None] | None = None,
    per_member: bool = False,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Serve the view's page to anonymous visitors and to members from the cache.

    `scopes`: what the page shows ("archive", "events"). `query`: the query parameters the
    page reads (e.g. "page", "q"); a URL with any other parameter is not cached. `timeout`:
    at most this many seconds, below READER_CACHE_SECONDS. `members=False`: the page shows a
    member more than their role and zone, so it is cached for anonymous visitors only.
    `personal(request, parts)`: the member's own part of a page stored for members, from the
    `parts` the view set on the response (`response.personal`; with "generations", those
    the page is current at) when it rendered the shared page (`request.shared_page` set, PERSONAL_PLACEHOLDER where the part goes); None
    renders the whole page afresh for this member. `per_member=True`: the page is the
    member's own (My submissions, My RSVPs), stored for each member apart, and never for
    visitors.
    """
    unknown = set(scopes) - SCOPES
    if unknown or not scopes:
        raise ValueError(f"Reader pages need known scopes, not {sorted(unknown) or 'none'}")
    allowed = frozenset(query)
    generation_keys = [_generation_key(scope) for scope in scopes]

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            seconds = settings.READER_CACHE_SECONDS
            if timeout is not None:
                seconds = min(seconds, timeout)
            if (
                seconds <= 0
                or request.method not in ("GET", "HEAD")
                or not _cacheable_query(request, allowed)
                or (variant := page_variant(request, members, per_member)) is None
                or (per_member and not variant)
            ):
                return view(request, *args, **kwargs)
            path = request.get_full_path()
            page_key = "reader:page:" + hashlib.sha256(f"{variant}\n{path}".encode()).hexdigest()
            if not variant:  # anonymous pages keep the keys they always had
                page_key = "reader:page:" + hashlib.sha256(path.encode()).hexdigest()
            try:
                generations = _generations(generation_keys)
                entry = _cached_entry(page_key, generations)
            except Exception:
                logger.warning("The reader page cache is unreachable; rendering %s.", path)
                return view(request, *args, **kwargs)
            if entry is not None:
                response, state = _served(request, entry, variant, personal), "hit"
            else:
                fresh = (generations, time.time() + seconds, page_key, path)
                response = _rendered(request, view, args, kwargs, variant, personal, fresh)
                state = "miss"
            if response is None:  # this member's page is their own: render it afresh
                return view(request, *args, **kwargs)
            # The page differs for logged-in members: shared caches must keep them apart.
            patch_vary_headers(response, ["Cookie"])
            if variant:
                patch_cache_control(response, private=True)
            response["X-Reader-Cache"] = state
            return response

        return wrapped

    return decorator

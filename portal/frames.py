"""Page frames: a page's fixed chrome rendered once per process, filled in for each request.

Most of a page such as search is the same for every visitor of one kind: the navigation (a
dozen `{% url %}`), the footer, the form, what the context processors add. Rendering it costs
more than the results themselves. A frame is that page rendered once with a marker in place of
each part that changes from one request to the next (a slot: the query, the results); the HTML
is cut at the markers and kept in this process, and each request joins the pieces with its own
slot values, already escaped.

A frame holds no database data, only template text, settings and what its variant names: the
visitor's kind, as for the page cache (`portal.pagecache.page_variant`: anonymous, or a
member's role and time zone, all the navigation shows of them), and the language. None of these
changes while the process runs, so a frame never goes stale: a deploy starts new processes, and
with DEBUG on (templates reloaded as they are edited) no frame is kept. Tests that change a
setting drop every frame.

A member's frame holds their logout form's CSRF token: it is kept with a placeholder instead,
and each request puts the member's own token back, as the page cache does. An anonymous frame
is kept only if its page did not use the token. Visitors with a flash message waiting get the
page rendered normally.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import NamedTuple

from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import SafeData, SafeString
from django.utils.translation import get_language

from portal.pagecache import CSRF_PLACEHOLDER, page_variant, without_csrf_token

# Frames kept by each process: a few per page and kind of visitor (roles and time zones).
FRAMES_KEPT = 300

# Where a slot's value goes, while the frame is rendered. Like CSRF_PLACEHOLDER, escaped text
# and sanitised Markdown cannot hold it (a NUL byte, and "<" is escaped).
_MARKER = "<\x00slot:{}\x00>"
_CSRF = CSRF_PLACEHOLDER.decode()
_PIECES = re.compile("(<\x00slot:[^\x00]*\x00>|" + re.escape(_CSRF) + ")")
# The hole of a frame where the member's CSRF token goes (slot names cannot hold a NUL byte).
_CSRF_SLOT = "\x00csrf"


class Frame(NamedTuple):
    """A page cut at its slots: texts[0], hole 0, texts[1], hole 1, ... texts[-1]."""

    texts: tuple[str, ...]
    holes: tuple[str, ...]

    def fill(self, values: dict[str, str]) -> str:
        parts = [self.texts[0]]
        for hole, text in zip(self.holes, self.texts[1:], strict=True):
            parts.append(values[hole])
            parts.append(text)
        return "".join(parts)


class _Frames:
    """The frames this process rendered last, at most `size` of them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._frames: OrderedDict[tuple, Frame] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Frame | None:
        with self._lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
            return frame

    def put(self, key: tuple, frame: Frame) -> None:
        with self._lock:
            self._frames[key] = frame
            self._frames.move_to_end(key)
            while len(self._frames) > self.size:
                self._frames.popitem(last=False)

    def __len__(self) -> int:
        return len(self._frames)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()


frames = _Frames(FRAMES_KEPT)


def _setting_changed(**kwargs) -> None:
    """Frames hold settings (the site's name, static URLs): when one changes (only tests
    change them while a process runs), frames made before are dropped."""
    frames.clear()


setting_changed.connect(_setting_changed, dispatch_uid="portal.frames")


def _cut(html: str, slots: dict[str, str]) -> Frame:
    pieces = _PIECES.split(html)
    texts, holes = tuple(pieces[0::2]), []
    for marker in pieces[1::2]:
        holes.append(_CSRF_SLOT if marker == _CSRF else marker[len("<\x00slot:") : -len("\x00>")])
    if any("\x00" in text for text in texts):
        # A filter changed a marker (|urlencode, |upper...): the slot would be lost.
        raise ValueError(
            f"A template filtered one of the slots {sorted(slots)}; print them as they are."
        )
    return Frame(texts, tuple(holes))


def _framed(request: HttpRequest, template_name: str, context: dict, slots: dict, variant: str):
    """The page rendered with markers in its slots, cut into a frame, and whether it may be
    kept: a member's frame without their token, an anonymous one only if it used no token."""
    markers = {name: SafeString(_MARKER.format(name)) for name in slots}
    html = render_to_string(template_name, {**context, **markers}, request=request)
    if variant:
        html = without_csrf_token(request, html.encode()).decode()
        keep = True
    else:
        keep = not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
    return _cut(html, slots), keep


def render_framed(
    request: HttpRequest,
    template_name: str,
    *,
    key: str,
    context: dict,
    slots: dict[str, SafeString],
    status: int = 200,
) -> HttpResponse:
    """The page `django.shortcuts.render` would give for `{**context, **slots}`, from this
    process's frame of it.

    `context` MUST BE THE SAME FOR EVERY REQUEST WITH THIS `key`: it is read only when the frame
    is first rendered, and whatever it holds is then served to every later visitor of the same
    kind. The same goes for what the template reads of the request other than the visitor's
    kind (the URL's view, for the navigation): `key` must tell those apart. Only `slots` vary
    from one request to the next; each is escaped or safe text (`escape(...)`, a rendered
    include), printed as it is wherever the template prints it, never filtered, and tested
    (`{% if query %}`) only where the test holds for every request with this `key` (search
    frames only non-empty queries).
    """
    for name, value in slots.items():
        if not isinstance(value, SafeData):
            raise TypeError(f"The slot {name!r} must be escaped text (a SafeString).")
    variant = None if settings.DEBUG else page_variant(request, members=True)
    if variant is None:
        return render(request, template_name, {**context, **slots}, status=status)
    frame_key = (template_name, key, variant, get_language())
    frame = frames.get(frame_key)
    if frame is None:
        frame, keep = _framed(request, template_name, context, slots, variant)
        if keep:
            frames.put(frame_key, frame)
    values = slots
    if _CSRF_SLOT in frame.holes:
        values = {**slots, _CSRF_SLOT: get_token(request)}
    return HttpResponse(frame.fill(values), status=status)

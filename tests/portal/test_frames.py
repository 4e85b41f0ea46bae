"""Page frames: a page's chrome rendered once per process, each request's slots filled in; a
member's own CSRF token put back, never another's; no frame when it could hold a secret."""

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.sessions.backends.base import SessionBase
from django.middleware.csrf import _unmask_cipher_token
from django.shortcuts import render
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils.html import escape

from portal import frames
from portal.frames import render_framed
from tests.factories import EditorFactory, UserFactory

pytestmark = pytest.mark.django_db

SEARCH = reverse("newsletter:search")
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')
PAGE = (
    '<title>{{ q }} · {{ SITE_NAME }}</title><p>{{ n }}</p><input value="{{ q }}">{{ body }}'
    "{% if user.is_authenticated %}<form>{% csrf_token %}</form>{% endif %}"
)


@pytest.fixture
def page(settings):
    """A small page of our own (`frame.html`; `token.html` always uses the CSRF token), and no
    frames from earlier tests (changing the templates setting drops them)."""
    engine = dict(settings.TEMPLATES[0])
    engine["APP_DIRS"] = False
    engine["OPTIONS"] = {
        **engine["OPTIONS"],
        "loaders": [
            (
                "django.template.loaders.locmem.Loader",
                {"frame.html": PAGE, "token.html": "<p>{{ n }}</p><form>{% csrf_token %}</form>"},
            )
        ],
    }
    settings.TEMPLATES = [engine]
    assert len(frames.frames) == 0


def visitor(user=None, *, cookies: dict | None = None):
    """A request as the middleware leaves it: anonymous without a session cookie, or a member."""
    request = RequestFactory().get("/somewhere/")
    request.COOKIES.update(cookies or {})
    request.user = user or AnonymousUser()
    request.session = SessionBase()
    if user is not None:
        request.COOKIES[settings.SESSION_COOKIE_NAME] = "a-session"
    return request


def framed(request, n: int = 1, *, q: str = "x", key: str = "test", template: str = "frame.html"):
    return render_framed(
        request,
        template,
        key=key,
        context={"n": n},
        slots={"q": escape(q), "body": escape(f"<b>{q}</b>")},
    ).content.decode()


def own_token(page: str, request) -> bool:
    return _unmask_cipher_token(TOKEN.search(page)[1]) == request.META["CSRF_COOKIE"]


def test_frame_slots_filled_each_request_wherever_they_appear(page):
    first = framed(visitor(), 1, q="sparse <attention>")
    second = framed(visitor(), 2, q="pruning & co")

    assert first == (
        f"<title>sparse &lt;attention&gt; · {settings.SITE_NAME}</title><p>1</p>"
        '<input value="sparse &lt;attention&gt;">&lt;b&gt;sparse &lt;attention&gt;&lt;/b&gt;'
    )
    # The frame is kept: its context (n) is the first request's, as the contract says.
    assert second == first.replace("sparse &lt;attention&gt;", "pruning &amp; co")


def test_frame_response_is_what_render_gives(page):
    def response(status: int = 200):
        slots = {"q": escape("x"), "body": escape("")}
        return render_framed(
            visitor(), "frame.html", key="test", context={"n": 1}, slots=slots, status=status
        )

    normal = render(visitor(), "frame.html", {"n": 1, "q": "x", "body": ""})
    first, kept, missing = response(), response(), response(404)

    assert first.content == kept.content == missing.content == normal.content
    assert kept.status_code == normal.status_code == 200
    assert kept["Content-Type"] == normal["Content-Type"]
    assert missing.status_code == 404


def test_frame_slot_must_be_escaped_text(page):
    with pytest.raises(TypeError, match="must be escaped text"):
        render_framed(visitor(), "frame.html", key="test", context={}, slots={"q": "<b>"})


def test_frame_kept_at_most_frames_kept(page, monkeypatch):
    monkeypatch.setattr(frames.frames, "size", 3)

    for number in range(5):
        framed(visitor(), number, key=f"page {number}")
    again = framed(visitor(), 99, key="page 4")
    evicted = framed(visitor(), 99, key="page 0")

    assert len(frames.frames) == 3
    assert "<p>4</p>" in again  # still kept
    assert "<p>99</p>" in evicted  # pushed out by the later ones, rendered again


def test_frame_members_interleaved_each_get_their_own_token(page):
    ada, bob = UserFactory(), UserFactory()
    seen = set()
    for n in range(3):
        for user in (ada, bob):
            request = visitor(user)
            page_html = framed(request, n)
            assert own_token(page_html, request)
            assert "<p>0</p>" in page_html  # one frame for both: same role and zone
            seen.add(TOKEN.search(page_html)[1])

    assert len(frames.frames) == 1
    assert len(seen) == 6


def test_frame_anonymous_holds_no_token(page):
    framed(visitor(), 1)
    (frame,) = frames.frames._frames.values()

    assert "csrfmiddlewaretoken" not in "".join(frame.texts)
    assert frames._CSRF_SLOT not in frame.holes


def test_frame_anonymous_page_using_the_token_not_kept(page):
    first, second = visitor(), visitor()
    first_page = framed(first, 1, template="token.html")
    second_page = framed(second, 2, template="token.html")

    assert len(frames.frames) == 0
    assert "<p>2</p>" in second_page
    assert own_token(first_page, first)
    assert own_token(second_page, second)


def test_frame_not_used_while_a_message_waits(page):
    member = UserFactory()
    framed(visitor(member), 1)
    framed(visitor(), 1)
    waiting = visitor(member)
    waiting.session["_messages"] = "[]"  # kept in the session, shown on the next page
    anonymous = visitor(cookies={CookieStorage.cookie_name: "waiting"})

    assert "<p>2</p>" in framed(waiting, 2)
    assert "<p>3</p>" in framed(anonymous, 3)
    assert "<p>1</p>" in framed(visitor(member), 4)  # the others still get the frame


def test_frame_not_kept_with_debug(page, settings):
    settings.DEBUG = True

    first = framed(visitor(), 1)
    second = framed(visitor(), 2)

    assert len(frames.frames) == 0
    assert "<p>1</p>" in first
    assert "<p>2</p>" in second


def test_frame_per_role_editor_sees_the_editors_desk():
    member, editor = UserFactory(), EditorFactory()
    clients = {user: Client() for user in (member, editor)}
    for user, client in clients.items():
        client.force_login(user)

    for user in (member, editor, member, editor):
        client = clients[user]
        page = client.get(SEARCH, {"q": "anything"}).content.decode()

        assert ("Editors' desk" in page) == (user == editor)
        assert ("Admin</a>" in page) is False
        assert _unmask_cipher_token(TOKEN.search(page)[1]) == client.cookies["csrftoken"].value

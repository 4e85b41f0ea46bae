"""Sessions read from each process's copy (portal/sessions.py): a changed session gets a new
key, a deleted one is refused by every process, and without Redis no copy is trusted."""

import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from portal.sessions import CHECK_SECONDS, LocalCopies, SessionStore
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MY_SUBMISSIONS = reverse("portal:submission-list")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_changed_session_is_saved_under_a_new_key_and_the_old_one_is_gone():
    session = SessionStore()
    session["colour"] = "blue"
    session.create()
    old = session.session_key

    session["colour"] = "green"
    session.save()

    assert session.session_key != old
    assert SessionStore(session.session_key).load() == {"colour": "green"}
    assert SessionStore(old).load() == {}


def test_a_request_with_the_old_key_reads_its_data_and_saves_under_a_key_of_its_own():
    session = SessionStore()
    session["step"] = 1
    session.create()
    stale = SessionStore(session.session_key)
    assert stale["step"] == 1  # read before the other request's save
    session["step"] = 2
    session.save()

    stale["step"] = 3
    stale.save()  # no error: a new key

    assert len({stale.session_key, session.session_key}) == 2
    assert SessionStore(session.session_key)["step"] == 2
    assert SessionStore(stale.session_key)["step"] == 3


def test_a_zone_change_reaches_the_browser_as_a_new_session_cookie():
    member = UserFactory(timezone="UTC")
    client = logged_in(member)
    before = client.cookies[settings.SESSION_COOKIE_NAME].value
    data = {"display_name": "Ada", "discord_handle": "", "timezone": "Asia/Kolkata"}

    client.post(reverse("portal:profile"), {**data, "credit_me": "on"})

    assert client.cookies[settings.SESSION_COOKIE_NAME].value != before
    assert client.get(MY_SUBMISSIONS).status_code == 200  # still logged in, on the new key


def test_a_logged_out_session_is_refused_even_with_its_copy_kept():
    member = UserFactory()
    client = logged_in(member)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get(MY_SUBMISSIONS).status_code == 200  # this process now keeps a copy

    client.post(reverse("account_logout"))
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = cookie

    assert thief.get(MY_SUBMISSIONS).status_code == 302


def test_another_process_drops_its_copies_when_a_session_is_deleted():
    """Two sets of copies, as two gunicorn processes hold: a deletion in one reaches the
    other once it next reads the generation."""
    here, there = LocalCopies(10), LocalCopies(10)
    assert there.current()
    there.put("s:abc", {"_auth_user_id": "1"})
    assert there.get("s:abc") == {"_auth_user_id": "1"}

    here.changed()
    time.sleep(CHECK_SECONDS + 0.05)

    assert there.current()
    assert there.get("s:abc") is None


def test_each_read_of_a_copy_is_a_copy_of_its_own():
    copies = LocalCopies(10)
    copies.current()
    copies.put("s:abc", {"basket": [1]})

    copies.get("s:abc")["basket"].append(2)

    assert copies.get("s:abc") == {"basket": [1]}


def test_the_oldest_copies_go_first_when_full():
    copies = LocalCopies(2)
    copies.current()
    for key in ("a", "b", "c"):
        copies.put(key, key)

    assert [copies.get(key) for key in ("a", "b", "c")] == [None, "b", "c"]


def test_no_copy_is_trusted_while_redis_is_unreachable(redis_down):
    copies = LocalCopies(10)

    assert not copies.current()

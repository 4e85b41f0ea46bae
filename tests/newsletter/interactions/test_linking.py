"""The signed link that completes what an unlinked member typed in Discord."""

import re
import time
from urllib.parse import urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.core import signing

from newsletter.interactions.linking import LINK_SALT, link_url, pending_create
from newsletter.models import Submission
from tests.stubs.discord_apps import discord_user, link_account

pytestmark = pytest.mark.django_db


def _pending(discord_id="1300000000000000042", **item):
    item = {
        "url": "https://example.org/kept",
        "summary": "typed in Discord",
        "kind": "blog",
        **item,
    }
    return pending_create(discord_user=discord_user(discord_id, "newcomer"), items=[item])


def _path(url: str) -> str:
    return urlsplit(url).path


def test_anonymous_visitor_is_asked_to_continue_with_discord(client):
    pending = _pending()
    response = client.get(_path(link_url(pending)))
    assert response.status_code == 200
    page = response.content.decode()
    assert "https://example.org/kept" in page
    assert "/accounts/discord/login/?process=login&amp;next=%2Fdiscord%2Flink%2F" in page


def test_linked_member_sends_it_once(client, member):
    link_account(member, "1300000000000000042")
    client.force_login(member)
    path = _path(link_url(_pending()))
    assert "Send to the editors" in client.get(path).content.decode()
    response = client.post(path)
    assert response.status_code == 302 and response["Location"] == "/my/submissions/"
    submission = Submission.objects.get()
    assert (submission.author, submission.source) == (member, Submission.Source.DISCORD)
    assert submission.summary == "typed in Discord"
    assert client.post(path).status_code == 410
    assert Submission.objects.count() == 1
    listing = client.get("/my/submissions/").content.decode()
    assert "from Discord" in listing


def test_another_discord_account_cannot_use_the_link(client, member):
    link_account(member, "1300000000000000043")
    client.force_login(member)
    path = _path(link_url(_pending()))
    assert client.post(path).status_code == 403
    assert Submission.objects.count() == 0


def test_member_without_discord_is_asked_to_connect(client, member):
    client.force_login(member)
    page = client.get(_path(link_url(_pending()))).content.decode()
    assert "process=connect" in page
    assert Submission.objects.count() == 0


def test_expired_link_says_so(client):
    pending = _pending()

    class Past(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - 31 * 60)

    token = Past(salt=LINK_SALT).sign_object({"p": pending.pk, "u": pending.discord_user_id})
    response = client.get(f"/discord/link/{token}/")
    assert response.status_code == 400
    assert "expired" in response.content.decode()


def test_tampered_link_is_refused(client):
    path = _path(link_url(_pending()))
    response = client.get(path[:-3] + "xx/")
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_sign_up_with_discord_then_send(client, discord_login):
    """The whole flow without a browser: the site's Discord login against the stand-in's OAuth."""
    discord_login.apps.oauth_user = {
        "id": "1300000000000000042",
        "username": "newcomer",
        "email": "newcomer@example.org",
        "verified": True,
    }
    path = _path(link_url(_pending()))
    page = client.get(path).content.decode()
    login = re.search(r'href="(/accounts/discord/login/[^"]+)"', page)[1].replace("&amp;", "&")
    to_discord = client.post(login)
    assert to_discord.status_code == 302
    consent = requests.get(to_discord["Location"], timeout=5).text
    back = re.search(r'href="([^"]+)"', consent)[1].replace("&amp;", "&")
    landed = client.get(_path(back) + "?" + urlsplit(back).query, follow=True)
    assert landed.redirect_chain[-1][0] == path
    account = SocialAccount.objects.get(provider="discord")
    assert account.uid == "1300000000000000042"
    assert account.user.email == "newcomer@example.org"
    client.post(path)
    assert Submission.objects.get().author == account.user


def test_discord_login_is_404_while_not_set_up(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    assert client.get("/accounts/discord/login/").status_code == 404
    assert client.get("/accounts/discord/login/callback/?code=x&state=y").status_code == 404

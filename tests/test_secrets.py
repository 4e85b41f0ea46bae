"""Secrets never leave: webhook tokens, SECRET_KEY and passwords appear in no page, log line,
email or error message.

Each test does what editors and members do (log in, add a channel, watch deliveries fail in
every way Discord or the network can fail), keeps everything the site said (pages, headers,
flash messages, emails, log records at DEBUG level) and greps all of it for the secrets.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import path, reverse

from newsletter.models import Delivery, DiscordChannel
from portal.urls import urlpatterns as site_urlpatterns
from tests.factories import EditorFactory, UserFactory
from tests.stubs.discord import DiscordServer

TOKEN = "tOkEn-" + "Zq9_" * 16  # a webhook token only this test knows
NEW_TOKEN = "nEwToKeN-" + "Wv7-" * 15
EDITOR_PASSWORD = "editor's own passphrase 7731"
MEMBER_PASSWORD = "member's own passphrase 4419"
WRONG_PASSWORD = "a wrong passphrase 5523"
# Loggers production pins above DEBUG whatever LOG_LEVEL says (portal/settings.py LOGGING):
# urllib3 logs every request line, and Discord's request line carries the token.
PINNED_LOGGERS = {"urllib3": "WARNING"}


class Transcript:
    """Everything the site said during a test."""

    def __init__(self, caplog: pytest.LogCaptureFixture):
        self.caplog = caplog
        self.texts: list[tuple[str, str]] = []

    def response(self, label: str, response) -> None:
        self.texts.append((f"{label} body", response.content.decode(errors="replace")))
        self.texts.append((f"{label} headers", str(response.headers)))
        self.texts.append((f"{label} cookies", str(response.cookies)))
        context = getattr(response, "context", None)
        for message in (context or {}).get("messages", []) if context else []:
            self.texts.append((f"{label} message", str(message)))

    def everything(self) -> list[tuple[str, str]]:
        logs = []
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        for record in self.caplog.records:
            line = formatter.format(record)  # includes the traceback when there is one
            logs.append((f"log {record.name}", line + repr(record.args)))
        emails = [(f"email to {m.to}", f"{m.subject}\n{m.body}") for m in mail.outbox]
        return self.texts + logs + emails

    def leaks(self, *secrets: str) -> list[str]:
        return [
            f"{where} contains {secret[:6]}…"
            for where, text in self.everything()
            for secret in secrets
            if secret in text
        ]


@pytest.fixture
def transcript(caplog) -> Transcript:
    """Every logger at DEBUG, except those production pins (asserted to be pinned)."""
    for name, level in PINNED_LOGGERS.items():
        assert settings.LOGGING["loggers"][name]["level"] == level
    caplog.set_level(logging.DEBUG)
    names = [
        name for name in logging.root.manager.loggerDict if name.split(".")[0] not in PINNED_LOGGERS
    ]
    for name in names:
        caplog.set_level(logging.DEBUG, logger=name)
    return Transcript(caplog)


@pytest.fixture
def fast_discord(settings) -> Iterator[DiscordServer]:
    """The Discord stand-in, with retries and timeouts short enough for a test."""
    settings.DISCORD_RETRY_LIMIT = 2
    settings.DISCORD_RETRY_BACKOFF = 0.01
    settings.DISCORD_HTTP_TIMEOUT = 0.5
    with DiscordServer() as server:
        settings.DISCORD_API_BASE = server.api_base
        yield server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def logged_in_editor(transcript: Transcript) -> Client:
    editor = EditorFactory(is_superuser=True, password=EDITOR_PASSWORD)
    client = Client()
    # The desk's login is the site's (allauth's).
    response = client.post(
        reverse("account_login"),
        {"login": editor.email, "password": EDITOR_PASSWORD, "next": "/admin/"},
        secure=True,
    )
    transcript.response("admin login", response)
    assert response.status_code == 302
    return client


def visit(client: Client, transcript: Transcript, label: str, url: str, data=None):
    if data is None:
        response = client.get(url, secure=True, follow=True)
    else:
        response = client.post(url, data, secure=True, follow=True)
    transcript.response(label, response)
    assert response.status_code == 200, f"{label}: {response.status_code}"
    return response


@pytest.mark.django_db
def test_webhook_token_stays_secret_through_channels_and_failed_deliveries(
    fast_discord, transcript, settings, django_capture_on_commit_callbacks
):
    hook = fast_discord.create_webhook(token=TOKEN)
    client = logged_in_editor(transcript)
    admin = "/admin/newsletter/"

    # Adding a channel: the token is typed once; a refused URL is not echoed back.
    bad_url = f"http://discord.com/api/webhooks/{hook.id}/{TOKEN}"
    response = visit(
        client,
        transcript,
        "add refused",
        f"{admin}discordchannel/add/",
        {"name": "general", "webhook_url": bad_url, "active": "on", "receives_issues": "on"},
    )
    assert "starts with https://" in response.content.decode()
    visit(
        client,
        transcript,
        "add",
        f"{admin}discordchannel/add/",
        {
            "name": "general",
            "webhook_url": DiscordServer.webhook_url(hook),
            "active": "on",
            "receives_issues": "on",
        },
    )
    channel = DiscordChannel.objects.get(name="general")
    assert channel.webhook_token == TOKEN
    change = f"{admin}discordchannel/{channel.pk}/change/"
    visit(client, transcript, "channel page", change)
    visit(client, transcript, "channel list", f"{admin}discordchannel/")
    visit(client, transcript, "channel history", f"{admin}discordchannel/{channel.pk}/history/")

    # A test message that works, then every kind of failure, each shown to the editor.
    test = f"{admin}discordchannel/{channel.pk}/test/"
    visit(client, transcript, "test ok", test, {})
    fast_discord.fail_status, fast_discord.fail_next = 500, 100
    visit(client, transcript, "test 500", test, {})
    fast_discord.fail_next = 0
    fast_discord.slow_next, fast_discord.slow_seconds = 100, 2
    visit(client, transcript, "test timeout", test, {})
    fast_discord.slow_next = 0
    settings.DISCORD_API_BASE = f"http://127.0.0.1:{closed_port()}/api/v10"
    visit(client, transcript, "test refused", test, {})
    visit(client, transcript, "check refused", f"{admin}discordchannel/{channel.pk}/check/", {})
    settings.DISCORD_API_BASE = fast_discord.api_base
    fast_discord.delete_webhook(hook)  # Discord answers 404, code 10015 "Unknown Webhook"
    with django_capture_on_commit_callbacks(execute=True):  # the editors' email goes on commit
        visit(client, transcript, "check gone", f"{admin}discordchannel/{channel.pk}/check/", {})
    channel.refresh_from_db()
    assert not channel.active
    assert "10015" in channel.deactivated_reason or "Unknown Webhook" in channel.deactivated_reason

    # Replacing the token: the new one stays as secret as the old one.
    new_hook = fast_discord.create_webhook(token=NEW_TOKEN)
    visit(
        client,
        transcript,
        "replace",
        change,
        {
            "name": "general",
            "webhook_url": DiscordServer.webhook_url(new_hook),
            "active": "on",
            "receives_issues": "on",
        },
    )
    visit(client, transcript, "test new", test, {})

    # Every delivery's list row and page, with their errors.
    assert Delivery.objects.filter(channel=channel).exclude(last_error="").count() == 3
    visit(client, transcript, "delivery list", f"{admin}delivery/")
    for delivery in Delivery.objects.all():
        visit(
            client, transcript, f"delivery {delivery.pk}", f"{admin}delivery/{delivery.pk}/change/"
        )
    # The errors editors read are real explanations, just without the token.
    errors = " ".join(Delivery.objects.values_list("last_error", flat=True))
    assert "(500" in errors
    assert "did not answer within" in errors
    assert "connection refused" in errors

    assert mail.outbox, "the editors were told that the channel was switched off"
    # The transcript is not empty-handed: it holds the pages (the webhook id is shown, it is not
    # a secret) and the delivery log lines.
    assert any(hook.id in text for where, text in transcript.everything() if "body" in where)
    assert any(where == "log newsletter.services.delivery" for where, _ in transcript.everything())
    assert transcript.leaks(TOKEN, NEW_TOKEN, settings.SECRET_KEY, EDITOR_PASSWORD) == []


@pytest.mark.django_db
def test_passwords_stay_secret_through_sign_up_log_in_and_reset(transcript):
    client = Client()
    signup = reverse("account_signup")
    # Mismatched passwords: the form comes back without them.
    response = client.post(
        signup,
        {"email": "ada@example.org", "password1": MEMBER_PASSWORD, "password2": WRONG_PASSWORD},
        secure=True,
    )
    transcript.response("sign-up refused", response)
    assert response.status_code == 200
    response = client.post(
        signup,
        {"email": "ada@example.org", "password1": MEMBER_PASSWORD, "password2": MEMBER_PASSWORD},
        secure=True,
        follow=True,
    )
    transcript.response("sign-up", response)
    member = UserFactory(password=MEMBER_PASSWORD)
    login = reverse("account_login")
    response = client.post(login, {"login": member.email, "password": WRONG_PASSWORD}, secure=True)
    transcript.response("log-in refused", response)
    assert response.status_code == 200
    response = client.post(
        login, {"login": member.email, "password": MEMBER_PASSWORD}, secure=True, follow=True
    )
    transcript.response("log-in", response)
    assert response.context["user"].is_authenticated
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": WRONG_PASSWORD, "password1": "x", "password2": "y"},
        secure=True,
    )
    transcript.response("change refused", response)
    visit(client, transcript, "profile", reverse("portal:profile"))
    response = Client().post(
        reverse("account_reset_password"), {"email": member.email}, secure=True, follow=True
    )
    transcript.response("reset", response)
    # An editor looking at members in the admin sees no password either, only its hash's summary.
    editor = logged_in_editor(transcript)
    visit(editor, transcript, "users", "/admin/portal/user/")
    visit(editor, transcript, "user", f"/admin/portal/user/{member.pk}/change/")
    assert len(mail.outbox) >= 2  # the confirmation and the reset
    assert transcript.leaks(MEMBER_PASSWORD, WRONG_PASSWORD, EDITOR_PASSWORD) == []
    assert transcript.leaks(settings.SECRET_KEY) == []


# --- The 500 page with DEBUG off ---------------------------------------------------------------


def boom(request):
    raise RuntimeError("something broke while handling this request")


urlpatterns = [path("boom/", boom), *site_urlpatterns]


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_server_error_page_shows_no_trace_and_no_settings(transcript, settings):
    assert settings.DEBUG is False
    client = Client(raise_request_exception=False)
    response = client.get("/boom/", secure=True)
    transcript.response("500", response)
    text = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in text
    for detail in (
        "Traceback",
        "RuntimeError",
        "something broke",
        "SECRET_KEY",
        "DATABASES",
        "boom",
    ):
        assert detail not in text
    assert response["Content-Security-Policy"]
    # The log has the traceback for the people running the site, still without the secrets.
    assert any("something broke" in line for _, line in transcript.everything())
    assert transcript.leaks(settings.SECRET_KEY) == []

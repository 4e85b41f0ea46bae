"""The webhook URL parser and the HTTP client, against the local Discord stand-in."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from newsletter.discord.client import (
    DiscordClient,
    DiscordRateLimited,
    DiscordRejected,
    DiscordTemporaryError,
    UnknownMessage,
    Webhook,
    WebhookGone,
)
from newsletter.discord.urls import WebhookURLError, parse_webhook_url, redact
from tests.stubs.discord import DiscordServer, discord_server  # noqa: F401  (fixture)

HOOK_ID = "1087423945128562718"
TOKEN = "Ab_cD-3fGhIjKlMnOpQrStUvWxYz0123456789abcdefghijklmnopqrstuvwxyzABCD"


# --- webhook URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"https://discord.com/api/webhooks/{HOOK_ID}/{TOKEN}",
        f"https://discord.com/api/v10/webhooks/{HOOK_ID}/{TOKEN}",
        f"https://discord.com/api/v9/webhooks/{HOOK_ID}/{TOKEN}",
        f"https://discordapp.com/api/webhooks/{HOOK_ID}/{TOKEN}",
        f"https://canary.discord.com/api/webhooks/{HOOK_ID}/{TOKEN}",
        f"https://ptb.discord.com/api/v10/webhooks/{HOOK_ID}/{TOKEN}",
        f"https://canary.discordapp.com/api/webhooks/{HOOK_ID}/{TOKEN}/",
        f"  https://DISCORD.com/api/webhooks/{HOOK_ID}/{TOKEN}\n",
        f"https://discord.com/api/webhooks/{HOOK_ID}/{TOKEN}?wait=true",
    ],
)
def test_parse_webhook_url_every_form_discord_hands_out(url):
    address = parse_webhook_url(url)

    assert (address.webhook_id, address.token, address.thread_id) == (HOOK_ID, TOKEN, "")


def test_parse_webhook_url_keeps_a_thread_id():
    url = f"https://discord.com/api/webhooks/{HOOK_ID}/{TOKEN}?thread_id=1100000000000000001"

    assert parse_webhook_url(url).thread_id == "1100000000000000001"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"http://discord.com/api/webhooks/{HOOK_ID}/{TOKEN}", "https://"),
        (f"https://discord.com.evil.example/api/webhooks/{HOOK_ID}/{TOKEN}", "not on discord.com"),
        (f"https://evil.example/api/webhooks/{HOOK_ID}/{TOKEN}", "not on discord.com"),
        (f"https://discord.com@evil.example/api/webhooks/{HOOK_ID}/{TOKEN}", "not on discord.com"),
        (f"https://user@discord.com/api/webhooks/{HOOK_ID}/{TOKEN}", "not on discord.com"),
        (f"https://discord.com:8443/api/webhooks/{HOOK_ID}/{TOKEN}", "not on discord.com"),
        (f"https://discord.com/api/webhooks/{HOOK_ID}", "not a webhook URL"),
        (f"https://discord.com/api/webhooks/abc/{TOKEN}", "not a webhook URL"),
        (f"https://discord.com/api/webhooks/{HOOK_ID}/{TOKEN}/messages/1", "not a webhook URL"),
        ("https://discord.com/channels/1/2", "not a webhook URL"),
        ("https://discord.gg/invite", "not on discord.com"),
        ("", "https://"),
        ("not a url at all", "https://"),
        (f"https://discord.com/api/webhooks/{HOOK_ID}/{TOKEN}?thread_id=abc", "thread_id"),
    ],
)
def test_parse_webhook_url_refuses_others_without_repeating_the_token(url, says):
    with pytest.raises(WebhookURLError) as caught:
        parse_webhook_url(url)

    assert says in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert TOKEN[:20] not in str(caught.value)


def test_redact_hides_tokens_in_any_text():
    text = f"failed: POST https://x/api/v10/webhooks/{HOOK_ID}/{TOKEN}?wait=true (timeout)"

    assert (
        redact(text) == f"failed: POST https://x/api/v10/webhooks/{HOOK_ID}/***?wait=true (timeout)"
    )


# --- the client ----------------------------------------------------------------------------------


@pytest.fixture
def hook(discord_server):  # noqa: F811
    return discord_server.create_webhook()


@pytest.fixture
def client(discord_server):  # noqa: F811
    with DiscordClient(api_base=discord_server.api_base, timeout=2) as client:
        yield client


def webhook_for(hook, **kwargs) -> Webhook:
    return Webhook(webhook_id=hook.id, token=hook.token, **kwargs)


def test_execute_posts_without_mentions_or_previews_and_returns_the_message(
    discord_server,  # noqa: F811
    hook,
    client,
):
    answer = client.execute(webhook_for(hook), "Hello @everyone, see https://example.org")

    posted = discord_server.posted(hook)
    assert [m.content for m in posted] == ["Hello @everyone, see https://example.org"]
    assert answer["id"] == posted[0].id
    assert posted[0].body["allowed_mentions"] == {"parse": []}
    assert posted[0].body["flags"] == 4
    request = discord_server.requests[-1]
    assert request.query == {"wait": "true"}
    assert request.user_agent.startswith("DiscordBot (")
    assert "newsletter" in request.user_agent


def test_execute_sends_username_avatar_thread_and_previews_when_asked(
    discord_server,  # noqa: F811
    hook,
    client,
):
    thread_id = discord_server.create_thread(hook)
    webhook = webhook_for(
        hook,
        thread_id=thread_id,
        username="Newsletter bot",
        avatar_url="https://example.org/logo.png",
        link_previews=True,
    )

    client.execute(webhook, "Hi")

    posted = discord_server.posted(hook)[0]
    assert posted.thread_id == thread_id
    assert posted.body["username"] == "Newsletter bot"
    assert posted.body["avatar_url"] == "https://example.org/logo.png"
    assert "flags" not in posted.body


def test_edit_and_delete_change_the_posted_message(discord_server, hook, client):  # noqa: F811
    webhook = webhook_for(hook)
    first = client.execute(webhook, "one")
    second = client.execute(webhook, "two")

    client.edit(webhook, first["id"], "one, corrected")
    client.delete(webhook, second["id"])

    assert discord_server.visible(hook) == ["one, corrected"]
    with pytest.raises(UnknownMessage):
        client.delete(webhook, second["id"])


def test_get_webhook_proves_the_webhook_works(hook, client):
    assert client.get_webhook(webhook_for(hook))["name"] == "Newsletter"


def test_too_long_content_is_refused_with_discords_explanation(hook, client):
    with pytest.raises(DiscordRejected) as caught:
        client.execute(webhook_for(hook), "x" * 2001)

    assert caught.value.status == 400
    assert caught.value.code == 50035
    assert "content: Must be 2000 or fewer in length." in str(caught.value)


def test_empty_content_is_refused(hook, client):
    with pytest.raises(DiscordRejected) as caught:
        client.execute(webhook_for(hook), "   ")

    assert caught.value.code == 50006
    assert "Cannot send an empty message" in str(caught.value)


def test_a_deleted_webhook_is_gone_and_the_error_hides_the_token(
    discord_server,  # noqa: F811
    hook,
    client,
):
    discord_server.delete_webhook(hook)

    with pytest.raises(WebhookGone) as caught:
        client.execute(webhook_for(hook), "hi")

    assert caught.value.code == 10015
    assert "no longer knows this webhook" in str(caught.value)
    assert hook.token not in str(caught.value)


def test_a_wrong_token_is_gone(hook, client):
    with pytest.raises(WebhookGone) as caught:
        client.execute(Webhook(webhook_id=hook.id, token="x" * 68), "hi")

    assert caught.value.status == 401


def test_an_unknown_thread_is_gone(hook, client):
    with pytest.raises(WebhookGone) as caught:
        client.execute(webhook_for(hook, thread_id="1234567890123456789"), "hi")

    assert "thread" in str(caught.value)


def test_5xx_is_temporary_and_not_posted(discord_server, hook, client):  # noqa: F811
    discord_server.fail_next = 1

    with pytest.raises(DiscordTemporaryError) as caught:
        client.execute(webhook_for(hook), "hi")

    assert caught.value.status == 503
    assert caught.value.maybe_sent is False
    assert discord_server.contents(hook) == []


@pytest.mark.parametrize(
    "redis",
    [
        "as configured",  # in Redis, shared by every process, when the run has REDIS_URL
        "",  # no Redis: the process keeps it
        "redis://127.0.0.1:9/0",  # Redis unreachable: the process keeps it meanwhile
    ],
)
def test_pacing_by_the_headers_never_runs_into_429(
    discord_server,  # noqa: F811
    hook,
    client,
    settings,
    redis,
):
    if redis != "as configured":
        settings.REDIS_URL = redis
    started = time.monotonic()
    for number in range(11):
        client.execute(webhook_for(hook), f"message {number}")
    elapsed = time.monotonic() - started

    assert discord_server.count(429) == 0
    assert discord_server.contents(hook) == [f"message {n}" for n in range(11)]
    # Windows of 5 per 2 s: messages 6-10 and 11 wait for two windows, and not much more.
    assert 3.9 <= elapsed < 4.8


def test_429_with_json_waits_retry_after_before_the_next_request(
    discord_server,  # noqa: F811
    hook,
    client,
):
    discord_server.force_429_next = 1

    with pytest.raises(DiscordRateLimited) as caught:
        client.execute(webhook_for(hook), "first")
    started = time.monotonic()
    client.execute(webhook_for(hook), "first")

    assert caught.value.retry_after == 0.25
    assert time.monotonic() - started >= 0.25
    assert discord_server.contents(hook) == ["first"]


def test_429_that_is_not_json_falls_back_to_retry_after_header(
    discord_server,  # noqa: F811
    hook,
    client,
):
    discord_server.force_429_next = 1
    discord_server.html_429 = True

    with pytest.raises(DiscordRateLimited) as caught:
        client.execute(webhook_for(hook), "first")

    assert caught.value.retry_after == 1.0
    assert caught.value.status == 429


def test_a_slow_answer_is_a_timeout_that_may_have_posted(
    discord_server,  # noqa: F811
    hook,
    client,
):
    discord_server.slow_next = 1
    discord_server.slow_seconds = 3

    with pytest.raises(DiscordTemporaryError) as caught:
        client.execute(webhook_for(hook), "slow")

    assert caught.value.maybe_sent is True
    assert "did not answer within 2 s" in str(caught.value)
    assert discord_server.contents(hook) == ["slow"]  # Discord did post it


def test_a_refused_connection_surely_did_not_post(hook, caplog):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    caplog.set_level(logging.DEBUG)

    with (
        DiscordClient(api_base=f"http://127.0.0.1:{port}/api/v10", timeout=1) as client,
        pytest.raises(DiscordTemporaryError) as caught,
    ):
        client.execute(webhook_for(hook), "hi")

    assert caught.value.maybe_sent is False
    assert "connection refused" in str(caught.value)
    assert hook.token not in str(caught.value)
    assert caught.value.__cause__ is None
    assert hook.token not in caplog.text


def test_client_never_logs_the_token(discord_server, hook, client, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    discord_server.fail_next = 1

    with pytest.raises(DiscordTemporaryError):
        client.execute(webhook_for(hook), "hi")
    client.execute(webhook_for(hook), "hi")

    assert hook.token not in caplog.text


def test_standalone_stand_in_accepts_any_webhook():
    with DiscordServer(accept_any=True) as server:
        with DiscordClient(api_base=server.api_base, timeout=2) as client:
            client.execute(Webhook(webhook_id=HOOK_ID, token=TOKEN), "demo")
        assert server.contents() == ["demo"]

"""The interactions endpoint: who may talk to it, and how it answers (signed like Discord)."""

import json
import time

import pytest

from newsletter.models import Submission
from tests.stubs.discord_apps import Signer

pytestmark = pytest.mark.django_db


def test_endpoint_is_404_while_the_settings_are_unset(client, settings):
    settings.DISCORD_APPLICATION_ID = settings.DISCORD_PUBLIC_KEY = settings.DISCORD_GUILD_ID = ""
    body = b'{"type": 1}'
    response = client.post(
        "/discord/interactions/",
        data=body,
        content_type="application/json",
        headers=Signer().headers(body),
    )
    assert response.status_code == 404


def test_ping_is_answered_with_pong(discord_app):
    response = discord_app.post({"id": "1", "type": 1, "application_id": "1"})
    assert response.status_code == 200
    assert response.json() == {"type": 1}


def test_bad_signature_is_refused_with_401(discord_app):
    body = json.dumps({"id": "1", "type": 1}).encode()
    someone_else = Signer().headers(body)
    response = discord_app.post(body, headers=someone_else)
    assert response.status_code == 401
    assert "signature" in response.json()["message"]


def test_missing_signature_is_refused_with_401(discord_app):
    response = discord_app.post({"id": "1", "type": 1}, headers={})
    assert response.status_code == 401


def test_stale_timestamp_is_refused_with_401(discord_app):
    response = discord_app.post({"id": "1", "type": 1}, timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    assert "stale" in response.json()["message"]


def test_replayed_body_with_another_timestamp_is_refused(discord_app, member):
    payload = discord_app.interaction(2, {"id": "9", "name": "review", "type": 1})
    body = json.dumps(payload).encode()
    signed = discord_app.signer.headers(body)
    assert discord_app.post(body, headers=signed).status_code == 200
    replay = {**signed, "X-Signature-Timestamp": str(int(signed["X-Signature-Timestamp"]) + 5)}
    assert discord_app.post(body, headers=replay).status_code == 401


def test_the_same_interaction_twice_is_acted_on_once(discord_app, member):
    from tests.stubs.discord_apps import discord_user, link_account

    who = discord_user(link_account(member))
    payload = discord_app.interaction(
        5,
        {
            "custom_id": "share",
            "components": [
                {
                    "type": 1,
                    "components": [
                        {"type": 4, "custom_id": "url", "value": "https://example.org/a"}
                    ],
                },
                {"type": 1, "components": [{"type": 4, "custom_id": "kind", "value": "blog"}]},
            ],
        },
        user=who,
    )
    first = discord_app.post(payload)
    again = discord_app.post(payload)
    assert "waiting for the editors' review" in first.json()["data"]["content"]
    assert again.json()["data"]["content"] == "This was already received."
    assert Submission.objects.count() == 1


def test_unknown_command_gets_an_ephemeral_answer(discord_app):
    response = discord_app.command("launch-rockets")
    assert response.status_code == 200
    answer = response.json()
    assert answer["type"] == 4
    assert answer["data"]["flags"] == 64
    assert answer["data"]["allowed_mentions"] == {"parse": []}
    assert "unknown" in answer["data"]["content"]


def test_another_server_is_ignored(discord_app, member):
    from tests.stubs.discord_apps import discord_user, link_account

    who = discord_user(link_account(member))
    payload = discord_app.interaction(
        5,
        {
            "custom_id": "share",
            "components": [
                {
                    "type": 1,
                    "components": [
                        {"type": 4, "custom_id": "url", "value": "https://example.org/b"}
                    ],
                }
            ],
        },
        user=who,
        guild_id="999",
    )
    answer = discord_app.post(payload).json()
    assert answer["data"]["content"] == "This app works only in its community's server."
    assert Submission.objects.count() == 0


def test_huge_payload_is_refused_before_anything_else(discord_app):
    body = json.dumps({"id": "1", "type": 1, "pad": "x" * 70_000}).encode()
    response = discord_app.post(body)
    assert response.status_code == 413
    assert "at most" in response.json()["message"]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
def test_signed_garbage_is_a_400(discord_app, body):
    assert discord_app.post(body).status_code == 400


def test_only_post_is_allowed(discord_app, client):
    assert client.get("/discord/interactions/").status_code == 405

"""The application side of the Discord stand-in: interactions, commands and OAuth login.

`DiscordServer` (tests/stubs/discord.py) hands these routes here, under the same base URL:

- ``POST /webhooks/{application_id}/{token}`` and ``GET|PATCH|DELETE
  /webhooks/{application_id}/{token}/messages/@original|{id}``: the follow-ups of an
  interaction. A token is known once `interaction_token()` made it (Discord gives one with each
  interaction); others answer 404 code 10015, as Discord does after the token's 15 minutes.
- ``GET|PUT /applications/{id}/guilds/{guild}/commands``: the guild's commands, with the bot
  token checked (401 code 0 otherwise); PUT replaces them all and gives each an id.
- ``GET /oauth2/authorize``: a consent page whose "Authorize" link goes back to redirect_uri
  with a code and the state; ``POST /oauth2/token`` swaps the code for a bearer token;
  ``GET /users/@me`` answers the user `oauth_user` (set it before the login).

Tests sign interactions with a key pair of their own: `Signer` makes one, signs a body like
Discord (Ed25519 over timestamp + body) and gives the headers.
"""

from __future__ import annotations

import copy
import html
import json
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode

import pytest
from nacl.signing import SigningKey

APPLICATION_ID = "1100000000000000001"
BOT_TOKEN = "stand-in-bot-token"
CLIENT_ID = "1100000000000000001"
CLIENT_SECRET = "stand-in-client-secret"


class Signer:
    """An Ed25519 key pair standing in for the application's (public_key goes in the settings)."""

    def __init__(self):
        self.key = SigningKey.generate()
        self.public_key = self.key.verify_key.encode().hex()

    def headers(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.key.sign(stamp.encode() + body).signature.hex()
        return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp}


@dataclass
class Followup:
    """What the portal said through one interaction's webhook."""

    token: str
    original: list[dict] = field(default_factory=list)  # each edit of @original, in order
    messages: list[dict] = field(default_factory=list)  # further follow-up messages

    @property
    def answer(self) -> dict | None:
        return self.original[-1] if self.original else None


class Applications:
    def __init__(self, server):
        self.server = server
        self.application_id = APPLICATION_ID
        self.bot_token = BOT_TOKEN
        self.followups: dict[str, Followup] = {}
        self.commands: dict[str, list[dict]] = {}  # guild id -> commands
        self.command_puts = 0
        self.oauth_user: dict = {}
        self._codes: dict[str, dict] = {}
        self._tokens: dict[str, dict] = {}

    def interaction_token(self) -> str:
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(40)
        self.followups[token] = Followup(token)
        return token

    def handle(self, method: str, path: str, query: dict, headers, body: bytes):
        """(status, body, headers) for the application routes, None for any other route."""
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"]:
            parts = parts[1:]
        if parts and parts[0].startswith("v") and parts[0][1:].isdigit():
            parts = parts[1:]
        if len(parts) >= 3 and parts[0] == "webhooks" and parts[1] == self.application_id:
            return self._followup(method, parts[2], parts[3:], body)
        if len(parts) == 5 and parts[0::2] == ["applications", "guilds", "commands"]:
            return self._commands(method, parts[1], parts[3], headers, body)
        if parts == ["oauth2", "authorize"] and method == "GET":
            return self._authorize(query)
        if parts == ["oauth2", "token"] and method == "POST":
            return self._token(body)
        if parts == ["users", "@me"] and method == "GET":
            user = self._tokens.get(headers.get("Authorization", "").removeprefix("Bearer "))
            return (
                (200, user, {}) if user else (401, {"message": "401: Unauthorized", "code": 0}, {})
            )
        return None

    # -- follow-ups -------------------------------------------------------------------------

    def _followup(self, method, token, rest, body):
        found = self.followups.get(token)
        if found is None and self.server.accept_any:  # as a process, for demos: any token
            found = self.followups[token] = Followup(token)
        if found is None:
            return 404, {"message": "Unknown Webhook", "code": 10015}, {}
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return 400, {"message": "The request body contains invalid JSON.", "code": 50109}, {}
        if not rest and method == "POST":
            found.messages.append(data)
            return 200, {"id": self.server._snowflake(), **(data or {})}, {}
        if len(rest) == 2 and rest[0] == "messages":
            if method == "PATCH" and rest[1] == "@original":
                if not isinstance(data, dict) or len(str(data.get("content") or "")) > 2000:
                    return 400, {"message": "Invalid Form Body", "code": 50035}, {}
                found.original.append(data)
                return 200, {"id": self.server._snowflake(), **data}, {}
            if method == "GET" and rest[1] == "@original" and found.original:
                return 200, found.answer, {}
            return 404, {"message": "Unknown Message", "code": 10008}, {}
        return 405, {"message": "405: Method Not Allowed", "code": 0}, {}

    # -- commands ---------------------------------------------------------------------------

    def _commands(self, method, application_id, guild_id, headers, body):
        if headers.get("Authorization") != f"Bot {self.bot_token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        if application_id != self.application_id:
            return 403, {"message": "Missing Access", "code": 50001}, {}
        if method == "GET":
            return 200, self.commands.get(guild_id, []), {}
        if method != "PUT":
            return 405, {"message": "405: Method Not Allowed", "code": 0}, {}
        commands = json.loads(body or b"[]")
        if not isinstance(commands, list) or any("name" not in c for c in commands):
            return 400, {"message": "Invalid Form Body", "code": 50035}, {}
        self.command_puts += 1
        stored = [
            {
                "id": self.server._snowflake(),
                "application_id": application_id,
                "guild_id": guild_id,
                "version": self.server._snowflake(),
                "default_member_permissions": None,
                "type": 1,
                "description": "",
                **command,
            }
            for command in commands
        ]
        self.commands[guild_id] = stored
        return 200, stored, {}

    # -- OAuth --------------------------------------------------------------------------------

    def _authorize(self, query):
        if query.get("client_id") != CLIENT_ID or not query.get("redirect_uri"):
            return 400, b"<html><body>Invalid OAuth2 request</body></html>", {}
        code = secrets.token_urlsafe(16)
        self._codes[code] = {"user": dict(self.oauth_user), "redirect_uri": query["redirect_uri"]}
        back = (
            f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        )
        page = (
            "<!doctype html><html><head><title>Discord - Authorize</title></head><body>"
            f"<h1>Authorize access to your account ({html.escape(self.oauth_user.get('username', ''))})</h1>"
            f'<a id="authorize" href="{html.escape(back)}">Authorize</a></body></html>'
        )
        return 200, page.encode(), {}

    def _token(self, body):
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        grant = self._codes.pop(form.get("code", ""), None)
        if (
            grant is None
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
            or form.get("redirect_uri") != grant["redirect_uri"]
        ):
            return 400, {"error": "invalid_grant"}, {}
        token = secrets.token_urlsafe(24)
        self._tokens[token] = grant["user"]
        return (
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 604800,
                "refresh_token": secrets.token_urlsafe(24),
                "scope": "identify email",
            },
            {},
        )


# -- in tests ---------------------------------------------------------------------------------

GUILD_ID = "1200000000000000001"
_ids = iter(range(10**6))


def snowflake() -> str:
    return str(1300000000000000000 + next(_ids))


def discord_user(discord_id: str | None = None, username: str = "someone") -> dict:
    return {"id": discord_id or snowflake(), "username": username, "global_name": username}


def link_account(user, discord_id: str | None = None) -> str:
    """Connect `user` to a Discord account (as logging in with Discord would); its id."""
    from allauth.socialaccount.models import SocialAccount

    discord_id = discord_id or snowflake()
    SocialAccount.objects.create(
        user=user, provider="discord", uid=discord_id, extra_data={"id": discord_id}
    )
    return discord_id


class DiscordApp:
    """The configured application, as tests drive it: signed interactions to our endpoint."""

    def __init__(self, server, signer: Signer, client):
        self.server, self.signer, self.client = server, signer, client
        self.guild_id = GUILD_ID

    def interaction(
        self, kind: int, data: dict | None = None, *, user: dict | None = None, **extra
    ) -> dict:
        payload = {
            "id": snowflake(),
            "application_id": APPLICATION_ID,
            "type": kind,
            "token": self.server.apps.interaction_token(),
            "version": 1,
            "guild_id": self.guild_id,
            "channel_id": "1400000000000000001",
            "member": {"user": user or discord_user(), "roles": []},
            **extra,
        }
        if data is not None:
            payload["data"] = data
        return payload

    def post(self, payload, *, timestamp: int | None = None, headers: dict | None = None):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        signed = self.signer.headers(body, timestamp=timestamp) if headers is None else headers
        return self.client.post(
            "/discord/interactions/",
            data=body,
            content_type="application/json",
            headers=signed,
        )

    def command(self, name: str, *, user: dict | None = None, options: dict | None = None, **kw):
        data = {"id": snowflake(), "name": name, "type": 1}
        if options:
            data["options"] = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
        return self.post(self.interaction(2, data, user=user, **kw))

    def modal(self, custom_id: str, values: dict, *, user: dict | None = None):
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in values.items()
        ]
        return self.post(
            self.interaction(5, {"custom_id": custom_id, "components": rows}, user=user)
        )

    def press(self, custom_id: str, *, user: dict | None = None):
        return self.post(
            self.interaction(3, {"custom_id": custom_id, "component_type": 2}, user=user)
        )


@pytest.fixture
def discord_app(discord_server, settings, client, monkeypatch):
    """Discord interactions switched on, with a key pair of the test's own and the stand-in
    (also for a worker started afterwards)."""
    signer = Signer()
    for name, value in (
        ("DISCORD_APPLICATION_ID", APPLICATION_ID),
        ("DISCORD_PUBLIC_KEY", signer.public_key),
        ("DISCORD_BOT_TOKEN", BOT_TOKEN),
        ("DISCORD_GUILD_ID", GUILD_ID),
    ):
        setattr(settings, name, value)
        monkeypatch.setenv(name, value)
    return DiscordApp(discord_server, signer, client)


@pytest.fixture
def discord_login(settings, discord_server):
    """ "Log in with Discord" switched on, against the stand-in's OAuth pages; set
    `discord_login.apps.oauth_user` to the Discord user who will authorize."""
    settings.SOCIALACCOUNT_PROVIDERS = {
        "discord": {
            "APP": {"client_id": CLIENT_ID, "secret": CLIENT_SECRET, "key": ""},
            "SCOPE": ["identify", "email"],
        }
    }
    # As the settings allow DISCORD_API_BASE's host as a form's destination (the login's
    # redirect), with the stand-in's.
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"]["form-action"].append(discord_server.url)
    settings.CONTENT_SECURITY_POLICY = policy
    return discord_server

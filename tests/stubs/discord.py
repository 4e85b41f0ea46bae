"""A local stand-in for Discord's webhook API, for tests, demos and benchmarks.

It answers like https://discord.com/api/v10 for the webhook routes the portal uses, on
127.0.0.1, so the delivery code runs for real (sockets, timeouts, rate limits) without leaving
the machine. Point `DISCORD_API_BASE` at `server.api_base`.

Routes (under any of /api, /api/vN or nothing):

- ``POST /webhooks/{id}/{token}[?wait=true][&thread_id=]``  creates a message; with wait=true
  the answer is the message with a snowflake id, otherwise 204. A webhook of a forum channel
  (``create_webhook(forum=True)``) wants a ``thread_name`` (at most 100 characters) or a
  ``thread_id``: a ``thread_name`` opens a new post, a thread whose id is the starter message's
  id, and the answer's ``channel_id`` is that thread's id (``server.threads`` lists them).
- ``GET /webhooks/{id}/{token}``  the webhook object.
- ``GET|PATCH|DELETE /webhooks/{id}/{token}/messages/{message_id}``  read, edit, delete.

Like Discord it refuses content over 2000 code points and empty messages (400, codes 50035 with
a nested ``errors`` object, and 50006), checks the embed limits, answers 404 code 10015 for an
unknown webhook, 401 code 50027 for a wrong token, 404 code 10008 for an unknown message, and
rate-limits message requests with a bucket of 5 per 2 seconds per webhook: every answer carries
the X-RateLimit-* headers and an exhausted bucket answers 429
``{"message", "retry_after", "global": false}``.

Knobs (plain attributes, change them at any time): ``fail_every`` (every n-th message request
answers ``fail_status``), ``fail_next`` (the next n do), ``delay`` (every answer waits that many
seconds after the message is stored), ``slow_next`` with ``slow_seconds`` (the next n do),
``html_429`` (429s come as a proxy's HTML page with only a Retry-After header), ``force_429_next``
(the next n message requests get a 429 whatever the bucket says),
``delete_webhook_after(hook, n)`` (the webhook disappears once n messages are posted to it), and
``hook.failing`` (the next n message requests to that webhook alone answer ``fail_status``).

In tests: the ``discord_server`` fixture gives a fresh server and points DISCORD_API_BASE at it
(also for a worker started afterwards); ``make_channel(server, **fields)`` adds a DiscordChannel
with a new webhook, ``server.hooks[channel.webhook_id]`` is its webhook.

The application's routes (interaction follow-ups, command registration, the OAuth login) are in
tests/stubs/discord_apps.py, as ``server.apps``; its ``discord_app`` fixture signs interactions.

The record: ``server.messages`` (every message posted, in order, with its later edits and
deletion), ``server.requests`` (every request with its answer's status), ``contents(hook)``,
``visible(hook)`` and ``count(status)``.

As a process, for ``make run`` demos and benchmarks::

    python -m tests.stubs.discord --port 8089

prints a webhook URL to paste into the admin and the DISCORD_API_BASE to set; any well-formed
webhook id and token is accepted. ``GET /_stub/record`` shows what was received.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .discord_apps import Applications

DISCORD_EPOCH_MS = 1_420_070_400_000
CONTENT_LIMIT = 2000
EMBED_LIMITS = {"title": 256, "description": 4096}
_ROUTE = re.compile(
    r"(?:/api(?:/v\d+)?)?/webhooks/(?P<id>\d+)/(?P<token>[^/]+)"
    r"(?:/messages/(?P<message>\d+|@original))?/?"
)


@dataclass
class Hook:
    id: str
    token: str
    name: str = "Newsletter"
    channel_id: str = ""
    guild_id: str = ""
    forum: bool = False
    threads: set[str] = field(default_factory=set)
    deleted: bool = False
    delete_after: int | None = None  # messages posted before it disappears
    posted: int = 0
    failing: int = 0  # the next n message requests to this webhook answer fail_status


@dataclass
class Posted:
    """One message as Discord stored it, with what happened to it later."""

    webhook_id: str
    id: str
    content: str
    body: dict
    thread_id: str = ""
    at: float = 0.0  # time.monotonic() when stored
    edits: list[str] = field(default_factory=list)
    deleted: bool = False

    @property
    def current(self) -> str:
        return self.edits[-1] if self.edits else self.content


@dataclass
class Seen:
    method: str
    path: str
    webhook_id: str
    status: int
    at: float
    user_agent: str = ""
    query: dict = field(default_factory=dict)


@dataclass
class _Bucket:
    count: int = 0
    resets_at: float = 0.0


class DiscordServer:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bucket_size: int = 5,
        bucket_window: float = 2.0,
        accept_any: bool = False,
    ):
        self.bucket_size = bucket_size
        self.bucket_window = bucket_window
        self.accept_any = accept_any
        # knobs
        self.fail_every = 0
        self.fail_next = 0
        self.fail_status = 503
        self.delay = 0.0
        self.slow_next = 0
        self.slow_seconds = 0.0
        self.html_429 = False
        self.force_429_next = 0
        # state and record
        self.hooks: dict[str, Hook] = {}
        self.messages: list[Posted] = []
        self.threads: dict[str, str] = {}  # forum posts: thread id → name
        self.forum_hooks = False  # webhooks made up by accept_any are forum channels
        self.requests: list[Seen] = []
        self._buckets: dict[str, _Bucket] = {}
        self._message_requests = 0
        self._sequence = 0
        self.lock = threading.RLock()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        # Interactions' follow-ups, commands and OAuth login (tests/stubs/discord_apps.py).
        self.apps = Applications(self)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    def start(self) -> DiscordServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> DiscordServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- setting up -------------------------------------------------------------------------

    def create_webhook(
        self, *, name: str = "Newsletter", token: str | None = None, forum: bool = False
    ) -> Hook:
        with self.lock:
            hook = Hook(
                id=self._snowflake(),
                token=token or secrets.token_urlsafe(51),
                name=name,
                channel_id=self._snowflake(),
                guild_id=self._snowflake(),
                forum=forum,
            )
            self.hooks[hook.id] = hook
            return hook

    def create_thread(self, hook: Hook) -> str:
        with self.lock:
            thread_id = self._snowflake()
            hook.threads.add(thread_id)
            return thread_id

    @staticmethod
    def webhook_url(hook: Hook, *, host: str = "discord.com", version: str = "") -> str:
        """The URL an editor copies from Discord (https://discord.com/api/webhooks/...)."""
        api = f"/api/{version}" if version else "/api"
        return f"https://{host}{api}/webhooks/{hook.id}/{hook.token}"

    def delete_webhook(self, hook: Hook) -> None:
        with self.lock:
            hook.deleted = True

    def delete_webhook_after(self, hook: Hook, messages: int) -> None:
        with self.lock:
            hook.delete_after = messages

    def reset_buckets(self) -> None:
        with self.lock:
            self._buckets.clear()

    # -- reading the record -----------------------------------------------------------------

    def posted(self, hook: Hook | None = None) -> list[Posted]:
        with self.lock:
            return [m for m in self.messages if hook is None or m.webhook_id == hook.id]

    def contents(self, hook: Hook | None = None) -> list[str]:
        """Content of every message posted to the webhook, in the order received."""
        return [m.content for m in self.posted(hook)]

    def visible(self, hook: Hook | None = None) -> list[str]:
        """What the channel shows now: posted messages after their edits, minus deleted ones."""
        return [m.current for m in self.posted(hook) if not m.deleted]

    def count(self, status: int, hook: Hook | None = None) -> int:
        with self.lock:
            return sum(
                1
                for r in self.requests
                if r.status == status and (hook is None or r.webhook_id == hook.id)
            )

    # -- answering --------------------------------------------------------------------------

    def _snowflake(self) -> str:
        self._sequence += 1
        now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return str((now_ms << 22) | (1 << 17) | (self._sequence & 0xFFF))

    def handle(self, method: str, target: str, headers, body: bytes) -> _Answer:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path.rstrip("/") == "/_stub/record" and method == "GET":
            return _Answer(200, self.record())
        if parts.path.rstrip("/") == "/_stub/config" and method == "POST":
            return self._configure(body)
        with self.lock:
            app_answer = self.apps.handle(method, parts.path, query, headers, body)
        if app_answer is not None:
            return _Answer(*app_answer)
        match = _ROUTE.fullmatch(parts.path)
        if match is None:
            return _Answer(404, {"message": "404: Not Found", "code": 0})
        webhook_id, token, message_id = match["id"], match["token"], match["message"]
        with self.lock:
            answer = self._answer(method, webhook_id, token, message_id, query, body)
            self.requests.append(
                Seen(
                    method=method,
                    path=parts.path,
                    webhook_id=webhook_id,
                    status=answer.status,
                    at=time.monotonic(),
                    user_agent=headers.get("User-Agent", ""),
                    query=query,
                )
            )
        return answer

    def _answer(self, method, webhook_id, token, message_id, query, body) -> _Answer:
        hook = self.hooks.get(webhook_id)
        if hook is None and self.accept_any and not message_id:
            hook = self.hooks[webhook_id] = Hook(
                id=webhook_id,
                token=token,
                channel_id=self._snowflake(),
                guild_id=self._snowflake(),
                forum=self.forum_hooks,
            )
        if hook is None or hook.deleted:
            return _Answer(404, {"message": "Unknown Webhook", "code": 10015})
        if not secrets.compare_digest(hook.token, token):
            return _Answer(401, {"message": "Invalid Webhook Token", "code": 50027})
        if method == "GET" and message_id is None:
            return _Answer(200, self._webhook_json(hook))
        if method not in ("POST", "PATCH", "DELETE", "GET"):
            return _Answer(405, {"message": "405: Method Not Allowed", "code": 0})
        if method == "POST" and message_id is not None:
            return _Answer(405, {"message": "405: Method Not Allowed", "code": 0})
        if method == "GET":
            found = self._find(hook, message_id)
            if found is None:
                return _Answer(404, {"message": "Unknown Message", "code": 10008})
            return _Answer(200, self._message_json(hook, found))

        return self._message_request(hook, method, message_id, query, body)

    def _message_request(self, hook, method, message_id, query, body) -> _Answer:
        """POST, PATCH and DELETE of messages: injected failures, the rate limit, the work."""
        self._message_requests += 1
        if (
            self.fail_next > 0
            or hook.failing > 0
            or (self.fail_every and self._message_requests % self.fail_every == 0)
        ):
            self.fail_next = max(0, self.fail_next - 1)
            hook.failing = max(0, hook.failing - 1)
            return _Answer(
                self.fail_status, {"message": f"{self.fail_status}: Server Error", "code": 0}
            )
        limited = self._rate_limit(hook)
        if limited is not None:
            return limited
        rate_headers = self._rate_headers(hook)
        thread_id = query.get("thread_id", "")
        if thread_id and thread_id not in hook.threads:
            return _Answer(404, {"message": "Unknown Channel", "code": 10003}, rate_headers)

        if method == "DELETE":
            found = self._find(hook, message_id)
            if found is None:
                return _Answer(404, {"message": "Unknown Message", "code": 10008}, rate_headers)
            found.deleted = True
            return _Answer(204, None, rate_headers)

        try:
            data = json.loads(body or b"null")
        except ValueError:
            return _Answer(
                400, {"message": "The request body contains invalid JSON.", "code": 50109}
            )
        if not isinstance(data, dict):
            return _Answer(400, {"message": "Cannot send an empty message", "code": 50006})
        problem = _validate(data)
        if problem is not None:
            return _Answer(400, problem, rate_headers)
        name = data.get("thread_name") if method == "POST" else None
        problem = _forum_problem(hook, name, thread_id)
        if problem is not None:
            return _Answer(400, problem, rate_headers)

        if method == "PATCH":
            found = self._find(hook, message_id)
            if found is None:
                return _Answer(404, {"message": "Unknown Message", "code": 10008}, rate_headers)
            if "content" in data:
                found.edits.append(data.get("content") or "")
            return _Answer(200, self._message_json(hook, found), rate_headers, self._slow())

        return self._post(hook, data, name, thread_id, query, rate_headers)

    def _post(self, hook, data, name, thread_id, query, rate_headers) -> _Answer:
        """A new message; with a thread name, the starter of a new forum post."""
        message_id = self._snowflake()
        if name:  # a new forum post: its thread has the starter message's id
            thread_id = message_id
            hook.threads.add(thread_id)
            self.threads[thread_id] = name
        posted = Posted(
            webhook_id=hook.id,
            id=message_id,
            content=data.get("content") or "",
            body=data,
            thread_id=thread_id,
            at=time.monotonic(),
        )
        self.messages.append(posted)
        hook.posted += 1
        if hook.delete_after is not None and hook.posted >= hook.delete_after:
            hook.deleted = True
        if query.get("wait", "").lower() != "true":
            return _Answer(204, None, rate_headers, self._slow())
        return _Answer(200, self._message_json(hook, posted), rate_headers, self._slow())

    def _slow(self) -> float:
        if self.slow_next > 0:
            self.slow_next -= 1
            return self.slow_seconds
        return self.delay

    def _rate_limit(self, hook: Hook) -> _Answer | None:
        now = time.monotonic()
        bucket = self._buckets.setdefault(hook.id, _Bucket())
        if bucket.resets_at <= now:
            bucket.count = 0
            bucket.resets_at = now + self.bucket_window
        forced = self.force_429_next > 0
        if bucket.count < self.bucket_size and not forced:
            bucket.count += 1
            return None
        self.force_429_next = max(0, self.force_429_next - 1)
        retry_after = _round_up(max(bucket.resets_at - now, 0.001) if not forced else 0.25)
        headers = {
            **self._rate_headers(hook),
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "shared",
        }
        if self.html_429:
            # A proxy's block page: no JSON, no X-RateLimit headers, only Retry-After.
            page = b"<html><body><h1>429 Too Many Requests</h1></body></html>"
            return _Answer(429, page, {"Retry-After": str(math.ceil(retry_after))})
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
        }
        return _Answer(429, body, headers)

    def _rate_headers(self, hook: Hook) -> dict[str, str]:
        bucket = self._buckets.setdefault(hook.id, _Bucket())
        now = time.monotonic()
        reset_after = _round_up(max(bucket.resets_at - now, 0.0))
        return {
            "X-RateLimit-Limit": str(self.bucket_size),
            "X-RateLimit-Remaining": str(max(self.bucket_size - bucket.count, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(hook.id.encode(), usedforsecurity=False).hexdigest(),
        }

    def _find(self, hook: Hook, message_id: str | None) -> Posted | None:
        for posted in self.messages:
            if posted.webhook_id == hook.id and posted.id == message_id and not posted.deleted:
                return posted
        return None

    @staticmethod
    def _webhook_json(hook: Hook) -> dict:
        return {
            "id": hook.id,
            "type": 1,
            "guild_id": hook.guild_id,
            "channel_id": hook.channel_id,
            "name": hook.name,
            "avatar": None,
            "application_id": None,
            "token": hook.token,
        }

    def _message_json(self, hook: Hook, posted: Posted) -> dict:
        return {
            "id": posted.id,
            "type": 0,
            "content": posted.current,
            "channel_id": posted.thread_id or hook.channel_id,
            "author": {
                "bot": True,
                "id": hook.id,
                "username": posted.body.get("username") or hook.name,
            },
            "attachments": [],
            "embeds": posted.body.get("embeds") or [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": datetime.now(UTC).isoformat() if posted.edits else None,
            "flags": posted.body.get("flags") or 0,
            "components": [],
            "webhook_id": hook.id,
        }

    def record(self) -> dict:
        with self.lock:
            return {
                "messages": [
                    {k: v for k, v in asdict(m).items() if k != "body"} for m in self.messages
                ],
                "requests": len(self.requests),
                "rate_limited": self.count(429),
            }

    def _configure(self, body: bytes) -> _Answer:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return _Answer(400, {"message": "invalid JSON"})
        knobs = {
            "fail_every",
            "fail_next",
            "fail_status",
            "delay",
            "slow_next",
            "slow_seconds",
            "html_429",
        }
        with self.lock:
            for key, value in data.items():
                if key in knobs:
                    setattr(self, key, value)
        return _Answer(200, {k: getattr(self, k) for k in sorted(knobs)})


@dataclass
class _Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def _forum_problem(hook: Hook, name, thread_id: str) -> dict | None:
    """Discord's answer to a post a forum (or a text) channel does not take, or None."""
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 100):
        return _invalid_form(
            {
                "thread_name": {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_BAD_LENGTH",
                            "message": "Must be between 1 and 100 in length.",
                        }
                    ]
                }
            }
        )
    if name and not hook.forum:
        return {"message": "Webhooks can only create threads in forum channels", "code": 220003}
    if hook.forum and not name and not thread_id:
        return {
            "message": "Webhooks posted to forum channels must have a thread_name or thread_id",
            "code": 220001,
        }
    return None


def _round_up(seconds: float) -> float:
    return math.ceil(seconds * 1000) / 1000


def _too_long(limit: int) -> dict:
    return {
        "_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}
        ]
    }


def _invalid_form(errors: dict) -> dict:
    return {"message": "Invalid Form Body", "code": 50035, "errors": errors}


def _validate(data: dict) -> dict | None:
    """Discord's checks on a message body: None when it is acceptable, else the 400 body."""
    content = data.get("content")
    if content is not None and not isinstance(content, str):
        return _invalid_form(
            {"content": {"_errors": [{"code": "STRING_TYPE_CONVERT", "message": "Not a string."}]}}
        )
    if content is not None and len(content) > CONTENT_LIMIT:
        return _invalid_form({"content": _too_long(CONTENT_LIMIT)})
    username = data.get("username")
    if username is not None and not 1 <= len(str(username)) <= 80:
        return _invalid_form({"username": _too_long(80)})
    flags = data.get("flags")
    if flags is not None and (not isinstance(flags, int) or flags & ~(4 | 4096)):
        return _invalid_form(
            {"flags": {"_errors": [{"code": "MESSAGE_FLAGS_INVALID", "message": "Invalid flags."}]}}
        )
    embeds = data.get("embeds") or []
    if not isinstance(embeds, list) or len(embeds) > 10:
        return _invalid_form({"embeds": _too_long(10)})
    problem = _validate_embeds(embeds)
    if problem is None and not (content or "").strip() and not embeds:
        return {"message": "Cannot send an empty message", "code": 50006}
    return problem


def _validate_embeds(embeds: list) -> dict | None:
    """Each embed's field limits, then the 6000 characters all embeds share."""
    errors: dict = {}
    total = 0
    for index, embed in enumerate(embeds):
        embed_errors, length = _embed_errors(embed)
        total += length
        if embed_errors:
            errors[str(index)] = embed_errors
    if errors:
        return _invalid_form({"embeds": errors})
    if total > 6000:
        return _invalid_form(
            {
                "embeds": {
                    "_errors": [
                        {
                            "code": "MAX_EMBED_SIZE_EXCEEDED",
                            "message": "Embed size exceeds maximum size of 6000",
                        }
                    ]
                }
            }
        )
    return None


def _embed_errors(embed: dict) -> tuple[dict, int]:
    embed_errors: dict = {}
    total = 0
    for key, limit in EMBED_LIMITS.items():
        value = str(embed.get(key) or "")
        total += len(value)
        if len(value) > limit:
            embed_errors[key] = _too_long(limit)
    footer = str((embed.get("footer") or {}).get("text") or "")
    author = str((embed.get("author") or {}).get("name") or "")
    total += len(footer) + len(author)
    if len(footer) > 2048:
        embed_errors["footer"] = {"text": _too_long(2048)}
    if len(author) > 256:
        embed_errors["author"] = {"name": _too_long(256)}
    fields = embed.get("fields") or []
    if len(fields) > 25:
        embed_errors["fields"] = _too_long(25)
    for number, embed_field in enumerate(fields[:25]):
        name, value = str(embed_field.get("name") or ""), str(embed_field.get("value") or "")
        total += len(name) + len(value)
        field_errors = {}
        if len(name) > 256:
            field_errors["name"] = _too_long(256)
        if len(value) > 1024:
            field_errors["value"] = _too_long(1024)
        if field_errors:
            embed_errors.setdefault("fields", {})[str(number)] = field_errors
    return embed_errors, total


def _handler_for(server: DiscordServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "DiscordStandIn/1.0"
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer on a kept-alive connection.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            answer = server.handle(self.command, self.path, self.headers, body)
            if answer.delay:
                time.sleep(answer.delay)
            if answer.body is None:
                payload, content_type = b"", None
            elif isinstance(answer.body, bytes):
                payload, content_type = answer.body, "text/html"
            else:
                payload, content_type = json.dumps(answer.body).encode(), "application/json"
            try:
                self.send_response(answer.status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        def log_message(self, format, *args) -> None:  # quiet: tokens are in the paths
            pass

    return Handler


def make_channel(server: DiscordServer, hook: Hook | None = None, **fields):
    """A DiscordChannel posting to a new (or the given) webhook of the stand-in."""
    from newsletter.models import DiscordChannel

    hook = hook or server.create_webhook(forum=bool(fields.get("forum")))
    fields.setdefault("name", f"channel {hook.id[-4:]}")
    return DiscordChannel.objects.create(webhook_id=hook.id, webhook_token=hook.token, **fields)


@pytest.fixture
def discord_server(settings, monkeypatch) -> Iterator[DiscordServer]:
    """A fresh stand-in; DISCORD_API_BASE points at it, here and in workers started afterwards."""
    with DiscordServer() as server:
        settings.DISCORD_API_BASE = server.api_base
        monkeypatch.setenv("DISCORD_API_BASE", server.api_base)
        yield server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for Discord's webhook API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--bucket", type=int, default=5, help="requests per window per webhook")
    parser.add_argument("--window", type=float, default=2.0, help="rate-limit window, seconds")
    parser.add_argument(
        "--forum", action="store_true", help="its webhooks are forum channels' (a post per item)"
    )
    args = parser.parse_args(argv)
    server = DiscordServer(
        host=args.host,
        port=args.port,
        bucket_size=args.bucket,
        bucket_window=args.window,
        accept_any=True,
    )
    server.forum_hooks = args.forum
    hook = server.create_webhook(name="Newsletter (stand-in)", forum=args.forum)
    print(f"Discord stand-in on {server.url}")
    print(f"  set DISCORD_API_BASE={server.api_base}")
    print(f"  webhook URL for the admin: {server.webhook_url(hook)}")
    print(f"  interactions: DISCORD_APPLICATION_ID={server.apps.application_id}")
    print(f"  what it received: {server.url}/_stub/record", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


if __name__ == "__main__":
    main()

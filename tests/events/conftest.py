"""Fixtures for the events tests: a local stand-in for Discord's webhook API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from newsletter.models import DiscordChannel


class DiscordStandIn:
    """Answers webhook posts like Discord (`?wait=true` returns the message) and records them."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with stand_in._lock:
                    stand_in.posts.append({"path": self.path, **body})
                    message_id = str(1000 + len(stand_in.posts))
                payload = json.dumps({"id": message_id, "content": body.get("content", "")})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload.encode())

            def log_message(self, format, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v10"

    def contents(self) -> list[str]:
        with self._lock:
            return [post.get("content", "") for post in self.posts]


@pytest.fixture
def discord() -> Iterator[DiscordStandIn]:
    stand_in = DiscordStandIn()
    stand_in.thread.start()
    try:
        yield stand_in
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()


@pytest.fixture
def discord_settings(settings, monkeypatch, discord: DiscordStandIn) -> DiscordStandIn:
    """DISCORD_API_BASE at the stand-in, here and in any worker started afterwards."""
    settings.DISCORD_API_BASE = discord.url
    monkeypatch.setenv("DISCORD_API_BASE", discord.url)
    return discord


@pytest.fixture
def reminder_channel(db) -> DiscordChannel:
    return DiscordChannel.objects.create(
        name="reading-group",
        webhook_id="111",
        webhook_token="secret-token-abcd",
        receives_issues=False,
        receives_reminders=True,
    )

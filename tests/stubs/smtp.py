"""A local SMTP server (aiosmtpd, in this process) for tests, demos and benchmarks.

It receives what Django's SMTP backend sends, on 127.0.0.1, so the email edition runs for real
(sockets, SMTP replies, a server that goes away) without leaving the machine. Point Django at
it with `server.settings()` (or, for a worker process, `server.email_url`).

Knobs (plain attributes, change them at any time):

- ``refuse[address] = (code, text)``: RCPT TO for that address answers `code text` (550: a
  permanent refusal, 450: a temporary one);
- ``refuse_data_next``: the next n messages get ``data_reply`` after their DATA instead of 250;
- ``hold_data``: a threading.Event; while it is clear, each message is stored (it arrived)
  and the 250 after its DATA waits: a worker killed then has handed it over unanswered;
  ``held`` counts the messages waiting so;
- ``delay``: seconds before each 250 after DATA (a slow server).

``stop()`` takes the server down (the port refuses connections, open sessions are cut) and
``start()`` brings it back on the same port.

The record: ``server.messages`` (every message accepted, in order, as `Received`), and
``server.to(address)`` (the messages whose RCPT TO was that address).

As a process, for ``make run`` demos::

    python -m tests.stubs.smtp --port 8025

and EMAIL_URL=smtp://127.0.0.1:8025; it prints a line per message received.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    def part(self, content_type: str) -> str:
        """The decoded text of the message's part of this type ("text/plain", "text/html")."""
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_multipart():
                return part.get_content()
        raise LookupError(f"no {content_type} part")


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        refusal = self.server.refuse.get(address.lower())
        if refusal is not None:
            code, text = refusal
            return f"{code} {text}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        server = self.server
        with server.lock:
            if server.refuse_data_next > 0:
                server.refuse_data_next -= 1
                return server.data_reply
            server.messages.append(
                Received(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    data=(envelope.original_content or envelope.content)
                    if server.keep_data
                    else b"",
                )
            )
        if not server.hold_data.is_set():
            with server.lock:
                server.held += 1
            try:
                while not server.hold_data.is_set():
                    await asyncio.sleep(0.05)
            finally:
                with server.lock:
                    server.held -= 1
        if server.delay:
            await asyncio.sleep(server.delay)
        if server.echo:
            print(f"received for {', '.join(envelope.rcpt_tos)}", flush=True)  # noqa: T201
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SMTPServer:
    def __init__(
        self, port: int | None = None, *, echo: bool = False, keep_data: bool = True
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.echo = echo
        # False keeps only who received what when (a benchmark's 50,000 messages in memory).
        self.keep_data = keep_data
        self.messages: list[Received] = []
        self.refuse: dict[str, tuple[int, str]] = {}
        self.refuse_data_next = 0
        self.data_reply = "554 5.6.0 Message refused"
        self.hold_data = threading.Event()
        self.hold_data.set()
        self.held = 0  # messages stored whose 250 waits for hold_data
        self.delay = 0.0
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def email_url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def settings(self) -> dict:
        """Django settings that send through this server."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": self.port,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
        }

    def start(self) -> SMTPServer:
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, ready_timeout=10
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        self.hold_data.set()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def to(self, address: str) -> list[Received]:
        address = address.lower()
        with self.lock:
            return [m for m in self.messages if address in (r.lower() for r in m.rcpt_tos)]

    def recipients(self) -> list[str]:
        with self.lock:
            return [r.lower() for m in self.messages for r in m.rcpt_tos]


@pytest.fixture
def smtp_server():
    with SMTPServer() as server:
        yield server


@pytest.fixture
def smtp_settings(settings, smtp_server):
    """Django sends through the local SMTP server (for this process; a worker gets its URL)."""
    for name, value in smtp_server.settings().items():
        setattr(settings, name, value)
    return smtp_server


def main() -> None:
    parser = argparse.ArgumentParser(description="A local SMTP server that prints what it gets.")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args()
    server = SMTPServer(args.port, echo=True).start()
    print(f"SMTP server on {server.email_url}: set EMAIL_URL={server.email_url}", flush=True)  # noqa: T201
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

"""Discord webhook URLs: parsing what an editor pastes, and keeping the token out of text.

A webhook URL holds a secret token. It is parsed once, when an editor saves a channel, into id
and token; requests are then made to `{DISCORD_API_BASE}/webhooks/{id}/{token}`. Nothing this
module raises or logs contains the token: exceptions are built from our own words and
Discord's error message, never from the text of a `requests` exception (which quotes the URL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

_WEBHOOK_HOSTS = {
    f"{prefix}{domain}"
    for prefix in ("", "www.", "canary.", "ptb.")
    for domain in ("discord.com", "discordapp.com")
}
_WEBHOOK_PATH = re.compile(
    r"/api(?:/v\d{1,2})?/webhooks/(?P<id>\d{15,21})/(?P<token>[A-Za-z0-9_\-]{20,200})/?"
)
_WEBHOOK_IN_TEXT = re.compile(r"(/webhooks/\d+/)[^/?#\s\"']+")
# Added to every wait for a rate-limit window, so that a rounded Reset-After never makes us


class WebhookURLError(ValueError):
    """The text is not a Discord webhook URL. The message never repeats the text (a secret)."""


@dataclass(frozen=True)
class WebhookAddress:
    webhook_id: str
    token: str
    thread_id: str = ""


def parse_webhook_url(url: str) -> WebhookAddress:
    """Id and token of a webhook URL in any of the forms Discord hands out.

    Accepted: https://discord.com/api/webhooks/{id}/{token}, with /v10 (any /vN) after /api,
    on discordapp.com, canary. and ptb.; a `thread_id` query parameter is kept.
    """
    hint = (
        "Paste the URL from Discord (channel settings → Integrations → Webhooks → Copy "
        "Webhook URL); it looks like https://discord.com/api/webhooks/<digits>/<token>."
    )
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        raise WebhookURLError(f"This is not a web address. {hint}") from None
    if parts.scheme != "https":
        raise WebhookURLError(f"A Discord webhook URL starts with https://. {hint}")
    host = (parts.hostname or "").lower()
    if host not in _WEBHOOK_HOSTS or parts.port not in (None, 443) or parts.username:
        raise WebhookURLError(f"This address is not on discord.com. {hint}")
    match = _WEBHOOK_PATH.fullmatch(parts.path)
    if match is None:
        raise WebhookURLError(f"This Discord address is not a webhook URL. {hint}")
    thread_ids = parse_qs(parts.query).get("thread_id", [""])
    thread_id = thread_ids[-1]
    if thread_id and not thread_id.isdigit():
        raise WebhookURLError("The thread_id in this URL is not a Discord id (digits only).")
    return WebhookAddress(match["id"], match["token"], thread_id)


def redact(text: str) -> str:
    """`text` with the token of any webhook URL in it replaced by asterisks."""
    return _WEBHOOK_IN_TEXT.sub(r"\1***", str(text))

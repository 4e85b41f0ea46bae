"""Discord channels from the editors' side: a test message and a check of the webhook."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from newsletter.discord.client import DiscordClient, DiscordError, Webhook, WebhookGone
from newsletter.models import Delivery, DiscordChannel
from newsletter.rendering import ForumPost

from .delivery import TEST_KEY_PREFIX, _delivery_create, channel_deactivate
from .delivery_run import delivery_send


def channel_send_test(*, channel: DiscordChannel, actor=None) -> Delivery:
    """Post a short test message to the channel now, recorded like any delivery."""
    name = getattr(actor, "display_name", "") or getattr(actor, "username", "") or "an editor"
    content = (
        f"Test message from {settings.SITE_NAME}, sent by {name}: "
        "this channel will receive the newsletter here."
    )
    key = f"{TEST_KEY_PREFIX}{timezone.now():%Y%m%d%H%M%S}:{uuid.uuid4().hex[:8]}"
    # A forum channel takes posts only: the test opens one.
    post = ForumPost(
        content, f"Test message from {settings.SITE_NAME}"[:100] if channel.forum else ""
    )
    delivery = _delivery_create(channel=channel, key=key, contents=[post], issue=None)
    # One attempt: the editor is waiting on the page (backing off 1 + 2 + 4 + 8 s between
    # five attempts outlasted gunicorn's timeout); a failure is retried by the sweeper.
    delivery_send(delivery_id=delivery.pk, retry_limit=1)
    delivery.refresh_from_db()
    return delivery


@dataclass
class ChannelCheck:
    ok: bool
    detail: str


def channel_check(*, channel: DiscordChannel) -> ChannelCheck:
    """Ask Discord about the webhook (GET): does it exist and does the token work?"""

    try:
        with DiscordClient() as client:
            data = client.get_webhook(Webhook.for_channel(channel))
    except WebhookGone as exc:
        channel_deactivate(channel=channel, reason=str(exc))
        return ChannelCheck(False, str(exc))
    except DiscordError as exc:
        return ChannelCheck(False, str(exc))
    guild_id = str(data.get("guild_id") or "")[:32]
    if guild_id and guild_id != channel.guild_id:
        DiscordChannel.objects.filter(pk=channel.pk).update(guild_id=guild_id)
        channel.guild_id = guild_id
    name = data.get("name") or "(no name)"
    return ChannelCheck(
        True,
        f"Discord knows this webhook as “{name}” in channel {data.get('channel_id', '?')}.",
    )


# --- retrying, correcting, sweeping ------------------------------------------------------------

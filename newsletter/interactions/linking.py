"""A member without a linked account: keep what they typed, and a signed link to finish it.

The reply to an unlinked Discord user carries a one-time link, signed and valid 30 minutes,
naming a `DiscordPending` row. Opened on the site, it asks to log in or sign up with Discord
(allauth); once the member's Discord account is the one that typed it, one press stores the
submissions through the same service as the website. A second use finds the row completed.
"""

from __future__ import annotations

from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from newsletter.models import DiscordPending
from portal.site import absolute_url

from . import replies
from .submit import Outcome, submit_one

LINK_SALT = "newsletter.discord.link"
LINK_MAX_AGE = 30 * 60


class LinkInvalid(Exception):
    """The link cannot be used; `str()` says why, for the page."""


def pending_create(*, discord_user: dict, items: list[dict]) -> DiscordPending:
    return DiscordPending.objects.create(
        discord_user_id=str(discord_user.get("id") or ""),
        discord_username=str(discord_user.get("username") or "")[:100],
        items=[{key: str(value or "") for key, value in item.items()} for item in items[:3]],
    )


def link_url(pending: DiscordPending) -> str:
    token = signing.dumps({"p": pending.pk, "u": pending.discord_user_id}, salt=LINK_SALT)
    return absolute_url(reverse("discord:link", args=[token]))


def link_reply(pending: DiscordPending) -> dict:
    """The ephemeral answer to someone Discord knows and the site does not (yet)."""
    url = link_url(pending)
    links = ", ".join(f"<{item.get('url', '')}>" for item in pending.items)
    return replies.ephemeral(
        f"Nearly there: to send {links}, connect your Discord account to the site "
        f"(log in or sign up with Discord). What you typed is kept; this link works once, "
        f"for 30 minutes: {url}",
        [replies.row(replies.link_button("Connect and send", url))],
    )


def pending_from_token(token: str) -> DiscordPending:
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise LinkInvalid(
            "This link has expired (links work for 30 minutes). Share the link again from "
            "Discord to get a new one."
        ) from exc
    except signing.BadSignature as exc:
        raise LinkInvalid("This link is not valid. Please copy it again from Discord.") from exc
    pending = DiscordPending.objects.filter(pk=data.get("p"), discord_user_id=data.get("u")).first()
    if pending is None:
        raise LinkInvalid("This link is not valid any more. Share the link again from Discord.")
    return pending


def discord_uid(user) -> str | None:
    account = user.socialaccount_set.filter(provider="discord").first()
    return account.uid if account else None


def pending_complete(*, pending: DiscordPending, user) -> list[Outcome]:
    """Store the pending submissions for `user`, once; the Discord accounts must match."""
    if discord_uid(user) != pending.discord_user_id:
        raise LinkInvalid(
            "This link belongs to another Discord account. Log in with the Discord account "
            "that shared the link."
        )
    with transaction.atomic():
        locked = DiscordPending.objects.select_for_update().get(pk=pending.pk)
        if locked.completed_at is not None:
            raise LinkInvalid("This link was already used; your submissions are in My submissions.")
        outcomes = [submit_one(author=user, item=item) for item in locked.items]
        locked.completed_at = timezone.now()
        locked.completed_by = user
        locked.submission = next(
            (o.submission for o in outcomes if o.submission and not o.duplicate), None
        )
        locked.save(update_fields=["completed_at", "completed_by", "submission"])
    return outcomes

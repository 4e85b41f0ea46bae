"""The member behind a Discord user: allauth's Discord social account (uid = Discord user id)."""

from __future__ import annotations

from allauth.socialaccount.models import SocialAccount


def member_for(discord_user_id: str):
    """The active member whose Discord account this is, or None."""
    if not discord_user_id:
        return None
    account = (
        SocialAccount.objects.filter(provider="discord", uid=str(discord_user_id))
        .select_related("user")
        .first()
    )
    if account is None or not account.user.is_active:
        return None
    return account.user

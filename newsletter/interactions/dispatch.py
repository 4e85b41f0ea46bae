"""Which interaction goes where, and the rules every one of them follows."""

from __future__ import annotations

from django.conf import settings

from . import replies, review, share, suggest

OTHER_SERVER = "This app works only in its community's server."


def interaction_answer(interaction: dict) -> dict:
    """The answer Discord waits for (within 3 seconds) to a verified interaction."""
    kind = interaction.get("type")
    if kind == replies.PING:
        return {"type": replies.PONG}
    if str(interaction.get("guild_id") or "") != settings.DISCORD_GUILD_ID:
        return replies.ephemeral(OTHER_SERVER)
    data = interaction.get("data") if isinstance(interaction.get("data"), dict) else {}
    if kind == replies.APPLICATION_COMMAND:
        name = data.get("name")
        if name == "share":
            return share.share_command(interaction)
        if name == suggest.COMMAND_NAME:
            return suggest.suggest_command(interaction)
        if name == "review":
            return review.review_command(interaction)
        return replies.ephemeral("This command is unknown here; it may have been removed.")
    if kind == replies.MODAL_SUBMIT and data.get("custom_id") == share.MODAL_ID:
        return share.share_submit(interaction)
    if kind == replies.MESSAGE_COMPONENT:
        custom_id = str(data.get("custom_id") or "")
        if custom_id.startswith(share.RETRY_PREFIX):
            return share.share_retry(interaction, custom_id.removeprefix(share.RETRY_PREFIX))
        parts = custom_id.split(":")
        if len(parts) == 3 and parts[0] == "review" and parts[1] in ("for", "against", "skip"):
            return review.review_button(interaction, parts[1], parts[2])
    return replies.ephemeral("This action is unknown here; it may have expired.")

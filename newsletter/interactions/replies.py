"""The shapes of interaction answers (https://discord.com/developers/docs/interactions)."""

from __future__ import annotations

from typing import Any

# Interaction types
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
# Answer types
PONG, MESSAGE, DEFERRED_MESSAGE, UPDATE_MESSAGE, MODAL = 1, 4, 5, 7, 9
EPHEMERAL = 64
NO_MENTIONS = {"parse": []}
CONTENT_LIMIT = 2000


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word when one is near, with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit * 0.8:
        head = head[:space]
    return head.rstrip() + "…"


def message_data(content: str, components: list | None = None) -> dict[str, Any]:
    """An ephemeral message that mentions nobody: every reply about a member's own work."""
    return {
        "content": cut(content, CONTENT_LIMIT),
        "flags": EPHEMERAL,
        "allowed_mentions": NO_MENTIONS,
        "components": components or [],
    }


def ephemeral(content: str, components: list | None = None) -> dict[str, Any]:
    return {"type": MESSAGE, "data": message_data(content, components)}


def update(content: str, components: list | None = None) -> dict[str, Any]:
    """Replace the message whose button was pressed (the /review card)."""
    return {"type": UPDATE_MESSAGE, "data": message_data(content, components)}


def deferred() -> dict[str, Any]:
    """ "Thinking…", ephemeral; the answer follows through the interaction webhook."""
    return {"type": DEFERRED_MESSAGE, "data": {"flags": EPHEMERAL}}


def button(label: str, custom_id: str, style: int = 2) -> dict[str, Any]:
    """Styles: 1 primary, 2 secondary, 3 success, 4 danger."""
    return {"type": 2, "style": style, "label": label, "custom_id": custom_id}


def link_button(label: str, url: str) -> dict[str, Any]:
    return {"type": 2, "style": 5, "label": label, "url": url}


def row(*components: dict) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


def text_input(
    custom_id: str,
    label: str,
    *,
    value: str = "",
    long: bool = False,
    required: bool = False,
    max_length: int = 4000,
    placeholder: str = "",
) -> dict[str, Any]:
    field = {
        "type": 4,
        "custom_id": custom_id,
        "label": label,
        "style": 2 if long else 1,
        "required": required,
        "max_length": max_length,
    }
    if value:
        field["value"] = value[:max_length]
    if placeholder:
        field["placeholder"] = placeholder[:100]
    return row(field)


def modal(custom_id: str, title: str, inputs: list[dict]) -> dict[str, Any]:
    return {
        "type": MODAL,
        "data": {"custom_id": custom_id, "title": title[:45], "components": inputs},
    }


def modal_values(interaction: dict) -> dict[str, str]:
    """{custom_id: value} of a submitted modal's text inputs."""
    values = {}
    for action_row in (interaction.get("data") or {}).get("components") or []:
        for component in action_row.get("components") or []:
            if isinstance(component, dict) and isinstance(component.get("value"), str):
                values[str(component.get("custom_id"))] = component["value"]
    return values


def options(interaction: dict) -> dict[str, Any]:
    """{name: value} of a slash command's options."""
    return {
        str(option.get("name")): option.get("value")
        for option in (interaction.get("data") or {}).get("options") or []
        if isinstance(option, dict)
    }


def discord_user(interaction: dict) -> dict[str, Any]:
    """Who acted: `member.user` in a server, `user` in a direct message."""
    return (interaction.get("member") or {}).get("user") or interaction.get("user") or {}

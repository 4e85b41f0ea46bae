"""The application's commands, and their registration as the guild's commands.

`commands_register` is what `manage.py discord_commands` runs: it reads the guild's commands,
compares, and bulk-overwrites them only when something differs, so running it again changes
nothing. Discord answers its own errors (a wrong token, an unknown guild) with a 4xx we report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests
from django.conf import settings

from newsletter.models import Kind

from .suggest import COMMAND_NAME as SUGGEST_NAME

CHAT_INPUT, MESSAGE_COMMAND = 1, 3
STRING = 3

COMMANDS: list[dict] = [
    {
        "name": "share",
        "type": CHAT_INPUT,
        "description": "Share a link with the newsletter's editors",
        "options": [
            {
                "type": STRING,
                "name": "url",
                "description": "The paper, post, tool, repository, talk or event",
                "required": True,
            },
            {"type": STRING, "name": "summary", "description": "Why should people read it?"},
            {
                "type": STRING,
                "name": "kind",
                "description": "Which section it belongs in",
                "choices": [{"name": label, "value": value} for value, label in Kind.choices],
            },
        ],
    },
    {"name": SUGGEST_NAME, "type": MESSAGE_COMMAND},
    {
        "name": "review",
        "type": CHAT_INPUT,
        "description": "Editors: vote on the oldest submission you have not voted on",
    },
]


class RegistrationFailed(Exception):
    pass


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def _shape(command: dict) -> dict:
    """The parts of a command we set, as Discord returns them (it adds ids and defaults)."""
    options = []
    for option in command.get("options") or []:
        options.append(
            {
                "type": option.get("type"),
                "name": option.get("name"),
                "description": option.get("description", ""),
                "required": bool(option.get("required", False)),
                "choices": [
                    {"name": c.get("name"), "value": c.get("value")}
                    for c in option.get("choices") or []
                ],
            }
        )
    return {
        "type": command.get("type", CHAT_INPUT),
        "description": command.get("description", ""),
        "options": options,
    }


def commands_url() -> str:
    return (
        f"{settings.DISCORD_API_BASE}/applications/{settings.DISCORD_APPLICATION_ID}"
        f"/guilds/{settings.DISCORD_GUILD_ID}/commands"
    )


def _request(method: str, **kwargs) -> list[dict]:
    headers = {"Authorization": f"Bot {settings.DISCORD_BOT_TOKEN}"}
    try:
        answer = requests.request(
            method, commands_url(), headers=headers, timeout=settings.DISCORD_HTTP_TIMEOUT, **kwargs
        )
    except requests.RequestException as exc:
        raise RegistrationFailed(f"Discord did not answer: {exc.__class__.__name__}") from exc
    if answer.status_code >= 400:
        try:
            message = answer.json().get("message", "")
        except ValueError:
            message = ""
        raise RegistrationFailed(f"Discord answered {answer.status_code} {message}".strip())
    return answer.json()


def commands_register() -> Changes:
    """Make the guild's commands exactly COMMANDS; say what changed."""
    missing = [
        name
        for name in ("DISCORD_APPLICATION_ID", "DISCORD_BOT_TOKEN", "DISCORD_GUILD_ID")
        if not getattr(settings, name)
    ]
    if missing:
        raise RegistrationFailed(f"Set {', '.join(missing)} first.")
    current = {(c.get("type", 1), c.get("name")): c for c in _request("GET")}
    wanted = {(c["type"], c["name"]): c for c in COMMANDS}
    changes = Changes()
    for key, command in wanted.items():
        if key not in current:
            changes.added.append(command["name"])
        elif _shape(current[key]) != _shape(command):
            changes.changed.append(command["name"])
        else:
            changes.unchanged.append(command["name"])
    changes.removed = [c.get("name", "") for key, c in current.items() if key not in wanted]
    if changes.any:
        _request("PUT", json=COMMANDS)
    return changes

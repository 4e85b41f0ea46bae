"""manage.py discord_commands: a bulk overwrite of the guild's commands, only when they differ."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.stubs.discord_apps import GUILD_ID


def _run() -> str:
    out = StringIO()
    call_command("discord_commands", stdout=out)
    return out.getvalue()


def test_registers_the_commands_then_changes_nothing(discord_app):
    apps = discord_app.server.apps
    apps.commands[GUILD_ID] = [
        {"id": "1", "type": 1, "name": "share", "description": "old words", "options": []},
        {"id": "2", "type": 1, "name": "ping", "description": "gone"},
    ]
    first = _run()
    assert first.splitlines() == [
        "added: Suggest for the newsletter",
        "added: review",
        "changed: share",
        "removed: ping",
    ]
    assert [(c["type"], c["name"]) for c in apps.commands[GUILD_ID]] == [
        (1, "share"),
        (3, "Suggest for the newsletter"),
        (1, "review"),
    ]
    assert _run().splitlines() == [
        "unchanged: share",
        "unchanged: Suggest for the newsletter",
        "unchanged: review",
        "Nothing to change: the commands are up to date.",
    ]
    assert apps.command_puts == 1


def test_a_wrong_bot_token_is_reported(discord_app, settings):
    settings.DISCORD_BOT_TOKEN = "wrong"
    with pytest.raises(CommandError, match="Discord answered 401"):
        _run()


def test_missing_settings_are_named(settings):
    settings.DISCORD_APPLICATION_ID = ""
    settings.DISCORD_BOT_TOKEN = ""
    settings.DISCORD_GUILD_ID = "1"
    with pytest.raises(CommandError, match="Set DISCORD_APPLICATION_ID, DISCORD_BOT_TOKEN first"):
        _run()

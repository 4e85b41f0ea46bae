"""The message command "Suggest for the newsletter": up to 3 links of a message become
submissions, the message text their draft summary.

The answer is deferred (an ephemeral "thinking…") and the work done by the Celery task
`newsletter.discord_suggest`, which edits the answer through the interaction webhook.
"""

from __future__ import annotations

import re

from newsletter.links.canonical import canonical_key
from portal.celery import queue_after_commit

from . import replies
from .accounts import member_for
from .followup import original_edit
from .linking import link_reply, pending_create
from .submit import outcomes_text, submit_one

COMMAND_NAME = "Suggest for the newsletter"
MAX_LINKS = 3
_URL = re.compile(r"https?://[^\s<>\"'`|]+", re.IGNORECASE)
_TRAILING = ".,;:!?*_~'\""


def _trim(url: str) -> str:
    """Drop punctuation that ends a sentence or a Markdown link, keeping balanced brackets."""
    while url:
        last = url[-1]
        if (
            last in _TRAILING
            or last == ")"
            and url.count("(") < url.count(")")
            or last == "]"
            and url.count("[") < url.count("]")
        ):
            url = url[:-1]
        else:
            break
    return url


def message_links(text: str) -> list[str]:
    """The message's distinct links (by canonical key), in order, at most three."""
    found, keys = [], set()
    for match in _URL.finditer(text or ""):
        url = _trim(match.group(0))
        try:
            key = canonical_key(url)
        except ValueError:
            continue
        if key not in keys:
            keys.add(key)
            found.append(url)
    return found[:MAX_LINKS]


def draft_summary(text: str) -> str:
    """The message text without its links (a masked link keeps its words)."""
    text = re.sub(r"\[([^\]]*)\]\(\s*<?https?://[^)\s]*>?\s*\)", r"\1", text or "")
    # A link goes; the punctuation after it (a comma, a closing bracket) stays.
    text = _URL.sub(lambda m: m.group(0)[len(_trim(m.group(0))) :], text).replace("<>", "")
    lines = (re.sub(r"[ \t]{2,}", " ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _target(interaction: dict) -> dict:
    data = interaction.get("data") or {}
    messages = (data.get("resolved") or {}).get("messages") or {}
    return messages.get(str(data.get("target_id"))) or {}


def suggest_command(interaction: dict) -> dict:
    message = _target(interaction)
    if not message_links(str(message.get("content") or "")):
        return replies.ephemeral("This message has no link to suggest.")
    queue_after_commit(
        "newsletter.discord_suggest",
        interaction={
            "token": interaction.get("token"),
            "guild_id": interaction.get("guild_id"),
            "channel_id": interaction.get("channel_id"),
            "user": replies.discord_user(interaction),
            "message": {
                "id": message.get("id"),
                "channel_id": message.get("channel_id") or interaction.get("channel_id"),
                "content": str(message.get("content") or "")[:4000],
                "author": message.get("author") or {},
            },
        },
    )
    return replies.deferred()


def suggest_answer(interaction: dict) -> dict:
    """The answer's message: what was created, what was a duplicate (or the link to connect)."""
    message, suggester = interaction["message"], interaction.get("user") or {}
    author_info = message.get("author") or {}
    source = (
        f"https://discord.com/channels/{interaction.get('guild_id')}/"
        f"{message.get('channel_id')}/{message.get('id')}"
    )
    credited = member_for(str(author_info.get("id") or ""))
    note = ""
    if credited is None:
        credited = member_for(str(suggester.get("id") or ""))
        note = (
            f"Suggested from a Discord message by {author_info.get('username') or 'someone'}: "
            f"{source}"
        )
    summary = draft_summary(message.get("content") or "")
    items = [
        {"url": url, "summary": summary, "note": note, "kind": ""}
        for url in message_links(message.get("content") or "")
    ]
    if credited is None:
        return link_reply(pending_create(discord_user=suggester, items=items))["data"]
    outcomes = [submit_one(author=credited, item=item) for item in items]
    return replies.message_data(outcomes_text(outcomes))


def suggest_run(*, interaction: dict) -> None:
    """The task's work: store the suggestions, then edit the deferred answer."""
    original_edit(token=str(interaction.get("token") or ""), data=suggest_answer(interaction))

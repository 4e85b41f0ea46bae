"""/share url [summary] [kind]: a modal pre-filled from the options and autofill; its submit
creates the submission as the website's form would."""

from __future__ import annotations

import concurrent.futures

from newsletter.links.autofill import fetch_metadata
from newsletter.links.fetch import FetchError
from newsletter.models import DiscordPending
from portal import ratelimit

from . import replies
from .accounts import member_for
from .linking import link_reply, pending_create
from .submit import KIND_HINT, kind_from, outcomes_text, submit_one

MODAL_ID = "share"
RETRY_PREFIX = "share-retry:"
# Autofill gets this long to pre-fill the modal (Discord waits 3 s for the answer); a title
# left empty is fetched after the submission by the usual task, as on the website.
AUTOFILL_BUDGET = 1.2
FETCHES_PER_MINUTE = 20  # as on the website
_autofill_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="share")


def _autofill(url: str) -> tuple[str, str]:
    future = _autofill_pool.submit(fetch_metadata, url)
    try:
        metadata = future.result(timeout=AUTOFILL_BUDGET)
    except (concurrent.futures.TimeoutError, FetchError, ValueError):
        return "", ""
    return metadata.title, metadata.summary


def share_modal(*, url: str, title: str = "", summary: str = "", kind: str = "", note: str = ""):
    return replies.modal(
        MODAL_ID,
        "Share with the newsletter",
        [
            replies.text_input("url", "Link", value=url, required=True, max_length=2000),
            replies.text_input(
                "title", "Title (empty: fetched from the page)", value=title, max_length=300
            ),
            replies.text_input("summary", "Summary (Markdown)", value=summary, long=True),
            replies.text_input("kind", "Kind", value=kind, max_length=20, placeholder=KIND_HINT),
            replies.text_input(
                "note", "Note to the editors", value=note, long=True, max_length=2000
            ),
        ],
    )


def share_command(interaction: dict) -> dict:
    given = replies.options(interaction)
    url = str(given.get("url") or "").strip()[:2000]
    summary = str(given.get("summary") or "")[:4000]
    kind = kind_from(str(given.get("kind") or ""), url)
    title = ""
    who = str(replies.discord_user(interaction).get("id") or "")
    # The website's budget of fetches, per Discord user: each makes this server call another.
    if url.startswith(("http://", "https://")) and ratelimit.allow(
        "discord-fetch", who, limit=FETCHES_PER_MINUTE, seconds=60
    ):
        title, fetched_summary = _autofill(url)
        summary = summary or fetched_summary
    return share_modal(url=url, title=title, summary=summary, kind=kind)


def share_submit(interaction: dict) -> dict:
    values = replies.modal_values(interaction)
    item = {key: values.get(key, "") for key in ("url", "title", "summary", "kind", "note")}
    who = replies.discord_user(interaction)
    author = member_for(str(who.get("id") or ""))
    if author is None:
        return link_reply(pending_create(discord_user=who, items=[item]))
    outcome = submit_one(author=author, item=item)
    if outcome.submission is None:
        # Refused (a bad link or kind, the daily limit): what was typed is kept, and the
        # button opens the modal again with it.
        kept = pending_create(discord_user=who, items=[item])
        retry = replies.button("Edit and try again", f"{RETRY_PREFIX}{kept.pk}", style=1)
        return replies.ephemeral(outcomes_text([outcome]), [replies.row(retry)])
    return replies.ephemeral(outcomes_text([outcome]))


def share_retry(interaction: dict, pending_id: str) -> dict:
    """ "Edit and try again": the modal once more, with what its sender typed."""
    who = str(replies.discord_user(interaction).get("id") or "")
    kept = (
        DiscordPending.objects.filter(
            pk=pending_id, discord_user_id=who, completed_at__isnull=True
        ).first()
        if pending_id.isdigit()
        else None
    )
    if kept is None or not kept.items:
        return replies.ephemeral("This has expired; use /share again.")
    item = kept.items[0]
    return share_modal(
        url=item.get("url", ""),
        title=item.get("title", ""),
        summary=item.get("summary", ""),
        kind=item.get("kind", ""),
        note=item.get("note", ""),
    )

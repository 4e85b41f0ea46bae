"""Discord interactions that take longer than Discord waits: done here, answered by follow-up."""

from __future__ import annotations

from celery import shared_task

from newsletter.interactions import suggest
from newsletter.interactions.followup import FollowupFailed


@shared_task(
    name="newsletter.discord_suggest",
    autoretry_for=(FollowupFailed,),
    retry_backoff=2,
    max_retries=3,
)
def discord_suggest(*, interaction: dict) -> None:
    """The message command's links become submissions; the deferred answer says how it went.

    A retry after a failed follow-up stores nothing twice: the links are then duplicates,
    and the answer says so.
    """
    suggest.suggest_run(interaction=interaction)

"""Correcting what Discord shows after a published issue changed ("Update on Discord").

Messages already posted are edited in place; new ones are posted at the end, and messages
beyond the new end are deleted. A message someone deleted in Discord cannot be edited: the
sending run posts it again as a new message and the delivery says so ("Message 2 was deleted
in Discord and was posted again.").
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from newsletter.models import Delivery, DeliveryMessage, Issue
from newsletter.rendering import ForumPost

from .delivery import (
    DeliveryBusy,
    Message,
    delivery_reopen,
    issue_contents,
    issue_delivery_key,
    posts_of,
)


@dataclass
class Correction:
    edits: int = 0
    posts: int = 0
    deletes: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.edits or self.posts or self.deletes)

    def __str__(self) -> str:
        parts = [
            f"{count} {verb}"
            for count, verb in (
                (self.edits, "to edit"),
                (self.posts, "to post"),
                (self.deletes, "to delete"),
            )
            if count
        ]
        return ", ".join(parts) or "nothing changed"


def delivery_correct(*, delivery: Delivery, contents: list[str] | list[ForumPost]) -> Correction:
    """Make the delivered messages read `contents`: edit in place, post or delete at the end.

    In a forum channel each post stays with its item (an item added in the middle of the issue
    must not take over another item's thread): posts are matched by item, a new item's post
    opens a thread after the others, a removed item's post is deleted. A post keeps its thread
    and its thread's name (a webhook can edit the message, not rename the thread).
    Raises DeliveryBusy while a run is sending it (the correction would race the run).
    """
    contents = posts_of(contents)
    correction = Correction()
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.lease_expires_at and delivery.lease_expires_at > timezone.now():
            raise DeliveryBusy(f"{delivery} is being sent right now; update it once it is done.")
        pairs, beyond = _pairs(delivery, contents)
        for position, message, post in pairs:
            text = post.content
            if message is not None and message.item_id != post.item_pk:
                message.item_id = post.item_pk
                message.save(update_fields=["item"])
            if message is None:
                DeliveryMessage.objects.update_or_create(
                    delivery=delivery,
                    position=position,
                    defaults={
                        "content": text,
                        "thread_name": post.thread_name,
                        "thread_id": "",
                        "item_id": post.item_pk,
                        "state": Message.PENDING,
                        "discord_message_id": "",
                        "attempts": 0,
                        "last_error": "",
                        "sent_at": None,
                        "awaiting_answer": False,
                        "maybe_duplicate": False,
                    },
                )
                correction.posts += 1
            elif message.discord_message_id:
                if message.content != text or message.state in (Message.FAILED, Message.DELETE):
                    _to_send(message, text, Message.EDIT)
                    correction.edits += 1
            elif message.content != text or message.state != Message.PENDING:
                if message.thread_name != post.thread_name:
                    message.thread_name = post.thread_name
                    message.save(update_fields=["thread_name"])
                _to_send(message, text, Message.PENDING)
                correction.posts += 1
        for message in beyond:  # beyond the new end, or of an item no longer there
            if message.discord_message_id:
                message.state = Message.DELETE
                message.attempts = 0
                message.last_error = ""
                message.save(update_fields=["state", "attempts", "last_error"])
                correction.deletes += 1
            else:
                message.delete()
        if correction.changed:
            delivery_reopen(delivery)
    return correction


def _pairs(delivery: Delivery, contents: list[ForumPost]):
    """Each post of `contents` with its position and the message it corrects (None: a new
    one), and the messages no post corrects. Messages match by position; a forum's by item."""
    live = list(delivery.messages.exclude(state=Message.DELETED).order_by("position"))
    if not any(post.thread_name for post in contents):
        by_position = {m.position: m for m in live}
        pairs = [
            (position, by_position.pop(position, None), post)
            for position, post in enumerate(contents)
        ]
        return pairs, list(by_position.values())
    by_item: dict[tuple[int | None, int], DeliveryMessage] = {}
    seen: dict[int | None, int] = {}
    for message in live:  # an item's messages: its post, then its continuations
        ordinal = seen[message.item_id] = seen.get(message.item_id, -1) + 1
        by_item[(message.item_id, ordinal)] = message
    top = delivery.messages.aggregate(top=Max("position"))["top"]
    following = 0 if top is None else top + 1
    pairs, seen = [], {}
    for post in contents:
        ordinal = seen[post.item_pk] = seen.get(post.item_pk, -1) + 1
        message = by_item.pop((post.item_pk, ordinal), None)
        if message is None:
            pairs.append((following, None, post))
            following += 1
        else:
            pairs.append((message.position, message, post))
    return pairs, list(by_item.values())


def _to_send(message: DeliveryMessage, text: str, state: str) -> None:
    """Mark a message to edit or post with new text; a new round of attempts and notes."""
    message.content = text
    message.state = state
    message.attempts = 0
    message.last_error = ""
    message.reposted_at = None
    message.save(update_fields=["content", "state", "attempts", "last_error", "reposted_at"])


def deliveries_correct_for_issue(*, issue: Issue) -> list[tuple[Delivery, Correction]]:
    """Bring every channel's copy of a corrected issue up to date ("update on Discord").

    Channels that are switched off are skipped; their deliveries are corrected once retried.
    Raises DeliveryBusy, changing nothing, when one of them is being sent right now.
    """

    results = []
    by_kind: dict[bool, list] = {}
    with transaction.atomic():
        for delivery in issue.deliveries.select_related("channel").filter(
            key=issue_delivery_key(issue)
        ):
            forum = delivery.channel.forum
            if forum not in by_kind:
                by_kind[forum] = issue_contents(issue, delivery.channel)
            contents = by_kind[forum]
            results.append((delivery, delivery_correct(delivery=delivery, contents=contents)))
    return results

"""What publishing an issue will do, said before it is done: the Discord channels that receive
it with the messages each gets, and the email subscribers. Read-only; the editors' confirmation
page shows it, and publishing itself (issues.py, delivery.py) follows the same rules."""

from __future__ import annotations

from dataclasses import dataclass

from newsletter.models import DiscordChannel, Issue, Subscriber
from newsletter.rendering import issue_discord_messages


@dataclass(frozen=True)
class ChannelPlan:
    channel: DiscordChannel
    message_count: int


@dataclass(frozen=True)
class PublishPlan:
    channels: list[ChannelPlan]
    subscriber_count: int
    message_count: int  # per channel: every channel gets the same messages

    @property
    def reaches_nobody(self) -> bool:
        return not self.channels and not self.subscriber_count


def publish_plan(*, issue: Issue) -> PublishPlan:
    """The channels and subscribers publishing `issue` now would reach."""
    channels = list(
        DiscordChannel.objects.filter(active=True, receives_issues=True).order_by("name", "id")
    )
    count = len([t for t in issue_discord_messages(issue) if t.strip()]) if channels else 0
    return PublishPlan(
        channels=[ChannelPlan(channel=channel, message_count=count) for channel in channels],
        subscriber_count=Subscriber.objects.receiving().count(),
        message_count=count,
    )

"""Submissions, editorial votes, issues and their Discord deliveries.

Models stay slim: state changes live in `newsletter.services`, which every view,
admin action, task and command calls.
"""

from .delivery import Delivery, DeliveryMessage, DiscordChannel
from .issues import Issue, IssueItem, IssueItemQuerySet, IssueQuerySet, Section
from .submissions import (
    KIND_SLUGS,
    Activity,
    ExtraLink,
    Kind,
    Notification,
    Submission,
    SubmissionQuerySet,
    SubqueryCount,
    Vote,
)

__all__ = [
    "KIND_SLUGS",
    "Activity",
    "Delivery",
    "DeliveryMessage",
    "DiscordChannel",
    "ExtraLink",
    "Issue",
    "IssueItem",
    "IssueItemQuerySet",
    "IssueQuerySet",
    "Kind",
    "Notification",
    "Section",
    "Submission",
    "SubmissionQuerySet",
    "SubqueryCount",
    "Vote",
]

"""Submissions, editorial votes, issues, their Discord deliveries and the email edition.

Models stay slim: state changes live in `newsletter.services`, which every view,
admin action, task and command calls.
"""

from .delivery import Delivery, DeliveryMessage, DiscordChannel
from .discord import DiscordPending
from .endorsements import Endorsement
from .issues import Issue, IssueItem, IssueItemQuerySet, IssueQuerySet, Section
from .search import SearchGeneration, SearchWord
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
from .subscribers import EmailSend, Subscriber, SubscriberQuerySet
from .topics import TOPICS_PER_SUBMISSION, Topic

__all__ = [
    "KIND_SLUGS",
    "TOPICS_PER_SUBMISSION",
    "Activity",
    "Delivery",
    "DeliveryMessage",
    "DiscordChannel",
    "DiscordPending",
    "EmailSend",
    "Endorsement",
    "ExtraLink",
    "Issue",
    "IssueItem",
    "IssueItemQuerySet",
    "IssueQuerySet",
    "Kind",
    "Notification",
    "SearchGeneration",
    "SearchWord",
    "Section",
    "Submission",
    "SubmissionQuerySet",
    "SubqueryCount",
    "Subscriber",
    "SubscriberQuerySet",
    "Topic",
    "Vote",
]

"""Building blocks for the email edition's tests: subscribers, a published issue, the mail."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings

from newsletter.models import EmailSend, Issue, Subscriber
from tests.factories import SubscriberFactory
from tests.newsletter.issue_data import draft_issue
from tests.stubs.smtp import Received


def readers(count: int, *, domain: str = "example.net", **kwargs) -> list[Subscriber]:
    return [SubscriberFactory(email=f"reader{n}@{domain}", **kwargs) for n in range(count)]


def issue_with_links(**kwargs) -> Issue:
    """A draft whose introduction has a site-relative link and whose items link out."""
    return draft_issue(
        items=kwargs.pop("items", 2),
        introduction=kwargs.pop(
            "introduction", "Hello **readers**. See [the archive](/archive/) and [top](#top)."
        ),
        **kwargs,
    )


def links(html: str) -> list[str]:
    return re.findall(r'\b(?:href|src)="([^"]*)"', html)


def unsubscribe_path(received: Received) -> str:
    """The path of the List-Unsubscribe URL of a received message."""
    header = received.message["List-Unsubscribe"]
    url = re.fullmatch(r"<([^>]+)>", str(header).strip()).group(1)
    assert url.startswith(settings.SITE_URL)
    return urlsplit(url).path


def issue_recipients(server, *, domain: str = "example.net") -> list[str]:
    """Who among `readers` received something, one entry per copy (the submitters, at
    example.org, get their own emails when an issue is published)."""
    return [r for r in server.recipients() if r.endswith(f"@{domain}")]


def states(issue: Issue) -> dict[str, int]:
    found: dict[str, int] = {}
    for state in EmailSend.objects.filter(issue=issue).values_list("state", flat=True):
        found[state] = found.get(state, 0) + 1
    return found

"""What the review queue and the review page show beside the votes: a short summary, the
members' +1s, the fetched details as labelled fields, and the next submission to review."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.db.models import Exists, OuterRef
from django.utils.html import format_html, format_html_join, strip_tags
from django.utils.text import Truncator

from ..models import Endorsement, Submission, Vote

SUMMARY_CHARS = 160


def duplicate_warnings(changelist_url: str, obj: Submission) -> str:
    """Links to the other submissions (in any state) with the same link or the same title, as
    the queue's rows and the review page show them; empty when there are none. `obj` carries
    the `same_link` and `same_title` counts the review queryset annotates."""
    warnings = []
    if obj.same_link:
        query = urlencode({"canonical_key": obj.canonical_key, "state": "all"})
        warnings.append((f"{changelist_url}?{query}", "same link", obj.same_link))
    if obj.same_title:
        query = urlencode({"title__iexact": obj.title, "state": "all"})
        warnings.append((f"{changelist_url}?{query}", "same title", obj.same_title))
    return format_html_join(
        "",
        '<a class="review-warning" href="{}">⚠ {}: {} other{}</a>',
        ((url, label, count, "s" if count != 1 else "") for url, label, count in warnings),
    )


REASONS_SHOWN = 3

# The fetched details editors read, in this order, with their labels; anything else is left
# out (ids, addresses the page shows already). Sources: newsletter/links/autofill.py.
METADATA_LABELS: tuple[tuple[str, str], ...] = (
    ("title", "Title"),
    ("authors", "Authors"),
    ("source", "Found on"),
    ("stars", "Stars"),
    ("forks", "Forks"),
    ("licence", "Licence"),
    ("language", "Language"),
    ("topics", "Topics"),
    ("archived", "Archived"),
    ("homepage", "Homepage"),
    ("published", "Published"),
    ("categories", "Categories"),
    ("url", "Canonical address"),
)
SOURCES = {"arxiv": "arXiv", "github": "GitHub", "page": "the page itself"}


def link_host(url: str) -> str:
    """The site a link points to, without "www.", for telling links apart at a glance."""
    try:
        return (urlsplit(url).hostname or "").removeprefix("www.")
    except ValueError:
        return ""


def summary_excerpt(submission: Submission) -> str:
    """The summary as plain text, cut short: sanitised HTML stripped to its words."""
    text = " ".join(strip_tags(submission.summary_html).split())
    return Truncator(text).chars(SUMMARY_CHARS)


def endorsements_html(endorsements: Sequence[Endorsement]) -> str:
    """'+N' and the first reasons, from a submission's endorsements (loaded for the page)."""
    if not endorsements:
        return ""
    reasons = [e for e in endorsements if e.reason][:REASONS_SHOWN]
    return format_html(
        '<span class="review-endorsements" title="Members who want this in the newsletter too">'
        "+{} from members</span>{}",
        len(endorsements),
        format_html(
            '<ul class="review-reasons">{}</ul>',
            format_html_join(
                "", "<li>{}: “{}”</li>", ((e.member.public_name, e.reason) for e in reasons)
            ),
        )
        if reasons
        else "",
    )


def _display(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if key == "source":
        return SOURCES.get(str(value), str(value))
    return str(value)


def metadata_fields(metadata: dict | None) -> list[tuple[str, str]]:
    """(label, text) for each fetched detail worth reading; nested details are flattened."""
    flat: dict[str, Any] = {}
    for key, value in (metadata or {}).items():
        if isinstance(value, dict):
            flat.update({k: v for k, v in value.items() if k not in flat})
        else:
            flat[key] = value
    if flat.get("archived") is False:
        flat.pop("archived")
    return [
        (label, _display(key, flat[key]))
        for key, label in METADATA_LABELS
        if flat.get(key) not in ("", None, [], {})
    ]


def next_unreviewed(*, editor, after: Submission | None = None) -> Submission | None:
    """The oldest submission waiting for review that this editor neither submitted nor voted
    on (a vote cast before the submitter's edit does not count as reviewed)."""
    voted = Vote.objects.filter(submission=OuterRef("pk"), editor=editor.pk, stale=False)
    candidates = (
        Submission.objects.pending()
        .exclude(author=editor.pk)
        .exclude(Exists(voted))
        .order_by("created_at", "id")
    )
    if after is not None:
        candidates = candidates.exclude(pk=after.pk)
    return candidates.first()

"""Which kind a link is, guessed from its address: one table of rules, read by the server (when
the member leaves Kind on "work it out from the link") and by the form's script (as they type),
which gets it as JSON in the page.

Each rule is (host pattern, path pattern, kind). Both patterns are regular expressions written
so that Python and JavaScript read them the same way (no named groups, no look-behind). The
first rule whose host and path both match wins; no match means a blog post.
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import urlsplit

from newsletter.models import Kind

_ANY = r"^/"
_OWNER_REPO = r"^/[^/]+/[^/]+"

KIND_RULES: tuple[tuple[str, str, str], ...] = (
    # Papers: preprint servers, review sites, proceedings.
    (r"(^|\.)arxiv\.org$", _ANY, Kind.PAPER),
    (r"(^|\.)openreview\.net$", _ANY, Kind.PAPER),
    (r"(^|\.)aclanthology\.org$", _ANY, Kind.PAPER),
    (
        r"(^|\.)(proceedings\.neurips\.cc|papers\.nips\.cc|proceedings\.mlr\.press)$",
        _ANY,
        Kind.PAPER,
    ),
    (
        r"(^|\.)(biorxiv\.org|semanticscholar\.org|dl\.acm\.org|paperswithcode\.com)$",
        _ANY,
        Kind.PAPER,
    ),
    (r"^huggingface\.co$", r"^/papers/", Kind.PAPER),
    # Tools: package indexes and documentation sites (before the repositories: huggingface.co/docs).
    (r"(^|\.)(pypi\.org|crates\.io|npmjs\.com|anaconda\.org)$", _ANY, Kind.TOOL),
    (r"(^|\.)(readthedocs\.io|readthedocs\.org|gitbook\.io)$", _ANY, Kind.TOOL),
    (r"^(docs|doc|documentation)\.", _ANY, Kind.TOOL),
    (r"^huggingface\.co$", r"^/docs/", Kind.TOOL),
    # Blog posts on a model host, before its repositories.
    (r"^huggingface\.co$", r"^/(blog|learn|posts)(/|$)", Kind.BLOG),
    # Repositories: an owner and a project on a code or model host.
    (r"^huggingface\.co$", r"^/(datasets|spaces)/[^/]+/[^/]+", Kind.REPO),
    (r"^huggingface\.co$", _OWNER_REPO, Kind.REPO),
    (r"(^|\.)(github\.com|gitlab\.com|codeberg\.org|bitbucket\.org)$", _OWNER_REPO, Kind.REPO),
    # Talks: video sites.
    (r"(^|\.)(youtube\.com|youtu\.be|vimeo\.com|youtube-nocookie\.com)$", _ANY, Kind.TALK),
)
DEFAULT_KIND = Kind.BLOG


@cache
def _compiled() -> list[tuple[re.Pattern, re.Pattern, str]]:
    return [(re.compile(host), re.compile(path), kind) for host, path, kind in KIND_RULES]


def kind_from_url(url: str) -> str:
    """The kind a link most likely is; a blog post when no rule knows its site."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    except ValueError:
        return DEFAULT_KIND
    path = parts.path or "/"
    for host_re, path_re, kind in _compiled():
        if host_re.search(host) and path_re.search(path):
            return kind
    return DEFAULT_KIND


def kind_rules_for_script() -> dict:
    """The table as the form's script reads it (a json_script in the page)."""
    return {
        "rules": [
            {"host": host, "path": path, "kind": str(kind)} for host, path, kind in KIND_RULES
        ],
        "default": str(DEFAULT_KIND),
    }

"""Autofill: title, summary and authors for a submitted link, from the best source.

arXiv papers come from the arXiv API, GitHub repositories from the GitHub REST API, anything
else from the page's own OpenGraph/Twitter/meta tags. Every request goes through `safe_get`.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit
from xml.parsers import expat

from django.conf import settings

from .fetch import (
    BadStatus,
    FetchResult,
    InvalidResponse,
    InvalidURL,
    NotFound,
    RateLimited,
    UnsupportedContent,
    UnsupportedScheme,
    safe_get,
)

TITLE_MAX_CHARS = 300
SUMMARY_MAX_CHARS = 2000
AUTHORS_MAX = 100

Source = Literal["arxiv", "github", "page"]


@dataclass
class Metadata:
    """What autofill proposes for a submission; every text is already cleaned."""

    title: str
    summary: str
    authors: list[str] = field(default_factory=list)
    source: Source = "page"
    url: str = ""  # the item's canonical address (arXiv abs page, repo, final page URL)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, for storing on the submission (Submission.metadata)."""
        return asdict(self)


def fetch_metadata(url: str) -> Metadata:
    """Title, summary and authors for a submitted link, from the best source.

    arXiv papers come from the arXiv API, GitHub repositories from the GitHub
    REST API, anything else from the page's own OpenGraph/Twitter/meta tags.
    """
    if not isinstance(url, str):
        raise InvalidURL()
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidURL() from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsupportedScheme()
    host = (parts.hostname or "").lower().rstrip(".")

    arxiv_id = _arxiv_id(host, parts.path)
    if arxiv_id:
        return _fetch_arxiv(arxiv_id)
    repo = _github_repo(host, parts.path)
    if repo:
        return _fetch_github(*repo)
    return _fetch_page(url)


# arXiv ids: new style 2303.16058 (4 or 5 digits after the dot since 2015) and
# old style hep-th/9901001 (listings also write math.GT/0309136; the subject
# class is not part of the id), each with an optional version.
_ARXIV_HOSTS = frozenset({"arxiv.org", "www.arxiv.org", "export.arxiv.org"})
_ARXIV_ID = (
    r"(?:(?i:arxiv):)?"
    r"(?:(?P<new>\d{4}\.\d{4,5})|(?P<archive>[a-z]+(?:-[a-z]+)*)(?:\.[A-Za-z]{2})?/(?P<number>\d{7}))"
    r"(?:v\d+)?"
)
_ARXIV_PATH = re.compile(rf"/(?:abs|pdf|html|format|ps)/{_ARXIV_ID}(?:\.pdf)?/?")
# Sites that name a paper by its arXiv id (Hugging Face papers, arXiv's DOIs).
_ARXIV_ALIASES = {
    "huggingface.co": re.compile(rf"/papers/{_ARXIV_ID}/?"),
    "doi.org": re.compile(r"/10\.48550/(?i:arxiv)\.(?P<new>\d{4}\.\d{4,5})(?:v\d+)?/?"),
}


def _arxiv_id(host: str, path: str) -> str | None:
    """Unversioned arXiv id of a paper link, so every version autofills alike."""
    if host in _ARXIV_HOSTS:
        match = _ARXIV_PATH.fullmatch(path)
    elif host in _ARXIV_ALIASES:
        match = _ARXIV_ALIASES[host].fullmatch(path)
    else:
        return None
    if not match:
        return None
    if match.group("new"):
        return match.group("new")
    return f"{match.group('archive')}/{match.group('number')}"


_GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})
_GITHUB_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_GITHUB_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
# First path segments that are GitHub's own pages, not user or organisation names.
_GITHUB_RESERVED = frozenset(
    {
        "about", "apps", "codespaces", "collections", "contact", "customer-stories",
        "enterprise", "events", "explore", "features", "issues", "login", "marketplace",
        "new", "notifications", "orgs", "organizations", "pricing", "pulls", "readme",
        "search", "security", "settings", "site", "sponsors", "topics", "trending",
        "users",
    }
)  # fmt: skip


def _github_repo(host: str, path: str) -> tuple[str, str] | None:
    """(owner, repo) for any link inside a repository (tree, blob, issues...)."""
    if host not in _GITHUB_HOSTS:
        return None
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) < 2:
        return None
    owner, repo = segments[0], segments[1]
    repo = repo.removesuffix(".git")
    if (
        owner.lower() in _GITHUB_RESERVED
        or not _GITHUB_OWNER.fullmatch(owner)
        or not _GITHUB_REPO.fullmatch(repo)
        or repo in (".", "..")
    ):
        return None
    return owner, repo


def _clean(text: str | None, limit: int) -> str:
    """Strip, collapse whitespace, drop control characters, cut at a word if possible."""
    if not text:
        return ""
    text = "".join(ch for ch in str(text) if ch.isspace() or unicodedata.category(ch) != "Cc")
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.8:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def _clean_authors(names: list[str]) -> list[str]:
    authors = []
    for name in names:
        cleaned = _clean(name, 200)
        if cleaned and cleaned not in authors:
            authors.append(cleaned)
    return authors[:AUTHORS_MAX]


_ATOM = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}


def _refuse_dtd(*_args: object) -> None:
    raise InvalidResponse("The answer contained a document type declaration; refused.")


def _parse_xml(content: bytes) -> ET.Element:
    """ElementTree, after checking there is no DTD/entity (defusedxml's main rule).

    defusedxml is not installed, so an expat pass refuses <!DOCTYPE> and
    <!ENTITY> in whatever encoding the document uses, before ElementTree
    (which would expand internal entities) sees it.
    """
    guard = expat.ParserCreate()
    guard.StartDoctypeDeclHandler = _refuse_dtd
    guard.EntityDeclHandler = _refuse_dtd
    guard.UnparsedEntityDeclHandler = _refuse_dtd
    guard.ExternalEntityRefHandler = _refuse_dtd
    try:
        guard.Parse(content, True)
        return ET.fromstring(content)  # noqa: S314  (no DTD: checked just above)
    except (expat.ExpatError, ET.ParseError) as exc:
        raise InvalidResponse() from exc


def _xml_text(element: ET.Element, path: str) -> str:
    found = element.find(path, _ATOM)
    return (found.text or "") if found is not None else ""


def _fetch_arxiv(arxiv_id: str) -> Metadata:
    base = str(getattr(settings, "ARXIV_API_BASE", "https://export.arxiv.org/api"))
    query = urlencode({"id_list": arxiv_id, "max_results": 1})
    result = safe_get(
        f"{base.rstrip('/')}/query?{query}",
        accept="application/atom+xml,application/xml;q=0.9",
    )
    not_found = f"arXiv has no paper with the id {arxiv_id}."
    _raise_for_status(result, "arXiv", not_found)
    root = _parse_xml(result.content)
    entry = root.find("atom:entry", _ATOM)
    if entry is None:
        raise NotFound(not_found)
    entry_id = _xml_text(entry, "atom:id")
    title = _clean(_xml_text(entry, "atom:title"), TITLE_MAX_CHARS)
    # arXiv reports a bad or unknown id as an entry titled "Error" whose id
    # points into its /api/errors namespace.
    if "/api/errors" in entry_id or not title or title == "Error":
        raise NotFound(not_found)

    all_authors = [_xml_text(author, "atom:name") for author in entry.findall("atom:author", _ATOM)]
    extra: dict[str, Any] = {"arxiv_id": arxiv_id}
    version = re.search(r"v(\d+)$", entry_id)
    if version:
        extra["version"] = int(version.group(1))
    for key, path in (
        ("published", "atom:published"),
        ("updated", "atom:updated"),
        ("doi", "arxiv:doi"),
        ("journal_ref", "arxiv:journal_ref"),
        ("comment", "arxiv:comment"),
    ):
        value = _clean(_xml_text(entry, path), 500)
        if value:
            extra[key] = value
    primary = entry.find("arxiv:primary_category", _ATOM)
    if primary is not None and primary.get("term"):
        extra["primary_category"] = primary.get("term")
    extra["categories"] = [
        term for category in entry.findall("atom:category", _ATOM) if (term := category.get("term"))
    ]
    if len(all_authors) > AUTHORS_MAX:
        extra["author_count"] = len(all_authors)
    extra["pdf_url"] = f"https://arxiv.org/pdf/{arxiv_id}"
    return Metadata(
        title=title,
        summary=_clean(_xml_text(entry, "atom:summary"), SUMMARY_MAX_CHARS),
        authors=_clean_authors(all_authors),
        source="arxiv",
        url=f"https://arxiv.org/abs/{arxiv_id}",
        extra=extra,
    )


def _fetch_github(owner: str, repo: str) -> Metadata:
    base = str(getattr(settings, "GITHUB_API_BASE", "https://api.github.com"))
    headers = {"X-GitHub-Api-Version": "2022-11-28"}
    token = getattr(settings, "GITHUB_API_TOKEN", "")
    if token:
        # Raises the rate limit from 60 to 5,000 requests an hour.
        headers["Authorization"] = f"Bearer {token}"
    result = safe_get(
        f"{base.rstrip('/')}/repos/{quote(owner, safe='')}/{quote(repo, safe='')}",
        accept="application/vnd.github+json",
        headers=headers,
    )
    if result.status in (403, 429) and (
        result.status == 429 or result.headers.get("X-RateLimit-Remaining") == "0"
    ):
        raise RateLimited(
            "GitHub is limiting our requests right now; try again in a few minutes.",
            status=result.status,
        )
    _raise_for_status(result, "GitHub", f"GitHub has no public repository {owner}/{repo}.")
    data = result.json()
    if not isinstance(data, dict):
        raise InvalidResponse()

    def text(value: object) -> str:
        return value if isinstance(value, str) else ""

    full_name = text(data.get("full_name")) or f"{owner}/{repo}"
    owner_data = data.get("owner") if isinstance(data.get("owner"), dict) else {}
    licence_data = data.get("license") if isinstance(data.get("license"), dict) else {}
    spdx = text(licence_data.get("spdx_id"))
    licence = spdx if spdx and spdx != "NOASSERTION" else text(licence_data.get("name"))
    stars = data.get("stargazers_count")
    forks = data.get("forks_count")
    topics = data.get("topics")
    extra: dict[str, Any] = {
        "stars": stars if isinstance(stars, int) else None,
        "licence": licence or None,
        "language": text(data.get("language")) or None,
        "forks": forks if isinstance(forks, int) else None,
        "topics": [t for t in topics if isinstance(t, str)] if isinstance(topics, list) else [],
        "archived": data.get("archived") is True,
        "homepage": text(data.get("homepage")) or None,
        "full_name": full_name,
    }
    html_url = text(data.get("html_url"))
    if not html_url.startswith("https://"):
        html_url = f"https://github.com/{full_name}"
    login = text(owner_data.get("login"))
    return Metadata(
        title=_clean(full_name, TITLE_MAX_CHARS),
        summary=_clean(text(data.get("description")), SUMMARY_MAX_CHARS),
        authors=_clean_authors([login] if login else []),
        source="github",
        url=html_url,
        extra=extra,
    )


class _HeadParser(HTMLParser):
    """Collects <meta> values and the document <title> (not an SVG's <title>)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.meta_authors: list[str] = []
        self.title_parts: list[str] = []
        self._in_title = False
        self._title_done = False
        self._svg_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self._svg_depth += 1
        elif tag == "title" and not self._svg_depth and not self._title_done:
            self._in_title = True
        elif tag == "meta":
            values = {name: (value or "") for name, value in attrs}
            content = values.get("content", "").strip()
            if not content:
                return
            for key_attr in ("property", "name"):
                key = values.get(key_attr, "").strip().lower()
                if not key:
                    continue
                if key in ("author", "citation_author", "dc.creator"):
                    self.meta_authors.append(content)
                self.meta.setdefault(key, content)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self._svg_depth:
            self._svg_depth -= 1
        elif tag == "title" and self._in_title:
            self._in_title = False
            self._title_done = True

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)


_HTML_TYPES = frozenset({"", "text/html", "application/xhtml+xml"})


def _fetch_page(url: str) -> Metadata:
    result = safe_get(url)
    _raise_for_status(result, "The site", "The page was not found (HTTP 404).")
    if result.content_type not in _HTML_TYPES:
        raise UnsupportedContent(
            f"The link points to a file of type {result.content_type}, not a web page."
        )
    parser = _HeadParser()
    parser.feed(result.text)
    parser.close()
    meta = parser.meta

    def first(*keys: str) -> str:
        for key in keys:
            if meta.get(key, "").strip():
                return meta[key]
        return ""

    title = first("og:title", "twitter:title") or "".join(parser.title_parts)
    summary = first("og:description", "twitter:description", "description")
    extra: dict[str, Any] = {}
    if first("og:site_name"):
        extra["site_name"] = _clean(first("og:site_name"), 200)
    return Metadata(
        title=_clean(title, TITLE_MAX_CHARS),
        summary=_clean(summary, SUMMARY_MAX_CHARS),
        authors=_clean_authors(
            [a for a in parser.meta_authors if not a.startswith(("http://", "https://"))]
        ),
        source="page",
        url=result.final_url,
        extra=extra,
    )


def _raise_for_status(result: FetchResult, who: str, not_found: str) -> None:
    if result.ok:
        return
    if result.status in (404, 410):
        raise NotFound(not_found, status=result.status)
    if result.status == 429:
        raise RateLimited(status=429)
    if result.status >= 500:
        message = f"{who} is having trouble (HTTP {result.status}); try again later."
    else:
        message = f"{who} refused the request (HTTP {result.status})."
    raise BadStatus(message, status=result.status)

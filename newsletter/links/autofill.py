"""Autofill: title, summary and authors for a submitted link, from the best source.

arXiv papers come from the arXiv API, GitHub repositories from the GitHub REST API, anything
else from the page's own OpenGraph/Twitter/meta tags. Every request goes through `safe_get`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import quote, urlencode
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from django.conf import settings

from .canonical import arxiv_id, github_repo
from .fetch import FetchFailed, FetchResult, UnusableResponse, safe_get

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

    A link is a paper or a repository exactly when duplicate detection says so (`arxiv_id`,
    `github_repo`), so every form of a paper link it folds together autofills from the arXiv API.
    """
    try:
        paper, repository = arxiv_id(url), github_repo(url)
    except (TypeError, ValueError):
        paper = repository = None  # not a web link: safe_get refuses it and says why
    if paper:
        return _fetch_arxiv(paper)
    if repository:
        return _fetch_github(*repository)
    return _fetch_page(url)


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


def _parse_xml(content: bytes) -> Element:
    """defusedxml, refusing any DTD: no entity expansion (billion laughs), no external files."""
    try:
        return fromstring(content, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise UnusableResponse(
            "The answer contained a document type declaration; refused."
        ) from exc
    except ParseError as exc:
        raise UnusableResponse() from exc


def _xml_text(element: Element, path: str) -> str:
    found = element.find(path, _ATOM)
    return (found.text or "") if found is not None else ""


def _fetch_arxiv(paper_id: str) -> Metadata:
    base = str(getattr(settings, "ARXIV_API_BASE", "https://export.arxiv.org/api"))
    query = urlencode({"id_list": paper_id, "max_results": 1})
    result = safe_get(
        f"{base.rstrip('/')}/query?{query}",
        accept="application/atom+xml,application/xml;q=0.9",
    )
    not_found = f"arXiv has no paper with the id {paper_id}."
    _raise_for_status(result, "arXiv", not_found)
    root = _parse_xml(result.content)
    entry = root.find("atom:entry", _ATOM)
    if entry is None:
        raise FetchFailed(not_found, status=404)
    entry_id = _xml_text(entry, "atom:id")
    title = _clean(_xml_text(entry, "atom:title"), TITLE_MAX_CHARS)
    # arXiv reports a bad or unknown id as an entry titled "Error" whose id
    # points into its /api/errors namespace.
    if "/api/errors" in entry_id or not title or title == "Error":
        raise FetchFailed(not_found, status=404)

    all_authors = [_xml_text(author, "atom:name") for author in entry.findall("atom:author", _ATOM)]
    extra: dict[str, Any] = {"arxiv_id": paper_id}
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
    extra["pdf_url"] = f"https://arxiv.org/pdf/{paper_id}"
    return Metadata(
        title=title,
        summary=_clean(_xml_text(entry, "atom:summary"), SUMMARY_MAX_CHARS),
        authors=_clean_authors(all_authors),
        source="arxiv",
        url=f"https://arxiv.org/abs/{paper_id}",
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
        raise FetchFailed(
            "GitHub is limiting our requests right now; try again in a few minutes.",
            status=result.status,
            temporary=True,
        )
    _raise_for_status(result, "GitHub", f"GitHub has no public repository {owner}/{repo}.")
    data = result.json()
    if not isinstance(data, dict):
        raise UnusableResponse()

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
        raise UnusableResponse(
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
        raise FetchFailed(not_found, status=result.status)
    if result.status == 429:
        message = "The site is limiting our requests; try again in a few minutes."
        raise FetchFailed(message, status=429)
    if result.status >= 500:
        message = f"{who} is having trouble (HTTP {result.status}); try again later."
    else:
        message = f"{who} refused the request (HTTP {result.status})."
    raise FetchFailed(message, status=result.status)

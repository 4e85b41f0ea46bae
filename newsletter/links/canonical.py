"""What a submitted link is: its canonical key, its tidy form, and the paper or repository it names.

Pure functions with no Django import: the form layer, services and a data migration can all call them.
`canonical_key` is what duplicates are detected on; `clean_url` is what we store and show.
`arxiv_id` and `github_repo` say which arXiv paper or GitHub repository a link names; duplicate
detection and autofill both ask them, so a link that is a paper for one is a paper for the other.
"""

from __future__ import annotations

import ipaddress
import re
import string
import unicodedata
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urlsplit

# Bump whenever a rule below changes a key, so stored keys can be recomputed (Submission.canonical_version).
# 2: one GitHub rule shared with autofill: `contact` is reserved, owner and repository names as GitHub
#    allows them (so github.com/contact/... and impossible owners get the generic key).
CANONICAL_VERSION: int = 2

# Query parameters that only say where a click came from, never which page it is.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "ttclid",
        "twclid",
        "li_fat_id",
        "mc_cid",
        "mc_eid",
        "ref",
        "ref_src",
        "ref_url",
        "si",
        "igshid",
        "igsh",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "spm",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "ck_subscriber_id",
        "_ga",
        "_gl",
        "wickedid",
        "rb_clickid",
        "s_cid",
    }
)
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "hsa_")

# Parameters that are tracking only on some sites (on others `s` or `t` can mean something).
_SITE_TRACKING_PARAMS: dict[str, frozenset[str]] = {
    "twitter.com": frozenset({"s", "t"}),
    "youtube.com": frozenset({"feature", "pp", "ab_channel"}),
    "youtu.be": frozenset({"feature", "pp"}),
    "medium.com": frozenset({"source"}),
    "linkedin.com": frozenset({"trk", "trackingid", "lipi"}),
    "reddit.com": frozenset({"share_id", "rdt"}),
}

# Mobile and alternative hosts that serve exactly the same items (keys only; clean_url keeps the host).
_HOST_ALIASES: dict[str, str] = {
    "m.youtube.com": "youtube.com",
    "youtube-nocookie.com": "youtube.com",
    "x.com": "twitter.com",
    "mobile.x.com": "twitter.com",
    "mobile.twitter.com": "twitter.com",
    "m.twitter.com": "twitter.com",
    "fxtwitter.com": "twitter.com",
    "vxtwitter.com": "twitter.com",
    "fixupx.com": "twitter.com",
    "m.facebook.com": "facebook.com",
    "m.reddit.com": "reddit.com",
    "dx.doi.org": "doi.org",
}
_WIKI_MOBILE_RE = re.compile(
    r"^((?:[a-z0-9-]+\.)?)m\."
    r"(wiki(?:pedia|data|media|books|quote|source|news|versity|voyage|tionary)\.org)$"
)

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
# `&` stays encoded inside a query name or value, since it separates parameters.
_QUERY_SAFE = _UNRESERVED | frozenset("!$'()*+,;=:@/?")
# Printable ASCII that may never appear raw in a URL; clean_url encodes these and nothing else.
_ILLEGAL_ASCII = frozenset('"<>\\^`{|}')
_HEX = frozenset(string.hexdigits)
_ASCII_HOST_RE = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$")

# arXiv ids: new style 2303.16058 (4 or 5 digits after the dot since 2015) and old style
# hep-th/9901001 (listings also write math.GT/0309136; the subject class is not part of the id),
# each with an optional version.
_ARXIV_NEW_ID = r"(?P<new>\d{4}\.\d{4,5})"
_ARXIV_OLD_ID = r"(?P<archive>[a-z][a-z-]*)(?:\.[a-z]{2})?/(?P<number>\d{7})"
_ARXIV_ID_RE = re.compile(
    rf"(?:arxiv:)?(?:{_ARXIV_NEW_ID}|{_ARXIV_OLD_ID})(?:v\d+)?(?:\.pdf)?", re.IGNORECASE
)
_ARXIV_PAGES = frozenset({"abs", "pdf", "html", "format", "ps"})
# Sites whose paper pages are addressed by the arXiv id itself.
_ARXIV_ID_SITES = frozenset({"huggingface.co", "alphaxiv.org"})
_ARXIV_DOI_PREFIX = "10.48550/arxiv."
_YOUTUBE_ID_RE = re.compile(r"[A-Za-z0-9_-]{11}")
_YOUTUBE_PATH_PREFIXES = frozenset({"embed", "shorts", "live", "v", "e"})
# GitHub's own naming rules: an owner is at most 39 letters, digits and hyphens (not first), a
# repository at most 100 letters, digits, `.`, `_` and `-`.
_GITHUB_OWNER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")
_GITHUB_REPO_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")
# First path segments on github.com that are site pages, not owners.
_GITHUB_RESERVED = frozenset(
    {
        "about", "apps", "codespaces", "collections", "contact", "customer-stories", "dashboard",
        "enterprise", "events", "explore", "features", "issues", "join", "login", "marketplace",
        "new", "notifications", "organizations", "orgs", "pricing", "pulls", "readme", "resources",
        "search", "security", "settings", "signup", "site", "solutions", "sponsors", "team",
        "topics", "trending", "users",
    }
)  # fmt: skip

Query = list[tuple[str, str | None]]


class _Parts(NamedTuple):
    scheme: str
    host: str  # lowercased as submitted (may be Unicode), for display
    ascii_host: str  # IDNA-encoded, for keys
    port: int | None
    path: str
    query: str


def canonical_key(url: str) -> str:
    """Return the key under which every variant of the same link is one item.

    Known sites get a short typed key (`arxiv:2303.16058`, `github:owner/repo`, `openreview:ID`,
    `youtube:ID`, `twitter:STATUS_ID`, `doi:10.x/y`); anything else is the normalised URL without its
    scheme (`example.com/path?a=1`). Raises ValueError for anything that is not an http(s) link.
    """
    parts = _split(url)
    host = _key_host(parts.ascii_host)
    path = _normal_path(parts.path)
    segments = _segments(path)
    query = [
        (name, value) for name, value in _parse_query(parts.query) if not _is_tracking(name, host)
    ]

    special = _site_key(host, segments, query)
    if special is not None:
        return special

    if host == "github.com" and len(segments) >= 2:
        # Owner and repository names are case-insensitive on GitHub, the rest of the path is not.
        path = "/" + "/".join([segments[0].lower(), segments[1].lower(), *segments[2:]])

    key = _bracket_ipv6(host)
    if parts.port is not None and parts.port not in (80, 443):
        key += f":{parts.port}"
    key += path.rstrip("/")
    if query:
        # Stable sort on the name only: repeated parameters keep their relative order.
        ordered = sorted(query, key=lambda pair: pair[0])
        key += "?" + "&".join(
            name if value is None else f"{name}={value}" for name, value in ordered
        )
    return key


def clean_url(url: str) -> str:
    """Return the submitted link tidied for storage and display, still pointing at the same page.

    Lowercases scheme and host, drops the default port, any user:password@, the fragment and tracking
    parameters, and encodes characters that are never legal in a URL. Path, parameter order and the
    host's `www.` are kept, so the link works exactly as the member's did.
    """
    parts = _split(url)
    host = _key_host(parts.ascii_host)
    netloc = _bracket_ipv6(parts.host)
    default_port = 80 if parts.scheme == "http" else 443
    if parts.port is not None and parts.port != default_port:
        netloc += f":{parts.port}"

    kept = []
    for field in parts.query.split("&"):
        if not field:
            continue
        name = _normalise_percent(field.split("=", 1)[0], _QUERY_SAFE)
        if not _is_tracking(name, host):
            kept.append(_encode_illegal(field))

    cleaned = f"{parts.scheme}://{netloc}{_encode_illegal(parts.path) or '/'}"
    if kept:
        cleaned += "?" + "&".join(kept)
    return cleaned


def arxiv_id(url: str) -> str | None:
    """The arXiv paper a link names, as the unversioned id the arXiv API takes, or None.

    `2303.16058` or `hep-th/9901001`, from arXiv's own pages and mirrors, alphaXiv, Hugging Face
    papers and arXiv DOIs alike. Raises ValueError, as canonical_key does, for what is not a web link.
    """
    host, segments = _locate(url)
    return _paper_id(host, segments)


def github_repo(url: str) -> tuple[str, str] | None:
    """(owner, repository) as written, for a link anywhere inside a GitHub repository, or None.

    A file, an issue or a branch names its repository too (autofill describes the repository);
    only the root is the repository itself (canonical_key). GitHub's own pages are not owners.
    Raises ValueError, as canonical_key does, for what is not a web link.
    """
    host, segments = _locate(url)
    return _repository(segments) if host == "github.com" else None


def _locate(url: str) -> tuple[str, list[str]]:
    """The host and path segments that identify an item, normalised as canonical_key sees them."""
    parts = _split(url)
    return _key_host(parts.ascii_host), _segments(_normal_path(parts.path))


def _split(url: str) -> _Parts:
    """Parse and validate, raising ValueError with a message a member can act on."""
    if not isinstance(url, str):
        raise TypeError(f"expected a str, got {type(url).__name__}")
    text = url.strip()
    if not text:
        raise ValueError("Enter a link starting with http:// or https://.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("This link contains characters that cannot be part of a URL.") from None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{_shorten(text)!r} is not a valid link ({error}).") from None

    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if not scheme or not parts.netloc:
            # "example.com/page", "not a url", "javascript:…", "file:///…" and "localhost:8000" land here.
            raise ValueError(
                f"{_shorten(text)!r} is not a web link: it must start with http:// or https://."
            )
        raise ValueError(f"Only http:// and https:// links are accepted, not {scheme}://.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"{_shorten(text)!r} has no website name after {scheme}://.")
    return _Parts(
        scheme=scheme,
        host=host,
        ascii_host=_ascii_host(host, text),
        port=port,
        path=parts.path,
        query=parts.query,
    )


def _ascii_host(host: str, text: str) -> str:
    """IDNA-encode the host so Unicode and punycode spellings of a domain share a key."""
    if ":" in host:
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ValueError(f"{_shorten(text)!r} has an invalid IPv6 address.") from None
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        ascii_host = ""
    if not _ASCII_HOST_RE.match(ascii_host):
        raise ValueError(f"{_shorten(text)!r} has an invalid website name {host!r}.")
    return ascii_host


def _key_host(ascii_host: str) -> str:
    """Fold `www.` and mobile subdomains into the main host: they serve the same item."""
    host = ascii_host.removeprefix("www.")
    host = _WIKI_MOBILE_RE.sub(r"\1\2", host)
    return _HOST_ALIASES.get(host, host)


def _normal_path(path: str) -> str:
    return _remove_dot_segments(_normalise_percent(path, _PATH_SAFE))


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def _site_key(host: str, segments: list[str], query: Query) -> str | None:
    """Typed keys for sites whose links name an item by id, or None for the generic key."""
    paper = _paper_id(host, segments)
    if paper is not None:
        return f"arxiv:{paper}"
    site_key = _SITE_KEYS.get(host)
    return site_key(segments, query) if site_key else None


def _paper_id(host: str, segments: list[str]) -> str | None:
    """The arXiv id of a paper link on arXiv, on a site keyed by the id, or as an arXiv DOI."""
    if host == "arxiv.org" or host.endswith(".arxiv.org"):
        if len(segments) >= 2 and segments[0].lower() in _ARXIV_PAGES:
            return _parse_arxiv_id("/".join(segments[1:]))
    elif host in _ARXIV_ID_SITES:
        if len(segments) == 2 and segments[0] in ("papers", "abs"):
            return _parse_arxiv_id(segments[1])
    elif host == "doi.org":
        doi = "/".join(segments).lower()
        if doi.startswith(_ARXIV_DOI_PREFIX):
            return _parse_arxiv_id(doi.removeprefix(_ARXIV_DOI_PREFIX))
    return None


def _parse_arxiv_id(identifier: str) -> str | None:
    """The id without version or `.pdf`; old-style ids drop the subject class (math.GT/ -> math/)."""
    match = _ARXIV_ID_RE.fullmatch(identifier)
    if match is None:
        return None
    if match["new"]:
        return match["new"]
    return f"{match['archive'].lower()}/{match['number']}"


def _repository(segments: list[str]) -> tuple[str, str] | None:
    """(owner, repo) from the first two segments of a github.com path, `.git` dropped."""
    if len(segments) < 2 or segments[0].lower() in _GITHUB_RESERVED:
        return None
    owner, repo = segments[0], segments[1]
    if repo.lower().endswith(".git"):
        repo = repo[: -len(".git")]
    if (
        _GITHUB_OWNER_RE.fullmatch(owner)
        and _GITHUB_REPO_RE.fullmatch(repo)
        and repo not in (".", "..")
    ):
        return owner, repo
    return None


def _doi_key(segments: list[str], _query: Query) -> str | None:
    """`doi:10.x/y` in lower case, as DOIs are case-insensitive (arXiv's own DOIs are papers)."""
    if segments and segments[0].startswith("10."):
        return f"doi:{'/'.join(segments).lower()}"
    return None


def _github_key(segments: list[str], _query: Query) -> str | None:
    """`github:owner/repo` for the repository root only; issues, pulls and files stay separate items."""
    repository = _repository(segments)
    if repository is None:
        return None
    if len(segments) == 2 or (len(segments) == 4 and segments[2] == "tree"):
        owner, repo = repository
        return f"github:{owner.lower()}/{repo.lower()}"
    return None


def _openreview_key(segments: list[str], query: Query) -> str | None:
    """`openreview:ID`: the forum and the PDF of a paper share its id."""
    if segments in (["forum"], ["pdf"]):
        paper_id = _first_value(query, "id")
        if paper_id:
            return f"openreview:{paper_id}"
    return None


def _youtube_key(segments: list[str], query: Query) -> str | None:
    """`youtube:ID` for watch, embed, shorts and live pages of one video."""
    if segments == ["watch"]:
        return _video_key(_first_value(query, "v"))
    if len(segments) >= 2 and segments[0] in _YOUTUBE_PATH_PREFIXES:
        return _video_key(segments[1])
    return None


def _youtu_be_key(segments: list[str], _query: Query) -> str | None:
    return _video_key(segments[0]) if len(segments) == 1 else None


def _video_key(video_id: str | None) -> str | None:
    if video_id and _YOUTUBE_ID_RE.fullmatch(video_id):
        return f"youtube:{video_id}"
    return None


def _twitter_key(segments: list[str], _query: Query) -> str | None:
    """`twitter:<status id>`: the id alone names a post, whatever the (renamable) handle in the URL."""
    for index, segment in enumerate(segments[:-1]):
        if segment in ("status", "statuses") and index <= 2:
            status_id = segments[index + 1]
            if status_id.isdigit() and status_id.isascii():
                return f"twitter:{status_id}"
    return None


# Sites whose links name an item by an id in the path or query (host as _key_host folds it).
_SITE_KEYS: dict[str, Callable[[list[str], Query], str | None]] = {
    "doi.org": _doi_key,
    "github.com": _github_key,
    "openreview.net": _openreview_key,
    "youtube.com": _youtube_key,
    "music.youtube.com": _youtube_key,
    "youtu.be": _youtu_be_key,
    "twitter.com": _twitter_key,
}


def _first_value(query: Query, name: str) -> str | None:
    for key, value in query:
        if key == name:
            return value
    return None


def _parse_query(query: str) -> Query:
    """Split `a=1&b` into normalised (name, value) pairs; a bare name keeps value None."""
    pairs: Query = []
    for field in query.split("&"):
        if not field:
            continue
        name, equals, value = field.partition("=")
        pairs.append(
            (
                _normalise_percent(name, _QUERY_SAFE),
                _normalise_percent(value, _QUERY_SAFE) if equals else None,
            )
        )
    return pairs


def _is_tracking(name: str, host: str) -> bool:
    lowered = name.lower()
    if lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES):
        return True
    site = host if host in _SITE_TRACKING_PARAMS else ".".join(host.split(".")[-2:])
    return lowered in _SITE_TRACKING_PARAMS.get(site, frozenset())


def _normalise_percent(text: str, safe: frozenset[str]) -> str:
    """RFC 3986 6.2.2.2: decode unreserved characters, uppercase other escapes, encode the rest."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%" and len(text) >= index + 3 and set(text[index + 1 : index + 3]) <= _HEX:
            decoded = chr(int(text[index + 1 : index + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else text[index : index + 3].upper())
            index += 3
            continue
        out.append(char if char in safe else _percent_encode(char))
        index += 1
    return "".join(out)


def _encode_illegal(text: str) -> str:
    """Encode only what can never appear raw in a link (spaces, controls, `<>"{}|\\^`), keep Unicode."""
    return "".join(
        _percent_encode(char)
        if char in _ILLEGAL_ASCII or char.isspace() or unicodedata.category(char).startswith("C")
        else char
        for char in text
    )


def _percent_encode(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, so /a/./b and /a/c/../b are the same page."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/".join(output)


def _bracket_ipv6(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

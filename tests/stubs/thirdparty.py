"""A local HTTP server that answers like arXiv's API, GitHub's REST API and ordinary websites.

Tests must never leave this machine, yet the fetch code should run for real:
real sockets, real redirects, real slow and oversized answers. So the only
stand-in is this server on 127.0.0.1, reached through the base-URL settings
(ARXIV_API_BASE = f"{server.url}/arxiv/api", GITHUB_API_BASE = f"{server.url}/github").

Built-in routes:

- ``/arxiv/api/query?id_list=ID[,ID]``  Atom feed from ``server.arxiv_papers``;
  unknown ids get arXiv's error entry (an <entry> titled "Error").
- ``/github/repos/OWNER/REPO``  JSON from ``server.github_repos`` (404
  ``{"message": "Not Found"}`` otherwise; 403 rate-limit answer while
  ``server.github_rate_limited`` is true).
- ``/pages/NAME``  a canned page from ``server.pages`` (og.html, title-only.html,
  twitter.html, latin1.html, meta-charset.html, gzip.html, paper.pdf ...).
- ``/pages/big?bytes=N&declare=1``  streams N bytes (default 1.5 MB), with a
  Content-Length only when ``declare`` is set.
- ``/pages/gzip-bomb``  a few kB of gzip that unpack to 5 MB.
- ``/pages/slow?seconds=S``  waits S seconds (default and maximum 6) before answering.
- ``/pages/drip?seconds=S&interval=I``  answers at once, then one byte every I
  seconds for S seconds: defeats a per-read timeout, not a deadline.
- ``/pages/drip-headers?interval=I``  sends the status line, then one header byte every
  I seconds for 6 seconds, and hangs up before the headers end.
- ``/redirect/N``  N redirects in a row, ending at /pages/og.html.
- ``/redirect-to?url=U&status=302``  one redirect to U (any URL, even a private one).
- ``/status/CODE``  an HTML page with that status.
- ``/echo``  the request line and headers as JSON.

Add routes with ``server.add_route(r"/regex", handler)`` (a handler takes a
`StubRequest` and returns a `StubResponse`); added routes win over built-ins.
Every request is recorded in ``server.requests``.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

MAX_DELAY_SECONDS = 6.0


@dataclass
class StubRequest:
    method: str
    path: str  # without the query string
    target: str  # path and query string, as sent
    query: dict[str, list[str]]
    headers: Message
    groups: tuple[str, ...] = ()  # the matching route's regex groups

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class StubResponse:
    """What to send. `body` may be an iterable of chunks, written as they come."""

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before the status line (capped)
    drip_headers: float = 0.0  # if set, seconds between header bytes, for MAX_DELAY_SECONDS


Handler = Callable[[StubRequest], StubResponse]


@dataclass
class ArxivPaper:
    """One arXiv entry; `arxiv_id` without version, as the API's id_list takes it."""

    arxiv_id: str
    title: str
    summary: str
    authors: list[str]
    version: int = 1
    published: str = "2023-03-28T15:33:42Z"
    updated: str = "2023-03-28T15:33:42Z"
    primary_category: str = "cs.CL"
    categories: list[str] = field(default_factory=lambda: ["cs.CL"])
    comment: str = ""
    doi: str = ""


# Stand-in data: realistic in shape, invented in content.
DEFAULT_ARXIV_PAPERS: dict[str, ArxivPaper] = {
    "2303.16058": ArxivPaper(
        arxiv_id="2303.16058",
        # Line breaks and double spaces as the real API sends them.
        title="Sparse Mixtures of Experts for Low-Resource\n  Machine Translation",
        summary=(
            "  We study sparse mixture-of-experts models for translation between\n"
            "languages with little parallel data. Routing tokens to a small number of\n"
            "experts keeps inference cost flat while capacity grows.\n"
        ),
        authors=["Ada Example", "Grace Placeholder", "Alan Sample"],
        version=2,
        updated="2023-04-11T09:02:10Z",
        categories=["cs.CL", "cs.LG"],
        comment="12 pages, 4 figures",
    ),
    "hep-th/9901001": ArxivPaper(
        arxiv_id="hep-th/9901001",
        title="Notes on Dualities in Toy Field Theories",
        summary="We collect elementary examples of dualities.",
        authors=["Emmy Stand-In"],
        published="1999-01-04T12:00:00Z",
        updated="1999-01-04T12:00:00Z",
        primary_category="hep-th",
        categories=["hep-th"],
    ),
}

DEFAULT_GITHUB_REPOS: dict[str, dict[str, Any]] = {
    "ggerganov/llama.cpp": {
        "id": 612354784,
        "node_id": "R_kgDOJIZ5MA",
        "name": "llama.cpp",
        "full_name": "ggerganov/llama.cpp",
        "private": False,
        "owner": {
            "login": "ggerganov",
            "id": 1991296,
            "type": "User",
            "html_url": "https://github.com/ggerganov",
        },
        "html_url": "https://github.com/ggerganov/llama.cpp",
        "description": "LLM inference in C/C++",
        "fork": False,
        "url": "https://api.github.com/repos/ggerganov/llama.cpp",
        "created_at": "2023-03-10T18:58:00Z",
        "updated_at": "2025-01-20T10:00:00Z",
        "pushed_at": "2025-01-20T09:30:00Z",
        "homepage": "",
        "size": 98000,
        "stargazers_count": 71234,
        "watchers_count": 71234,
        "language": "C++",
        "forks_count": 10321,
        "archived": False,
        "disabled": False,
        "open_issues_count": 812,
        "license": {
            "key": "mit",
            "name": "MIT License",
            "spdx_id": "MIT",
            "url": "https://api.github.com/licenses/mit",
            "node_id": "MDc6TGljZW5zZTEz",
        },
        "topics": ["ggml", "llama"],
        "visibility": "public",
        "default_branch": "master",
        "subscribers_count": 580,
    },
}

_GITHUB_NOT_FOUND = {
    "message": "Not Found",
    "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository",
    "status": "404",
}


def _html(title: str, head: str = "", body: str = "") -> bytes:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>{title}</title>\n{head}</head>\n<body>{body}</body></html>\n"
    ).encode()


def default_pages() -> dict[str, StubResponse]:
    """Canned pages under /pages/<name>; tests may add their own to `server.pages`."""
    latin1 = (
        "<html><head><title>Caf\u00e9 Z\u00fcrich: Men\u00fc</title>"
        '<meta name="description" content="Sp\u00e4tzle und R\u00f6sti"></head></html>'
    )
    windows_1252 = (
        '<html><head><meta charset="windows-1252">'
        "<title>\u201cSmart quotes\u201d \u2014 na\u00efve caf\u00e9</title></head></html>"
    )
    return {
        "og.html": StubResponse(
            body=_html(
                "Fallback &lt;title&gt; - Example Blog",
                head=(
                    '<meta property="og:title" content="Training Tiny Models, &amp; Why">\n'
                    '<meta property="og:description" content="A practical guide to\n'
                    '   training   small language models.">\n'
                    '<meta property="og:site_name" content="Example Blog">\n'
                    '<meta name="twitter:title" content="Twitter title (ignored)">\n'
                    '<meta name="description" content="Meta description (ignored)">\n'
                    '<meta name="author" content="Jo Writer">\n'
                ),
                body="<svg><title>Icon</title></svg><h1>Training Tiny Models</h1>",
            )
        ),
        "title-only.html": StubResponse(
            body=_html("  Just a\n   Title  ", body="<p>No meta tags here.</p>")
        ),
        "twitter.html": StubResponse(
            body=_html(
                "Page title (ignored)",
                head=(
                    '<meta name="twitter:title" content="Twitter Card Title">\n'
                    '<meta name="description" content="Plain meta description.">\n'
                ),
            )
        ),
        "latin1.html": StubResponse(
            body=latin1.encode("iso-8859-1"),
            content_type="text/html; charset=ISO-8859-1",
        ),
        "meta-charset.html": StubResponse(
            body=windows_1252.encode("cp1252"), content_type="text/html"
        ),
        "gzip.html": StubResponse(
            body=gzip.compress(_html("Compressed Page")),
            headers={"Content-Encoding": "gzip"},
        ),
        "paper.pdf": StubResponse(
            body=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF\n",
            content_type="application/pdf",
        ),
    }


def arxiv_feed(ids: list[str], papers: dict[str, ArxivPaper]) -> bytes:
    """An Atom feed shaped like export.arxiv.org/api/query's answer."""
    entries = []
    for requested in ids:
        paper = papers.get(re.sub(r"v\d+$", "", requested))
        if paper is None:
            error_id = f"http://arxiv.org/api/errors#incorrect_id_format_for_{escape(requested)}"
            entries.append(
                f"""  <entry>
    <id>{error_id}</id>
    <title>Error</title>
    <summary>incorrect id format for {escape(requested)}</summary>
    <updated>2024-01-01T00:00:00-05:00</updated>
    <link href="{error_id}" rel="alternate" type="text/html"/>
    <author>
      <name>arXiv api core</name>
    </author>
  </entry>"""
            )
            continue
        versioned = f"{paper.arxiv_id}v{paper.version}"
        authors = "\n".join(
            f"    <author>\n      <name>{escape(name)}</name>\n    </author>"
            for name in paper.authors
        )
        categories = "\n".join(
            f'    <category term="{escape(c)}" scheme="http://arxiv.org/schemas/atom"/>'
            for c in paper.categories
        )
        comment = (
            f"    <arxiv:comment>{escape(paper.comment)}</arxiv:comment>\n" if paper.comment else ""
        )
        doi = f"    <arxiv:doi>{escape(paper.doi)}</arxiv:doi>\n" if paper.doi else ""
        entries.append(
            f"""  <entry>
    <id>http://arxiv.org/abs/{versioned}</id>
    <updated>{paper.updated}</updated>
    <published>{paper.published}</published>
    <title>{escape(paper.title)}</title>
    <summary>{escape(paper.summary)}</summary>
{authors}
{comment}{doi}    <link href="http://arxiv.org/abs/{versioned}" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{versioned}" rel="related" type="application/pdf"/>
    <arxiv:primary_category term="{escape(paper.primary_category)}" scheme="http://arxiv.org/schemas/atom"/>
{categories}
  </entry>"""
        )
    id_list = escape(",".join(ids))
    feed = f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <link href="http://arxiv.org/api/query?search_query%3D%26id_list%3D{id_list}%26start%3D0%26max_results%3D10" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=&amp;id_list={id_list}&amp;start=0&amp;max_results=10</title>
  <id>http://arxiv.org/api/stub</id>
  <updated>2024-01-01T00:00:00-05:00</updated>
  <opensearch:totalResults>{len(entries)}</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
  <opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>
{chr(10).join(entries)}
</feed>
"""
    return feed.encode("utf-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping never blocks the test run
    stub: ThirdPartyServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up (timeouts, size limits) are what several tests are about.
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    # HTTP/1.0: one request per connection, bodies end when the connection closes.
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        stub = self.server.stub
        split = urlsplit(self.path)
        request = StubRequest(
            method="GET",
            path=split.path,
            target=self.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
        )
        stub._record(request)
        response = stub.dispatch(request)
        if response.delay and stub.wait(min(response.delay, MAX_DELAY_SECONDS)):
            return  # server stopping
        if response.drip_headers:
            self._drip_headers(response.drip_headers)
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        if isinstance(response.body, bytes) and "Content-Length" not in response.headers:
            self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if isinstance(response.body, bytes):
            self.wfile.write(response.body)
            return
        for chunk in response.body:
            self.wfile.write(chunk)
            self.wfile.flush()

    def _drip_headers(self, interval: float) -> None:
        self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Drip: ")
        self.wfile.flush()
        end = time.monotonic() + MAX_DELAY_SECONDS
        while time.monotonic() < end and not self.server.stub.wait(interval):
            self.wfile.write(b"a")
            self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # `server.requests` is the log; keep test output clean


class ThirdPartyServer:
    """Start with `with ThirdPartyServer() as server:` (or start()/stop())."""

    def __init__(self) -> None:
        self.arxiv_papers: dict[str, ArxivPaper] = copy.deepcopy(DEFAULT_ARXIV_PAPERS)
        self.github_repos: dict[str, dict[str, Any]] = copy.deepcopy(DEFAULT_GITHUB_REPOS)
        self.github_rate_limited = False
        self.pages: dict[str, StubResponse] = default_pages()
        self.requests: list[StubRequest] = []
        self._routes: list[tuple[re.Pattern[str], Handler]] = []
        self._builtin_routes: list[tuple[re.Pattern[str], Handler]] = [
            (re.compile(r"/arxiv/api/query"), self._arxiv_query),
            (re.compile(r"/github/repos/([^/]+)/([^/]+)"), self._github_repo),
            (re.compile(r"/pages/big"), self._big),
            (re.compile(r"/pages/gzip-bomb"), self._gzip_bomb),
            (re.compile(r"/pages/slow"), self._slow),
            (re.compile(r"/pages/drip"), self._drip),
            (re.compile(r"/pages/drip-headers"), self._drip_headers),
            (re.compile(r"/pages/(.+)"), self._page),
            (re.compile(r"/redirect/(\d+)"), self._redirect_chain),
            (re.compile(r"/redirect-to"), self._redirect_to),
            (re.compile(r"/status/(\d{3})"), self._status),
            (re.compile(r"/echo"), self._echo),
        ]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> ThirdPartyServer:
        httpd = _Server(("127.0.0.1", 0), _RequestHandler)
        httpd.stub = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="thirdparty-stub",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes slow and dripping handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ThirdPartyServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:40123."""
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, path: str) -> str:
        return f"{self.url}{path}"

    # -- routing -----------------------------------------------------------------

    def add_route(self, pattern: str, handler: Handler) -> None:
        """Serve paths that fully match `pattern` with `handler` (before built-ins)."""
        self._routes.append((re.compile(pattern), handler))

    def dispatch(self, request: StubRequest) -> StubResponse:
        for pattern, handler in [*self._routes, *self._builtin_routes]:
            match = pattern.fullmatch(request.path)
            if match:
                request.groups = match.groups()
                return handler(request)
        return StubResponse(status=404, body=_html("Not Found"))

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if the server is stopping meanwhile."""
        return self._stopping.wait(seconds)

    def _record(self, request: StubRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def targets(self) -> list[str]:
        """Paths with query strings requested so far, in order, for assertions."""
        with self._lock:
            return [r.target for r in self.requests]

    # -- built-in routes -------------------------------------------------------

    def _arxiv_query(self, request: StubRequest) -> StubResponse:
        ids = [i.strip() for i in request.arg("id_list").split(",") if i.strip()]
        return StubResponse(
            body=arxiv_feed(ids, self.arxiv_papers),
            content_type="application/atom+xml; charset=utf-8",
        )

    def _github_repo(self, request: StubRequest) -> StubResponse:
        owner, name = request.groups
        if self.github_rate_limited:
            return StubResponse(
                status=403,
                body=json.dumps(
                    {
                        "message": "API rate limit exceeded for 127.0.0.1.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                    }
                ).encode(),
                content_type="application/json; charset=utf-8",
                headers={"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0"},
            )
        # GitHub matches owner and repository names case-insensitively.
        repos = {key.lower(): value for key, value in self.github_repos.items()}
        data = repos.get(f"{owner}/{name}".lower())
        return StubResponse(
            status=200 if data else 404,
            body=json.dumps(data or _GITHUB_NOT_FOUND).encode(),
            content_type="application/json; charset=utf-8",
            headers={"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"},
        )

    def _page(self, request: StubRequest) -> StubResponse:
        (name,) = request.groups
        page = self.pages.get(name)
        return page if page is not None else StubResponse(status=404, body=_html("Not Found"))

    def _big(self, request: StubRequest) -> StubResponse:
        size = min(int(request.arg("bytes", "1500000")), 20_000_000)

        def chunks() -> Iterator[bytes]:
            sent = 0
            while sent < size:
                piece = min(64 * 1024, size - sent)
                yield b"<p>" + b"x" * max(piece - 3, 0)
                sent += piece

        headers = {"Content-Length": str(size)} if request.arg("declare") else {}
        return StubResponse(body=chunks(), headers=headers)

    def _gzip_bomb(self, request: StubRequest) -> StubResponse:
        return StubResponse(
            body=gzip.compress(b"<p>" + b"0" * 5_000_000), headers={"Content-Encoding": "gzip"}
        )

    def _slow(self, request: StubRequest) -> StubResponse:
        seconds = min(float(request.arg("seconds", str(MAX_DELAY_SECONDS))), MAX_DELAY_SECONDS)
        return StubResponse(body=_html("Finally"), delay=seconds)

    def _drip_headers(self, request: StubRequest) -> StubResponse:
        return StubResponse(drip_headers=max(float(request.arg("interval", "0.2")), 0.01))

    def _drip(self, request: StubRequest) -> StubResponse:
        seconds = min(float(request.arg("seconds", str(MAX_DELAY_SECONDS))), MAX_DELAY_SECONDS)
        interval = max(float(request.arg("interval", "0.2")), 0.01)

        def chunks() -> Iterator[bytes]:
            yield b"<html><head><title>Drip</title></head><body>"
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                if self.wait(interval):
                    return
                yield b"."

        return StubResponse(body=chunks())

    def _redirect_chain(self, request: StubRequest) -> StubResponse:
        remaining = int(request.groups[0])
        location = f"/redirect/{remaining - 1}" if remaining > 1 else "/pages/og.html"
        return StubResponse(status=302, headers={"Location": location})

    def _redirect_to(self, request: StubRequest) -> StubResponse:
        status = int(request.arg("status", "302"))
        return StubResponse(status=status, headers={"Location": request.arg("url")})

    def _status(self, request: StubRequest) -> StubResponse:
        status = int(request.groups[0])
        return StubResponse(status=status, body=_html(f"Status {status}"))

    def _echo(self, request: StubRequest) -> StubResponse:
        return StubResponse(
            body=json.dumps(
                {"path": request.path, "headers": dict(request.headers.items())}
            ).encode(),
            content_type="application/json",
        )

"""Safe outgoing HTTP fetches: the one way our server requests a URL a member gave it.

Members paste arbitrary links and the server fetches them, which makes this the one place where a
stranger can make our server send requests. Everything that leaves the machine for autofill
therefore goes through `safe_get`, which:

- only speaks http and https, and hands requests a URL rebuilt from the checked parts (no
  credentials, IDNA host), so the host we judge is the host requests connects to;
- refuses private, loopback, link-local, multicast and other special addresses with
  requests-hardened: it resolves the host once, checks the address and connects to exactly that
  address (the Host header, TLS SNI and certificate check keep the real name), so a DNS answer
  that changes between check and connect (DNS rebinding) cannot move us. `_not_public` adds the
  few IPv6 ranges it lets through. FETCH_ALLOWED_HOSTS names hosts (never addresses) that may
  resolve to private addresses: local stand-ins in tests, an internal service;
- follows redirects itself, at most FETCH_MAX_REDIRECTS, every hop checked the same way, and
  drops extra headers (an API token) once a redirect leaves the first origin;
- stops at a wall-clock deadline for the whole fetch (DNS, connect, TLS, headers, body and
  redirects together) and at a size limit for the body, also once gzip is undone.

requests bounds each socket operation, never their sum: a server sending one byte every few
seconds would hold a fetch for ever. `_Deadline` closes that gap: the DNS lookup runs in a
thread we stop waiting for, and a timer shuts the socket down when time is up.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests_hardened.ip_filter import InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, NewConnectionError
from w3lib.encoding import html_to_unicode

DEFAULT_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
DEFAULT_USER_AGENT = "community-newsletter-portal/1.0 (link preview)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024

_NOT_A_URL = "That does not look like a web address."
_NOT_HTTP = "Only http:// and https:// links can be fetched."
_PRIVATE = "Links to private network addresses are not allowed."
_TOO_SLOW = "The page took too long to answer."


# --------------------------------------------------------------------------
# Errors: every message is a sentence we can show to the member as it is.
# --------------------------------------------------------------------------


class FetchError(Exception):
    """Base of every autofill failure; `str(exc)` is fit to show a member."""

    default_message = "The link could not be fetched."
    #: True when trying again later may work: a timeout, a network failure, 429 or 5xx.
    temporary = False

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class DisallowedURL(FetchError):
    """We refuse to fetch it (not a web address, not http(s), a private address): nothing was sent."""

    default_message = "That link cannot be fetched."


class FetchFailed(FetchError):
    """It could not be fetched: too slow, unreachable, too large, too many redirects, or an error
    status (`status`, None when no answer came)."""

    default_message = "The site could not be reached."

    def __init__(
        self, message: str | None = None, *, status: int | None = None, temporary: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.temporary = temporary or status == 429 or (status or 0) >= 500


class UnusableResponse(FetchError):
    """It answered, but with something we cannot use: not a web page, unreadable, unsafe XML."""

    default_message = "The site sent an answer we could not read."


# --------------------------------------------------------------------------
# safe_get
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchResult:
    """What one successful (non-redirect) answer looked like."""

    status: int
    final_url: str
    headers: Mapping[str, str]  # case-insensitive
    content: bytes  # body after Content-Encoding is undone, at most FETCH_MAX_BYTES
    history: tuple[str, ...] = ()  # URLs that redirected, in order

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        """Media type without parameters, lower case ('' when absent)."""
        value = self.headers.get("Content-Type", "")
        if not value:
            return ""
        message = Message()
        message["Content-Type"] = value
        return message.get_content_type()

    @property
    def text(self) -> str:
        """The body decoded as a browser would: BOM, header charset, <meta> charset, then a guess."""
        return html_to_unicode(
            self.headers.get("Content-Type"), self.content, auto_detect_fun=_utf8_or_cp1252
        )[1]

    def json(self) -> Any:
        try:
            return json.loads(self.content)
        except ValueError as exc:
            raise UnusableResponse() from exc


def safe_get(
    url: str,
    *,
    accept: str = DEFAULT_ACCEPT,
    headers: Mapping[str, str] | None = None,
) -> FetchResult:
    """GET `url` with the address, redirect, time and size limits described above.

    `headers` are extra request headers (e.g. an API token); they are dropped when a redirect
    leaves the first scheme/host/port. Any status other than a followed redirect is returned, so
    callers decide what a 404 means.
    """
    max_bytes = int(getattr(settings, "FETCH_MAX_BYTES", 1_000_000))
    max_redirects = int(getattr(settings, "FETCH_MAX_REDIRECTS", 3))
    base_headers = {
        "User-Agent": str(getattr(settings, "FETCH_USER_AGENT", "") or DEFAULT_USER_AGENT),
        "Accept": accept,
        # We undo gzip/deflate ourselves so the size limit applies to what we keep.
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
    }
    target, first_origin = _checked_url(url)
    origin = first_origin
    history: list[str] = []
    with _Deadline(float(getattr(settings, "FETCH_TIMEOUT", 5))) as deadline:
        while True:
            hop_headers = base_headers
            if origin == first_origin:
                hop_headers = {**base_headers, **(headers or {})}
            status, response_headers, raw = _get_once(target, hop_headers, deadline, max_bytes)
            location = response_headers.get("Location")
            if status not in REDIRECT_STATUSES or not location:
                break
            if len(history) >= max_redirects:
                raise FetchFailed("Too many redirects.")
            history.append(target)
            target, origin = _checked_url(urljoin(target, location.strip()))

    content = _decode_content_encoding(raw, response_headers.get("Content-Encoding", ""), max_bytes)
    return FetchResult(
        status=status,
        final_url=target,
        headers=response_headers,
        content=content,
        history=tuple(history),
    )


def _checked_url(url: object) -> tuple[str, tuple[str, str, int]]:
    """The URL to hand requests, rebuilt from its checked parts, and its origin; nothing is sent.

    Rebuilding drops credentials and fragment and encodes the path, so requests parses the very
    host we judge, and the URL we report (final_url, redirect base) carries no password.
    """
    if not isinstance(url, str) or not url.strip() or len(url) > 4096:
        raise DisallowedURL(_NOT_A_URL)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise DisallowedURL(_NOT_A_URL) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DisallowedURL(_NOT_HTTP)
    host = _ascii_host(parts.hostname or "")
    default_port = 443 if scheme == "https" else 80
    port = port or default_port

    netloc = f"[{host}]" if ":" in host else host
    if port != default_port:
        netloc += f":{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    rebuilt = f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
    return rebuilt, (scheme, host, port)


def _ascii_host(hostname: str) -> str:
    hostname = hostname.strip().lower()
    if not hostname:
        raise DisallowedURL(_NOT_A_URL)
    try:
        return str(ipaddress.ip_address(hostname.split("%", 1)[0]))
    except ValueError:
        pass
    try:
        ascii_host = hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise DisallowedURL(_NOT_A_URL) from exc
    if not ascii_host or any(ch in ascii_host for ch in "/\\@ "):
        raise DisallowedURL(_NOT_A_URL)
    return ascii_host


def _allowed_hosts() -> set[str]:
    """FETCH_ALLOWED_HOSTS, normalised; matched against the URL's host as written."""
    allowed = set()
    for entry in getattr(settings, "FETCH_ALLOWED_HOSTS", []) or []:
        entry = str(entry).strip().strip("[]").lower().rstrip(".")
        with contextlib.suppress(ValueError):
            entry = str(ipaddress.ip_address(entry))
        allowed.add(entry)
    return allowed


def _get_once(
    url: str, headers: Mapping[str, str], deadline: _Deadline, max_bytes: int
) -> tuple[int, Mapping[str, str], bytes]:
    """One GET on a fresh session and connection: status, headers and the raw body bytes.

    A session per hop carries no cookies or connections from one host to the next.
    """
    with requests.Session() as session:
        session.trust_env = False  # no proxy (it would bypass the address check) or .netrc login
        session.mount("http://", _Adapter(is_https_proto=False))
        session.mount("https://", _Adapter(is_https_proto=True))
        try:
            remaining = deadline.remaining()
            response = session.get(
                url,
                headers=headers,
                allow_redirects=False,
                stream=True,
                timeout=(remaining, remaining),
            )
            with response:
                if response.status_code in REDIRECT_STATUSES:
                    return response.status_code, response.headers, b""
                body = _read_body(response, deadline, max_bytes)
                return response.status_code, response.headers, body
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure(exc, deadline) from exc


def _read_body(response: requests.Response, deadline: _Deadline, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > max_bytes:
        raise FetchFailed(_too_large_message(max_bytes))
    chunks: list[bytes] = []
    total = 0
    while chunk := response.raw.read1(_CHUNK_BYTES, decode_content=False):
        total += len(chunk)
        if total > max_bytes:
            raise FetchFailed(_too_large_message(max_bytes))
        chunks.append(chunk)
    if deadline.expired:
        # The deadline may have cut the body short: do not pass it off as whole.
        raise FetchFailed(_TOO_SLOW, temporary=True)
    return b"".join(chunks)


def _failure(exc: BaseException, deadline: _Deadline) -> FetchError:
    """Translate a requests, urllib3 or socket failure into a message a member understands."""
    if isinstance(exc, InvalidIPAddress):
        return DisallowedURL(_PRIVATE)
    if isinstance(exc, requests.exceptions.InvalidURL):
        return DisallowedURL(_NOT_A_URL)
    if deadline.expired or isinstance(
        exc, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError
    ):
        return FetchFailed(_TOO_SLOW, temporary=True)
    # requests wraps urllib3's reason for a failed connection in a MaxRetryError.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(exc.__cause__, socket.gaierror) or isinstance(reason, NameResolutionError):
        message = "The site's address could not be found. Is the link spelled right?"
        return FetchFailed(message, temporary=True)
    if isinstance(reason, NewConnectionError):
        return FetchFailed(temporary=True)  # refused or unreachable
    if isinstance(exc, requests.exceptions.SSLError | urllib3.exceptions.SSLError):
        message = "The site's security certificate could not be verified."
        return FetchFailed(message, temporary=True)
    return FetchFailed("The connection to the site broke off.", temporary=True)


# --------------------------------------------------------------------------
# requests-hardened, within the deadline
# --------------------------------------------------------------------------


T = TypeVar("T")
# The fetch running in this thread; urllib3 creates connections far below any argument we pass.
_current_deadline: contextvars.ContextVar[_Deadline] = contextvars.ContextVar("fetch_deadline")


class _Deadline:
    """The wall-clock limit of one fetch, from the DNS lookup to the last byte of the last hop."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._token = _current_deadline.set(self)
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        _current_deadline.reset(self._token)

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise FetchFailed(_TOO_SLOW, temporary=True)
        return left

    def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)`, given up on at the deadline: a DNS lookup cannot be interrupted.

        A fresh daemon thread per call rather than a pool: safe in processes that fork (Celery,
        gunicorn) and never delays interpreter exit.
        """
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = function(*args)
            except BaseException as exc:  # handed to the waiting thread below
                outcome["error"] = exc

        thread = threading.Thread(target=target, name="fetch-dns", daemon=True)
        thread.start()
        thread.join(self.remaining())
        if thread.is_alive():
            raise FetchFailed(_TOO_SLOW, temporary=True)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down at the deadline: a blocked read then returns at once."""
        with self._lock:
            self._sock = sock
            if self._fired:
                self._shutdown()

    def _fire(self) -> None:
        with self._lock:
            self._fired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)


def _not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """What requests-hardened lets through that is no ordinary public host.

    It already refuses private, loopback, link-local, multicast, CGNAT (100.64.0.0/10), NAT64
    (64:ff9b::/96), 6to4 (2002::/16) and IPv4-mapped IPv6 by the IPv4 inside. Left: IPv4-compatible
    (::a.b.c.d) and IPv4-translated (::ffff:0:a.b.c.d) IPv6 and the rest of the unallocated IPv6
    space outside 2000::/3 (`is_reserved`), and the deprecated site-local fec0::/10.
    """
    return ip.is_reserved or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)


class _Adapter(IPFilterAdapter):
    """requests-hardened's address filter and pinning, bounded by the deadline, plus `_not_public`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if (urlsplit(request.url).hostname or "").rstrip(".") in _allowed_hosts():
            # Listed by the operator: connect wherever the name leads, private or not (urllib3
            # resolves it, outside the deadline's DNS thread).
            return HTTPAdapter.build_connection_pool_key_attributes(self, request, verify, cert)
        # requests-hardened resolves, checks and pins the host here.
        host_params, pool_kwargs = _current_deadline.get().run(
            super().build_connection_pool_key_attributes, request, verify, cert
        )
        if _not_public(ipaddress.ip_address(host_params["host"].strip("[]"))):
            raise DisallowedURL(_PRIVATE)
        return host_params, pool_kwargs


class _WatchedHTTPConnection(HTTPConnection):
    """Hands its socket to the fetch's deadline as soon as it exists, before TLS and headers."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        deadline = _current_deadline.get(None)
        if deadline is not None:
            deadline.watch(sock)
        return sock


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


# --------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------


def _too_large_message(max_bytes: int) -> str:
    for unit, name in ((1_000_000, "MB"), (1000, "kB")):
        if max_bytes >= unit and max_bytes % unit == 0:
            return f"The page is larger than {max_bytes // unit} {name}."
    return f"The page is larger than {max_bytes} bytes."


def _decode_content_encoding(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    """Undo gzip/deflate with the same size limit (a small gzip can unpack to GBs)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise UnusableResponse(
            f"The site sent its answer in an encoding we cannot read ({encoding})."
        )
    # 47 = auto-detect gzip or zlib header; -15 = raw deflate (some servers).
    for wbits in (47, -15) if encoding == "deflate" else (47,):
        decompressor = zlib.decompressobj(wbits)
        try:
            content = decompressor.decompress(raw, max_bytes + 1)
        except zlib.error:
            continue
        if len(content) > max_bytes or decompressor.unconsumed_tail:
            raise FetchFailed(_too_large_message(max_bytes))
        return content
    raise UnusableResponse("The site sent a damaged compressed answer.")


def _utf8_or_cp1252(content: bytes) -> str:
    """No charset declared: UTF-8 if it decodes, else windows-1252, as browsers read latin-1."""
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"

"""Safe outgoing HTTP fetches: the one way our server requests a URL a member gave it.

Members paste arbitrary links and the server fetches them, which makes this the
one place where a stranger can make our server send requests. Everything that
leaves the machine for autofill therefore goes through `safe_get`, which:

- only speaks http and https;
- resolves the host once, refuses it if *any* address is private, loopback,
  link-local, multicast, reserved or unspecified (also when wrapped in IPv6),
  and then connects to the address it checked, so a DNS answer that changes
  between check and connect (DNS rebinding) cannot redirect us. The Host
  header, TLS SNI and certificate check keep using the real host name;
- follows redirects itself, checking every hop the same way;
- stops at a wall-clock deadline for the whole fetch (DNS, connect, headers,
  body and redirects together) and at a size limit for the body.

We use urllib3 (which requests is built on) directly rather than requests:
pinning the checked address while keeping SNI and certificate checks on the
host name is one constructor argument there, whereas requests would need an
adapter that rewrites URLs and pool keys.
"""

from __future__ import annotations

import codecs
import contextlib
import http.client
import ipaddress
import json
import socket
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection

DEFAULT_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
DEFAULT_USER_AGENT = "community-newsletter-portal/1.0 (link preview)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024


# --------------------------------------------------------------------------
# Errors: every message is a sentence we can show to the member as it is.
# --------------------------------------------------------------------------


class FetchError(Exception):
    """Base of every autofill failure; `str(exc)` is fit to show a member."""

    default_message = "The link could not be fetched."
    #: True when trying again later may work (Celery tasks retry only these).
    temporary = False

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class DisallowedURL(FetchError):
    """Refused before any request left the machine."""

    default_message = "That link cannot be fetched."


class InvalidURL(DisallowedURL):
    default_message = "That does not look like a web address."


class UnsupportedScheme(DisallowedURL):
    default_message = "Only http:// and https:// links can be fetched."


class PrivateAddress(DisallowedURL):
    default_message = "Links to private network addresses are not allowed."


class FetchTimeout(FetchError):
    default_message = "The page took too long to answer."
    temporary = True


class TooLarge(FetchError):
    default_message = "The page is larger than 1 MB."


class TooManyRedirects(FetchError):
    default_message = "Too many redirects."


class ConnectionFailed(FetchError):
    default_message = "The site could not be reached."
    temporary = True


class BadStatus(FetchError):
    """The site answered, but not with a success status."""

    default_message = "The site answered with an error."

    def __init__(self, message: str | None = None, *, status: int = 0) -> None:
        self.status = status
        self.temporary = status == 429 or status >= 500
        super().__init__(message)


class NotFound(BadStatus):
    default_message = "Nothing was found at that address."

    def __init__(self, message: str | None = None, *, status: int = 404) -> None:
        super().__init__(message, status=status)


class RateLimited(BadStatus):
    default_message = "The site is limiting our requests; try again in a few minutes."

    def __init__(self, message: str | None = None, *, status: int = 429) -> None:
        super().__init__(message, status=status)
        self.temporary = True


class InvalidResponse(FetchError):
    default_message = "The site sent an answer we could not read."


class UnsupportedContent(InvalidResponse):
    default_message = "The link does not point to a web page."


# --------------------------------------------------------------------------
# safe_get
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchResult:
    """What one successful (non-redirect) answer looked like."""

    status: int
    final_url: str
    headers: Mapping[str, str]  # case-insensitive (urllib3's HTTPHeaderDict)
    content: bytes  # body after Content-Encoding is undone, at most FETCH_MAX_BYTES
    history: tuple[str, ...] = ()  # URLs that redirected, in order

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        """Media type without parameters, lower case ('' when absent)."""
        value = self.headers.get("Content-Type", "")
        return _parse_content_type(value)[0] if value else ""

    @property
    def encoding(self) -> str:
        """Python codec name used by `text` (BOM, header, HTML <meta>, then guess)."""
        return _detect_encoding(
            self.content,
            self.headers.get("Content-Type", ""),
            sniff_html=self.content_type in ("", "text/html", "application/xhtml+xml"),
        )

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")

    def json(self) -> Any:
        try:
            return json.loads(self.content)
        except ValueError as exc:
            raise InvalidResponse() from exc


@dataclass(frozen=True)
class _Target:
    """One hop: where to connect (checked addresses) and what to ask for."""

    url: str
    scheme: str
    host: str  # ASCII (IDNA) host name or IP literal, no brackets
    port: int
    addresses: tuple[str, ...]  # all checked; tried in order
    request_target: str  # path + query, percent-encoded
    host_header: str


def safe_get(
    url: str,
    *,
    accept: str = DEFAULT_ACCEPT,
    headers: Mapping[str, str] | None = None,
) -> FetchResult:
    """GET `url` with the SSRF, redirect, time and size limits described above.

    `headers` are extra request headers (e.g. an API token); they are dropped
    when a redirect leaves the original scheme/host/port. Any status other than
    a followed redirect is returned, so callers decide what a 404 means.
    """
    timeout = float(getattr(settings, "FETCH_TIMEOUT", 5))
    max_bytes = int(getattr(settings, "FETCH_MAX_BYTES", 1_000_000))
    max_redirects = int(getattr(settings, "FETCH_MAX_REDIRECTS", 3))
    user_agent = str(getattr(settings, "FETCH_USER_AGENT", "") or DEFAULT_USER_AGENT)
    deadline = time.monotonic() + timeout

    extra_headers = dict(headers or {})
    base_headers = {
        "User-Agent": user_agent,
        "Accept": accept,
        # We undo gzip/deflate ourselves so the size limit applies to what we keep.
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
    }
    history: list[str] = []
    current = url
    first_origin: tuple[str, str, int] | None = None

    while True:
        target = _prepare_target(current, deadline)
        origin = (target.scheme, target.host, target.port)
        if first_origin is None:
            first_origin = origin
        request_headers = dict(base_headers)
        if origin == first_origin:
            request_headers.update(extra_headers)
        request_headers["Host"] = target.host_header

        status, response_headers, raw = _request(target, request_headers, deadline, max_bytes)
        location = response_headers.get("Location")
        if status in REDIRECT_STATUSES and location:
            if len(history) >= max_redirects:
                raise TooManyRedirects()
            history.append(target.url)
            current = urljoin(target.url, location.strip())
            continue

        content = _decode_content_encoding(
            raw, response_headers.get("Content-Encoding", ""), max_bytes
        )
        return FetchResult(
            status=status,
            final_url=target.url,
            headers=response_headers,
            content=content,
            history=tuple(history),
        )


def _prepare_target(url: str, deadline: float) -> _Target:
    """Validate one URL and resolve+check its host; no traffic to the host yet."""
    if not isinstance(url, str) or not url.strip() or len(url) > 4096:
        raise InvalidURL()
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidURL() from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsupportedScheme()
    host = _ascii_host(parts.hostname or "")
    port = port or (443 if scheme == "https" else 80)
    addresses = _checked_addresses(host, port, deadline)

    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    request_target = f"{path}?{query}" if query else path

    shown_host = f"[{host}]" if ":" in host else host
    default_port = 443 if scheme == "https" else 80
    host_header = shown_host if port == default_port else f"{shown_host}:{port}"
    # The URL we report (final_url, redirect base) never carries credentials.
    clean_url = f"{scheme}://{host_header}{request_target}"
    return _Target(
        url=clean_url,
        scheme=scheme,
        host=host,
        port=port,
        addresses=addresses,
        request_target=request_target,
        host_header=host_header,
    )


def _ascii_host(hostname: str) -> str:
    hostname = hostname.strip().lower()
    if not hostname:
        raise InvalidURL()
    try:
        return str(ipaddress.ip_address(hostname.split("%", 1)[0]))
    except ValueError:
        pass
    try:
        ascii_host = hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidURL() from exc
    if not ascii_host or any(ch in ascii_host for ch in "/\\@ "):
        raise InvalidURL()
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


def _resolve(host: str, port: int, deadline: float) -> list[Any]:
    """getaddrinfo, given up on at the deadline (it cannot be interrupted).

    A fresh daemon thread per lookup rather than a pool: safe in processes that
    fork (Celery, gunicorn) and never delays interpreter exit.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(
                host, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP
            )
        except BaseException as exc:  # handed to the waiting thread below
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="fetch-dns", daemon=True)
    thread.start()
    thread.join(_remaining(deadline))
    if thread.is_alive():
        raise FetchTimeout()
    error = outcome.get("error")
    if isinstance(error, OSError | UnicodeError):
        raise ConnectionFailed(
            "The site's address could not be found. Is the link spelled right?"
        ) from error
    if error is not None:
        raise error
    return outcome["infos"]


def _checked_addresses(host: str, port: int, deadline: float) -> tuple[str, ...]:
    """Resolve `host` (bounded by the deadline) and refuse it if any address is private."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        infos = _resolve(host, port, deadline)
        addresses = []
        for info in infos:
            address = str(info[4][0]).split("%", 1)[0]
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise ConnectionFailed("The site's address could not be found.")

    if host.rstrip(".") not in _allowed_hosts():
        for address in addresses:
            if _is_forbidden(ipaddress.ip_address(address)):
                raise PrivateAddress()
    return tuple(addresses)


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _is_forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for anything that is not an ordinary public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64:
            # DNS64 networks reach every IPv4 site this way: judge the IPv4 inside.
            return _is_forbidden(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None and _is_forbidden(embedded):
            return True
        if ip.is_site_local:
            return True
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global  # e.g. 100.64.0.0/10 (carrier-grade NAT)
    )


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchTimeout()
    return remaining


class _Watchdog:
    """Shuts the socket at the deadline, so no drip-feeding server can hold us.

    Per-operation socket timeouts alone would let a server that sends one byte
    every few seconds keep a fetch alive for ever.
    """

    def __init__(self, deadline: float) -> None:
        self.sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._fired = False
        self._timer = threading.Timer(max(deadline - time.monotonic(), 0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self.sock = sock
            if self._fired:
                self._shutdown()

    def _fire(self) -> None:
        with self._lock:
            self._fired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


_NETWORK_ERRORS = (OSError, urllib3.exceptions.HTTPError, http.client.HTTPException)


def _network_error(exc: BaseException, deadline: float) -> FetchError:
    """Translate a low-level failure into a message a member understands."""
    if time.monotonic() >= deadline:
        return FetchTimeout()
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return ConnectionFailed()
    if isinstance(exc, (TimeoutError, urllib3.exceptions.TimeoutError)):
        return FetchTimeout()
    if isinstance(exc, urllib3.exceptions.SSLError) or "CERTIFICATE" in str(exc):
        return ConnectionFailed("The site's security certificate could not be verified.")
    return ConnectionFailed("The connection to the site broke off.")


def _connect(target: _Target, deadline: float) -> HTTPConnection:
    """Connect to the first checked address that answers (never re-resolving)."""
    last_error: BaseException | None = None
    for address in target.addresses:
        timeout = _remaining(deadline)
        if target.scheme == "https":
            conn: HTTPConnection = HTTPSConnection(
                address,
                target.port,
                timeout=timeout,
                server_hostname=target.host,  # SNI and certificate name
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
            )
        else:
            conn = HTTPConnection(address, target.port, timeout=timeout)
        try:
            conn.connect()
            return conn
        except urllib3.exceptions.NewConnectionError as exc:
            conn.close()
            last_error = exc  # refused or unreachable: try the next address
        except _NETWORK_ERRORS as exc:
            conn.close()
            raise _network_error(exc, deadline) from exc
    raise _network_error(last_error or OSError(), deadline) from last_error


def _request(
    target: _Target,
    headers: Mapping[str, str],
    deadline: float,
    max_bytes: int,
) -> tuple[int, Mapping[str, str], bytes]:
    """One GET on a fresh connection; returns status, headers and raw body bytes."""
    watchdog = _Watchdog(deadline)
    conn: HTTPConnection | None = None
    response: urllib3.response.HTTPResponse | None = None
    try:
        conn = _connect(target, deadline)
        sock = conn.sock
        watchdog.watch(sock)
        try:
            conn.request(
                "GET",
                target.request_target,
                headers=dict(headers),
                preload_content=False,
                decode_content=False,
            )
            response = conn.getresponse()
            status = response.status
            response_headers = response.headers
            if status in REDIRECT_STATUSES:
                return status, response_headers, b""

            declared = response_headers.get("Content-Length", "")
            if declared.strip().isdigit() and int(declared) > max_bytes:
                raise TooLarge(_too_large_message(max_bytes))
            chunks: list[bytes] = []
            total = 0
            while True:
                _set_timeout(sock, _remaining(deadline))
                chunk = response.read1(_CHUNK_BYTES, decode_content=False)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise TooLarge(_too_large_message(max_bytes))
                chunks.append(chunk)
            if time.monotonic() >= deadline:
                # The watchdog may have cut the body short: do not pass it off as whole.
                raise FetchTimeout()
            return status, response_headers, b"".join(chunks)
        except _NETWORK_ERRORS as exc:
            raise _network_error(exc, deadline) from exc
    finally:
        watchdog.cancel()
        if response is not None:
            response.close()
        if conn is not None:
            conn.close()


def _set_timeout(sock: socket.socket | None, seconds: float) -> None:
    """Bound the next read; a socket already closed (body complete) needs no bound."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.settimeout(seconds)


def _too_large_message(max_bytes: int) -> str:
    if max_bytes >= 1_000_000 and max_bytes % 1_000_000 == 0:
        size = f"{max_bytes // 1_000_000} MB"
    elif max_bytes >= 1000 and max_bytes % 1000 == 0:
        size = f"{max_bytes // 1000} kB"
    else:
        size = f"{max_bytes} bytes"
    return f"The page is larger than {size}."


def _decode_content_encoding(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    """Undo gzip/deflate with the same size limit (a small gzip can unpack to GBs)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise InvalidResponse(
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
            raise TooLarge(_too_large_message(max_bytes))
        return content
    raise InvalidResponse("The site sent a damaged compressed answer.")


# --------------------------------------------------------------------------
# Character sets
# --------------------------------------------------------------------------


def _parse_content_type(value: str) -> tuple[str, str | None]:
    """(media type, charset) from a Content-Type value, parsed like an e-mail header."""
    message = Message()
    message["Content-Type"] = value
    charset = message.get_param("charset")
    return message.get_content_type(), str(charset) if isinstance(charset, str) else None


def _codec(label: str | None) -> str | None:
    """Python codec for a charset label, following the web's aliases."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("'\"")).name
    except LookupError:
        return None
    # Browsers read latin-1 and ASCII labels as windows-1252 (WHATWG Encoding).
    if name in ("iso8859-1", "ascii", "latin-1"):
        return "cp1252"
    return name


class _CharsetSniffer(HTMLParser):
    """Finds <meta charset> or <meta http-equiv=Content-Type> near the top."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charset: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta" or self.charset:
            return
        values = {name: value or "" for name, value in attrs}
        if values.get("charset"):
            self.charset = values["charset"]
        elif values.get("http-equiv", "").lower() == "content-type":
            self.charset = _parse_content_type(values.get("content", ""))[1]


def _detect_encoding(content: bytes, content_type: str, *, sniff_html: bool) -> str:
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if content.startswith(bom):
            return name
    declared = _codec(_parse_content_type(content_type)[1]) if content_type else None
    if declared:
        return declared
    if sniff_html:
        sniffer = _CharsetSniffer()
        # latin-1 maps bytes 1:1, enough to read ASCII markup in any
        # ASCII-compatible encoding.
        sniffer.feed(content[:4096].decode("latin-1"))
        sniffed = _codec(sniffer.charset)
        if sniffed and not sniffed.startswith("utf-16"):
            return sniffed
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"

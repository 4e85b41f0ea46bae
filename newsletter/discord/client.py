"""The Discord webhook HTTP client and its per-webhook rate-limit bucket (in Redis, shared by
every process, when REDIS_URL is set)."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import redis
import requests
from django.conf import settings
from redis.exceptions import LockError, RedisError
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from .urls import redact

logger = logging.getLogger(__name__)

# Added to every wait for a rate-limit window, so that a rounded Reset-After never makes us
# knock a moment too early.
_RATE_LIMIT_MARGIN = 0.02
_DEFAULT_RETRY_AFTER = 5.0


class DiscordError(Exception):
    """A request to Discord did not succeed. `str()` is for editors: short, token-free."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(redact(message))
        self.status = status
        self.code = code


class DiscordTemporaryError(DiscordError):
    """Worth trying again later: a timeout, a connection error, a 5xx, a 429.

    `maybe_sent` is True when the request went out but no answer came back: Discord may
    have posted the message. `retry_after` is the wait Discord asked for (429).
    """

    def __init__(self, message: str, *, maybe_sent: bool = False, retry_after: float = 0.0, **kw):
        super().__init__(message, **kw)
        self.maybe_sent = maybe_sent
        self.retry_after = retry_after


class DiscordRateLimited(DiscordTemporaryError):
    pass


class WebhookGone(DiscordError):
    """The webhook (or its thread) no longer exists or its token was regenerated: stop using it."""


class DiscordRejected(DiscordError):
    """Discord refused this request (a 4xx other than the above): trying again will not help."""


class UnknownMessage(DiscordRejected):
    """The message to edit or delete is gone (deleted in Discord)."""


@dataclass(frozen=True)
class Webhook:
    """Where and how to post: what `DiscordChannel` stores, without Django."""

    webhook_id: str
    token: str
    thread_id: str = ""
    username: str = ""
    avatar_url: str = ""
    link_previews: bool = False

    @classmethod
    def for_channel(cls, channel) -> Webhook:
        return cls(
            webhook_id=channel.webhook_id,
            token=channel.webhook_token,
            thread_id=channel.thread_id,
            username=channel.username,
            avatar_url=channel.avatar_url,
            link_previews=channel.link_previews,
        )


class _Bucket:
    """What Discord last said about one webhook's rate limit, shared by the threads of a process.

    `turn()` is held for a whole request, so threads posting to the same webhook take turns
    instead of racing for the last request of a window.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.remaining: int | None = None
        self.resets_at = 0.0  # time.monotonic() when the window opens again

    def turn(self):
        return self.lock

    def delay(self) -> float:
        """Seconds until a request is allowed (0: now)."""
        if self.remaining is None or self.remaining > 0:
            return 0.0
        return max(0.0, self.resets_at - time.monotonic())

    def wait(self) -> float:
        """Sleep until a request is allowed; returns the seconds slept."""
        delay = self.delay()
        if delay > 0:
            time.sleep(delay)
        return delay

    def update(self, headers, *, now: float) -> None:
        remaining = _header_float(headers, "X-RateLimit-Remaining")
        reset_after = _header_float(headers, "X-RateLimit-Reset-After")
        if remaining is None or reset_after is None:
            return
        self.remaining = int(remaining)
        self.resets_at = now + reset_after + _RATE_LIMIT_MARGIN

    def block(self, seconds: float, *, now: float) -> None:
        self.remaining = 0
        self.resets_at = max(self.resets_at, now + seconds + _RATE_LIMIT_MARGIN)


class _SharedBucket:
    """The same bucket kept in Redis, for every worker process (and host) posting to a webhook.

    With a bucket per process, two processes posting to one webhook (two threads of a channel,
    or a run continued in another process) each believed they had the whole window, and
    Discord answered 429 in every window. Here a Redis lock makes every request to the webhook
    take its turn, and a key that expires when the window reopens says how long to wait; its
    time-to-live is Redis's own clock, so hosts need not agree on the time. While Redis cannot
    be reached, the process's own bucket stands in (it is kept up to date all along).
    """

    def __init__(self, redis, key: str, local: _Bucket, *, hold: float):
        self.redis = redis
        self.key = key
        self.local = local
        self.hold = hold  # seconds a turn may last: one request, connecting and answering

    @contextmanager
    def turn(self):
        with self.local.lock:
            lock = self.redis.lock(
                f"{self.key}:turn", timeout=self.hold, sleep=0.01, blocking_timeout=self.hold
            )
            try:
                # Not ours after `hold`: its holder died, or Redis is down. Go anyway.
                held = lock.acquire()
            except RedisError as exc:
                _redis_unavailable(exc)
                held = False
            try:
                yield
            finally:
                if held:
                    with suppress(RedisError, LockError):
                        lock.release()

    def delay(self) -> float:
        try:
            milliseconds = self.redis.pttl(f"{self.key}:closed")
        except RedisError as exc:
            _redis_unavailable(exc)
            return self.local.delay()
        return max(milliseconds, 0) / 1000

    def wait(self) -> float:
        delay = self.delay()
        if delay > 0:
            time.sleep(delay)
        return delay

    def update(self, headers, *, now: float) -> None:
        self.local.update(headers, now=now)
        remaining = _header_float(headers, "X-RateLimit-Remaining")
        reset_after = _header_float(headers, "X-RateLimit-Reset-After")
        if remaining is not None and reset_after is not None and remaining < 1:
            self._close_for(reset_after)

    def block(self, seconds: float, *, now: float) -> None:
        self.local.block(seconds, now=now)
        self._close_for(seconds)

    def _close_for(self, seconds: float) -> None:
        """No request before `seconds` from now (or later, if so already). Called in a turn."""
        milliseconds = math.ceil((seconds + _RATE_LIMIT_MARGIN) * 1000)
        key = f"{self.key}:closed"
        try:
            if self.redis.pttl(key) < milliseconds:
                self.redis.set(key, "1", px=milliseconds)
        except RedisError as exc:
            _redis_unavailable(exc)


_buckets: dict[tuple[str, str], _Bucket] = {}
_buckets_lock = threading.Lock()


def _bucket(api_base: str, webhook_id: str, *, hold: float) -> _Bucket | _SharedBucket:
    """The webhook's bucket: in Redis when REDIS_URL is set, else this process's own."""
    with _buckets_lock:
        local = _buckets.setdefault((api_base, webhook_id), _Bucket())
    if not settings.REDIS_URL or time.monotonic() < _redis_down[0] + _REDIS_RETRY_AFTER:
        return local
    where = hashlib.sha256(api_base.encode()).hexdigest()[:12]
    return _SharedBucket(
        _redis(settings.REDIS_URL), f"discord-bucket:{where}:{webhook_id}", local, hold=hold
    )


@functools.cache
def _redis(url: str):
    """One client (and connection pool) per process; a Redis that hangs costs a second."""
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


# After Redis failed, this process keeps the rate limits itself for a few seconds before it
# asks Redis again, instead of waiting for a Redis that hangs at every request.
_REDIS_RETRY_AFTER = 10.0
_redis_down = [-_REDIS_RETRY_AFTER]
_last_warning = [-60.0]


def _redis_unavailable(exc: Exception) -> None:
    """Note that Redis failed; log it once a minute at most."""
    now = time.monotonic()
    _redis_down[0] = now
    if now - _last_warning[0] >= 60:
        _last_warning[0] = now
        logger.warning(
            "Redis unavailable (%s): Discord rate limits are kept per process.", type(exc).__name__
        )


def _header_float(headers, name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, TypeError, ValueError):
        return None


def user_agent() -> str:
    """Discord asks for `DiscordBot (url, version)`; the site's name follows."""
    return f"DiscordBot ({settings.SITE_URL}, 1.0) {settings.SITE_NAME} newsletter"


class DiscordClient:
    """Execute, edit and delete webhook messages, pacing requests by Discord's rate-limit headers.

    Each method makes exactly one request (never retries by itself: a repeated POST may post
    twice) and raises `DiscordError` subclasses; the caller decides what to retry.
    """

    def __init__(self, *, api_base: str | None = None, timeout: float | None = None):

        self.api_base = (api_base or settings.DISCORD_API_BASE).rstrip("/")
        self.timeout = timeout if timeout is not None else settings.DISCORD_HTTP_TIMEOUT
        self.session = requests.Session()
        # No automatic retries: urllib3 would re-send a POST and log the URL while doing so.
        adapter = HTTPAdapter(max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = user_agent()
        self.rate_limit_waits = 0.0  # seconds spent waiting for rate-limit windows

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> DiscordClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the four calls -------------------------------------------------------------------------

    def execute(
        self, webhook: Webhook, content: str, *, thread_name: str = "", thread_id: str = ""
    ) -> dict:
        """Post a message and return it as Discord stored it (with its `id`).

        In a forum channel, `thread_name` opens a new post (a thread; the answer's `channel_id`
        is its id) and `thread_id` posts into an existing one.
        """
        body = self._message_body(webhook, content)
        if webhook.username:
            body["username"] = webhook.username
        if webhook.avatar_url:
            body["avatar_url"] = webhook.avatar_url
        if thread_name:
            body["thread_name"] = thread_name
        params = {"wait": "true"}
        if thread_id or webhook.thread_id:
            params["thread_id"] = thread_id or webhook.thread_id
        return self._request("POST", webhook, "", params=params, json=body)

    def edit(self, webhook: Webhook, message_id: str, content: str, *, thread_id: str = "") -> dict:
        thread_id = thread_id or webhook.thread_id
        params = {"thread_id": thread_id} if thread_id else {}
        return self._request(
            "PATCH",
            webhook,
            f"/messages/{message_id}",
            params=params,
            json=self._message_body(webhook, content),
        )

    def delete(self, webhook: Webhook, message_id: str, *, thread_id: str = "") -> None:
        thread_id = thread_id or webhook.thread_id
        params = {"thread_id": thread_id} if thread_id else {}
        self._request("DELETE", webhook, f"/messages/{message_id}", params=params)

    def get_webhook(self, webhook: Webhook) -> dict:
        """The webhook as Discord knows it (name, channel id): proves id and token work."""
        return self._request("GET", webhook, "", rate_limited=False)

    def would_wait(self, webhook: Webhook) -> float:
        """Seconds the next request to this webhook would have to wait (0: it may go now)."""
        return self._bucket(webhook).delay()

    def pause_for_rate_limit(self, webhook: Webhook) -> float:
        """Wait, if need be, until the webhook's rate-limit window allows a request."""
        waited = self._bucket(webhook).wait()
        self.rate_limit_waits += waited
        return waited

    # -- plumbing -------------------------------------------------------------------------------

    def _bucket(self, webhook: Webhook):
        # A turn lasts one request at most: connecting, then waiting for the answer.
        hold = min(5.0, self.timeout) + self.timeout + 1
        return _bucket(self.api_base, webhook.webhook_id, hold=hold)

    @staticmethod
    def _message_body(webhook: Webhook, content: str) -> dict:
        body: dict = {"content": content, "allowed_mentions": {"parse": []}}
        if not webhook.link_previews:
            body["flags"] = 4  # SUPPRESS_EMBEDS
        return body

    def _request(
        self,
        method: str,
        webhook: Webhook,
        suffix: str,
        *,
        params: dict | None = None,
        json: dict | None = None,
        rate_limited: bool = True,
    ):

        url = f"{self.api_base}/webhooks/{webhook.webhook_id}/{webhook.token}{suffix}"
        bucket = self._bucket(webhook)
        what = {"POST": "posting", "PATCH": "editing", "DELETE": "deleting", "GET": "checking"}[
            method
        ]
        with bucket.turn():
            if rate_limited:
                self.rate_limit_waits += bucket.wait()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    timeout=(min(5.0, self.timeout), self.timeout),
                    allow_redirects=False,
                )
            except requests.ConnectTimeout:
                raise DiscordTemporaryError(
                    f"Could not connect to Discord within {min(5.0, self.timeout):g} s "
                    f"while {what} a message."
                ) from None
            except requests.Timeout:
                raise DiscordTemporaryError(
                    f"Discord did not answer within {self.timeout:g} s while {what} a message.",
                    maybe_sent=method != "GET",
                ) from None
            except requests.ConnectionError as exc:
                raise DiscordTemporaryError(
                    f"The connection to Discord failed while {what} a message "
                    f"({_connection_failure(exc)}).",
                    maybe_sent=method != "GET" and not _never_connected(exc),
                ) from None
            except requests.RequestException as exc:
                raise DiscordTemporaryError(
                    f"The request to Discord failed while {what} a message ({type(exc).__name__}).",
                    maybe_sent=method != "GET",
                ) from None
            now = time.monotonic()
            if rate_limited:
                bucket.update(response.headers, now=now)
            if response.status_code == 429:
                retry_after = _retry_after(response)
                bucket.block(retry_after, now=now)
                raise DiscordRateLimited(
                    f"Discord asked us to slow down (429); retrying after {retry_after:g} s.",
                    status=429,
                    retry_after=retry_after,
                )
        return _answer(response, method=method, what=what)


def _answer(response, *, method: str, what: str):
    status = response.status_code
    if 200 <= status < 300:
        if status == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise DiscordTemporaryError(
                f"Discord answered {status} with a body that is not JSON while {what} a message.",
                status=status,
                maybe_sent=method == "POST",
            ) from None
    data = _json_or_none(response)
    code = data.get("code") if isinstance(data, dict) else None
    message = _discord_message(data) or response.reason or "no explanation"
    if status >= 500:
        raise DiscordTemporaryError(
            f"Discord had an error ({status}: {message}) while {what} a message.",
            status=status,
            code=code,
        )
    if status == 404 and code == 10008:
        raise UnknownMessage(
            "The message is no longer in Discord (deleted there).", status=status, code=code
        )
    if status == 401 or (status == 404 and code == 10015):
        raise WebhookGone(
            "Discord no longer knows this webhook (it was deleted, or its URL was "
            f"regenerated): {status} {message}. Create a new webhook and paste its URL.",
            status=status,
            code=code,
        )
    if status == 404 and code == 10003:
        raise WebhookGone(
            f"Discord cannot find the channel's thread: {status} {message}. Check the thread "
            "id, or clear it to post in the channel itself.",
            status=status,
            code=code,
        )
    raise DiscordRejected(
        f"Discord refused the message: {status} {message}"
        + (f" (code {code})" if code is not None else "")
        + ".",
        status=status,
        code=code,
    )


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def _discord_message(data) -> str:
    """Discord's own message, with the first nested field error ("content: Must be 2000 ...")."""
    if not isinstance(data, dict):
        return ""
    message = str(data.get("message") or "")
    details = []

    def walk(node, path):
        if isinstance(node, dict):
            for error in node.get("_errors", []) or []:
                if isinstance(error, dict) and error.get("message"):
                    details.append(f"{'.'.join(path) or 'body'}: {error['message']}")
            for key, value in node.items():
                if key != "_errors":
                    walk(value, [*path, str(key)])

    walk(data.get("errors"), [])
    if details:
        message = f"{message} ({'; '.join(details[:3])})" if message else "; ".join(details[:3])
    return message[:500]


def _retry_after(response) -> float:
    """Seconds to wait after a 429: the body's `retry_after`, else the headers, else a default."""
    data = _json_or_none(response)
    if isinstance(data, dict):
        try:
            value = float(data["retry_after"])
        except (KeyError, TypeError, ValueError):
            pass
        else:
            # Very old API versions gave milliseconds.
            return value / 1000 if value > 1000 else max(value, 0.0)
    for header in ("Retry-After", "X-RateLimit-Reset-After"):
        value = _header_float(response.headers, header)
        if value is not None and value >= 0:
            return value
    return _DEFAULT_RETRY_AFTER


def _never_connected(exc) -> bool:
    """True when the connection could not even be opened: the request surely was not sent."""

    seen: set[int] = set()
    stack = [exc]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, NewConnectionError | ConnectionRefusedError):
            return True
        stack.extend([getattr(node, "reason", None), node.__cause__, node.__context__])
        stack.extend(arg for arg in getattr(node, "args", ()) if isinstance(arg, BaseException))
    return False


def _connection_failure(exc) -> str:
    return "connection refused" if _never_connected(exc) else "connection lost"

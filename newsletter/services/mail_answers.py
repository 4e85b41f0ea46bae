"""What a mail server's or a provider's answer means for the message it was about.

Django's email backends raise what they got: smtplib's exceptions for SMTP, django-anymail's
for providers with an API. `classify` turns each into one of five outcomes; the sending run
(`email_delivery`) records it on the row. Only an exact answer lets a message go again:
a refusal (4xx, 5xx, an HTTP error status) says nothing was delivered, while a connection that
broke after the message started leaves it unknowable, and such a message is never resent.
"""

from __future__ import annotations

import re
import smtplib

import requests
from anymail.exceptions import AnymailError, AnymailRecipientsRefused, AnymailRequestsAPIError

# What an answer (or its absence) means for the row it was about.
SENT = "sent"
LATER = "later"  # refused for now (4xx): nothing delivered, try again later
REFUSED = "refused"  # refused for good (5xx): nothing delivered, never again
UNREACHABLE = "unreachable"  # the server could not be used: nothing handed over
UNKNOWN = "unknown"  # the connection broke mid-message: it may have been delivered

_ENHANCED = re.compile(r"\b5\.(\d{1,3})\.\d{1,3}\b")
# Errors about the session with the server, not about one message.
_SERVER_ERRORS = (
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPConnectError,
    smtplib.SMTPNotSupportedError,
)


def address_refused(reason: str) -> bool:
    return reason.startswith("The mail server refused the address")


def mailbox_unknown(reason: str) -> bool:
    """A refusal that says the mailbox does not exist: RFC 3463's 5.1.x, or a bare 550, 551
    or 553. A policy refusal ("550 5.7.1 relaying denied") is not about the mailbox: it
    counts as a soft bounce, so a misconfigured relay cannot unsubscribe the whole list."""
    enhanced = _ENHANCED.search(reason)
    if enhanced:
        return enhanced.group(1) == "1"
    return any(f"({code} " in reason for code in (550, 551, 553))


def classify(exc: Exception) -> tuple[str, str, int | None]:
    """(outcome, reason for the editors, SMTP or HTTP code) of a failed hand-over."""
    if isinstance(exc, AnymailError):  # before OSError: anymail's errors derive from it
        return _classify_provider(exc)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (None, b""))
        return _by_code(code, f"The mail server refused the address ({code} {_text(text)}).")
    if isinstance(exc, smtplib.SMTPDataError):
        return _by_code(
            exc.smtp_code,
            f"The mail server refused the message ({exc.smtp_code} {_text(exc.smtp_error)}).",
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        reason = (
            f"The mail server refused our sender address ({exc.smtp_code} {_text(exc.smtp_error)})."
        )
        return UNREACHABLE, reason, exc.smtp_code
    if isinstance(exc, _SERVER_ERRORS):
        return UNREACHABLE, f"The mail server refused us: {type(exc).__name__}: {exc}", None
    if isinstance(exc, (smtplib.SMTPServerDisconnected, TimeoutError, ConnectionError)):
        return UNKNOWN, f"{type(exc).__name__}: {exc}", None
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(
            exc.smtp_code, f"The mail server answered {exc.smtp_code} {_text(exc.smtp_error)}."
        )
    return UNKNOWN, f"{type(exc).__name__}: {exc}"[:500], None


def _classify_provider(exc: AnymailError) -> tuple[str, str, int | None]:
    """django-anymail's errors: an HTTP answer is exact; a request without one is not."""
    if isinstance(exc, AnymailRecipientsRefused):
        return REFUSED, f"The provider refused the address: {exc}", None
    if isinstance(exc, AnymailRequestsAPIError):
        status = exc.status_code
        if status is None:
            cause = exc.__cause__
            connect_failed = isinstance(cause, requests.ConnectTimeout) or (
                isinstance(cause, requests.ConnectionError)
                and not isinstance(cause, requests.ReadTimeout)
                and "NewConnectionError" in repr(cause)
            )
            return (UNREACHABLE if connect_failed else UNKNOWN), f"{exc}"[:500], None
        if status in (401, 403):
            return (
                UNREACHABLE,
                f"The provider refused our credentials ({status}): {exc}"[:500],
                status,
            )
        if status == 429 or status >= 500:
            return LATER, f"The provider answered {status}: {exc}"[:500], status
        return REFUSED, f"The provider refused the message ({status}): {exc}"[:500], status
    return REFUSED, f"{type(exc).__name__}: {exc}"[:500], None


def _by_code(code, reason: str) -> tuple[str, str, int | None]:
    code = code if isinstance(code, int) else None
    if code is not None and 400 <= code < 500:
        return LATER, reason, code
    return REFUSED, reason, code


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:300]

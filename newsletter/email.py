"""The email edition of an issue: the third rendering beside the web page and Discord.

It is made from the stored issue (the sanitised web HTML and the Markdown document that
`newsletter.rendering` produced when the issue was saved), once per issue: an HTML version in
one column with its CSS inlined by css-inline (mail clients ignore style sheets), every link
absolute and the issue's web address at the top, and a plain-text alternative, the Markdown
rendering. The only part that differs between subscribers, the unsubscribe link, is put in
per message, so that sending 50,000 copies renders the issue once.

No tracking pixel and no link rewriting: links go where the issue says. Providers that track
opens or clicks are told not to unless EMAIL_TRACKING is on.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formataddr
from urllib.parse import urljoin, urlsplit

import css_inline
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.safestring import mark_safe

from newsletter.models import Issue
from portal.site import absolute_url
from portal.text import one_line

from .rendering import format_time

# Stands in for each recipient's unsubscribe token until the message is made.
TOKEN_SLOT = "unsubscribe-token-slot"  # noqa: S105  (a placeholder, no secret)
ONE_CLICK = "List-Unsubscribe=One-Click"

_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
_LINK = re.compile(r'\b(href|src)="([^"]*)"')
_DISCORD_TIME = re.compile(r"<t:(-?\d{1,12}):[tTdDfFR]>")
_RELATIVE_MARKDOWN_LINK = re.compile(r"\]\((/[^)\s]*)\)")


@dataclass(frozen=True)
class IssueEmail:
    """An issue rendered for email, with TOKEN_SLOT where each recipient's token goes."""

    subject: str
    html: str
    text: str
    web_url: str

    def message(
        self, *, to: str, token: str, message_id: str, send_id: int | None = None
    ) -> EmailMultiAlternatives:
        """The message for one subscriber, with the unsubscribe link and headers (RFC 8058)."""
        unsubscribe = unsubscribe_url(token)
        message = EmailMultiAlternatives(
            subject=self.subject,
            body=self.text.replace(TOKEN_SLOT, token),
            from_email=sender(),
            to=[to],
            headers={
                "Message-ID": message_id,
                "List-Id": list_id(),
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": ONE_CLICK,
            },
        )
        message.attach_alternative(self.html.replace(TOKEN_SLOT, token), "text/html")
        # Read by django-anymail's backends, ignored by SMTP's.
        message.track_opens = settings.EMAIL_TRACKING
        message.track_clicks = settings.EMAIL_TRACKING
        if send_id is not None:
            message.metadata = {"send_id": str(send_id)}
        return message


def sender() -> str:
    return formataddr((settings.SITE_NAME, settings.DEFAULT_FROM_EMAIL))


def mail_domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"


def list_id() -> str:
    """RFC 2919: the list's name and a stable id under our own domain."""
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"{one_line(settings.SITE_NAME)} <newsletter.{host}>"


def unsubscribe_url(token: str) -> str:
    return absolute_url(reverse("email:unsubscribe", args=[token]))


def absolute_links(fragment: str, base: str) -> str:
    """Every href and src of our own HTML made absolute against `base` (the issue's page)."""

    def absolute(match: re.Match) -> str:
        value = html.unescape(match.group(2))
        return f'{match.group(1)}="{html.escape(urljoin(base, value), quote=True)}"'

    return _LINK.sub(absolute, fragment)


def discord_times_as_text(markdown: str) -> str:
    """Discord's <t:…:F> timestamps, which only Discord shows as times, as UTC text."""

    def as_text(match: re.Match) -> str:
        try:
            moment = datetime.fromtimestamp(int(match.group(1)), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return match.group(0)
        with timezone.override(UTC):
            return format_time(moment)

    return _DISCORD_TIME.sub(as_text, markdown)


def issue_email(
    issue: Issue, *, body_html: str | None = None, body_markdown: str | None = None
) -> IssueEmail:
    """The email edition of `issue` from its stored renderings (or the ones given: a draft's)."""
    web_url = absolute_url(issue.get_absolute_url())
    body_html = issue.body_html if body_html is None else body_html
    body_markdown = issue.body_markdown if body_markdown is None else body_markdown
    context = {
        "issue": issue,
        "web_url": web_url,
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "unsubscribe_url": unsubscribe_url(TOKEN_SLOT),
        "preheader": _preheader(body_html),
        "date": issue.published_at,
    }
    page = render_to_string(
        "newsletter/email/issue.html",
        {**context, "body": mark_safe(absolute_links(body_html, web_url))},  # noqa: S308  (the stored, sanitised issue)
    )
    text = render_to_string(
        "newsletter/email/issue.txt",
        {**context, "body": _text_body(body_markdown)},
    )
    return IssueEmail(
        subject=one_line(f"{settings.SITE_NAME} #{issue.number}: {issue.title}"),
        html=_INLINER.inline(page),
        # render_to_string marks its output safe for HTML; the text part is no HTML, and a
        # page that shows it (the admin's preview) must escape it.
        text="".join([text]),
        web_url=web_url,
    )


def _text_body(markdown: str) -> str:
    text = discord_times_as_text(markdown.replace("\r\n", "\n").strip())
    return _RELATIVE_MARKDOWN_LINK.sub(lambda m: f"]({absolute_url(m.group(1))})", text)


def _preheader(body_html: str) -> str:
    """The first words, which mail clients show after the subject in the inbox."""
    words = html.unescape(strip_tags(body_html)).split()
    text = " ".join(words[:30])
    return text if len(text) <= 140 else text[:139].rsplit(" ", 1)[0] + "…"


def notice_message(*, kind: str, to: str, context: dict) -> EmailMultiAlternatives:
    """A subscriber's notice (the confirmation link, "already subscribed"): plain text."""
    context = {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context}
    subject = one_line(render_to_string(f"newsletter/email/subscriber_{kind}_subject.txt", context))
    body = render_to_string(f"newsletter/email/subscriber_{kind}_body.txt", context)
    headers = {}
    if context.get("unsubscribe_url"):
        headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
        headers["List-Unsubscribe-Post"] = ONE_CLICK
    return EmailMultiAlternatives(
        subject=subject, body=body, from_email=sender(), to=[to], headers=headers
    )

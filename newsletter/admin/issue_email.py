"""The email edition on the editors' issue pages: progress, previews, "send a test to me".

`IssueEmailAdmin` is mixed into `IssueAdmin` (issues.py): its URLs sit under the issue's
(admin/newsletter/issue/<pk>/email/…) and its context goes to the change and preview pages.
The HTML preview is a page of its own, shown in frames at 600 and 390 pixels: the email's
inline styles need a Content-Security-Policy of their own, which only that response gets.
"""

from __future__ import annotations

from csp.constants import SELF, UNSAFE_INLINE
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin

from newsletter.email import IssueEmail, issue_email
from newsletter.services.email_delivery import (
    email_progress,
    email_send_test,
    email_sends_retry_failed,
)

from ..models import Issue, Subscriber

# The email's own styles are inline (mail clients ignore style sheets), and the preview page
# frames it; nothing else of the site's policy changes (no script may run in it).
EMAIL_PREVIEW_CSP_UPDATE = {"style-src": [UNSAFE_INLINE]}
EMAIL_PREVIEW_CSP_REPLACE = {
    "frame-ancestors": [SELF],
    "sandbox": ["allow-popups", "allow-popups-to-escape-sandbox"],
}


class IssueEmailAdmin:
    """Mixed into IssueAdmin, which provides `_issue_for` and `_renderings`."""

    def email_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/email/preview.html",
                view(self.email_html_view),
                name="newsletter_issue_email_html",
            ),
            path(
                "<int:pk>/email/preview.txt",
                view(self.email_text_view),
                name="newsletter_issue_email_text",
            ),
            path(
                "<int:pk>/email/test/",
                view(self.email_test_view),
                name="newsletter_issue_email_test",
            ),
            path(
                "<int:pk>/email/retry/",
                view(self.email_retry_view),
                name="newsletter_issue_email_retry",
            ),
        ]

    def email_context(self, issue: Issue) -> dict:
        published = issue.state == Issue.State.PUBLISHED
        return {
            "email_progress": email_progress(issue) if published else None,
            "email_readers": None if published else Subscriber.objects.receiving().count(),
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        issue = Issue.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if issue is not None:
            extra_context = {**(extra_context or {}), **self.email_context(issue)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _email_for(self, issue: Issue) -> IssueEmail:
        """As it would go out now (a draft), or as it went out (a published issue)."""
        web_html, markdown, _ = self._renderings(issue)
        return issue_email(issue, body_html=web_html, body_markdown=markdown)

    @xframe_options_sameorigin
    def email_html_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        issue = self._issue_for(request, pk, change=False)
        page = self._email_for(issue).html
        response = HttpResponse(page, content_type="text/html; charset=utf-8")
        response._csp_update = EMAIL_PREVIEW_CSP_UPDATE
        response._csp_replace = EMAIL_PREVIEW_CSP_REPLACE
        return response

    def email_text_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        issue = self._issue_for(request, pk, change=False)
        return HttpResponse(self._email_for(issue).text, content_type="text/plain; charset=utf-8")

    def email_test_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Send the email as it would go out now to the editor's own address."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        issue = self._issue_for(request, pk, change=True)
        to = request.user.email
        if not to:
            messages.error(request, "Your account has no email address to send the test to.")
        else:
            try:
                email_send_test(issue=issue, to=to, email=self._email_for(issue))
            except Exception as exc:  # the editor is told what the mail server said
                messages.error(
                    request, f"The test email could not be sent: {type(exc).__name__}: {exc}"
                )
            else:
                messages.success(request, f"A test email is on its way to {to}.")
        return HttpResponseRedirect(
            reverse("admin:newsletter_issue_preview", args=[issue.pk]) + "#email"
        )

    def email_retry_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        issue = self._issue_for(request, pk, change=True)
        count = email_sends_retry_failed(issue=issue)
        if count:
            messages.success(request, f"{count} email{'s' if count != 1 else ''} queued again.")
        else:
            messages.info(
                request, "Nothing to retry: no failed send to an address still subscribed."
            )
        return HttpResponseRedirect(reverse("admin:newsletter_issue_change", args=[issue.pk]))

"""Publishing on the editors' issue pages: say what it will do first, show what it did after.

`IssuePublishingAdmin` is mixed into `IssueAdmin` (issues.py). "Publish now" and "Schedule"
(on the change, compose and preview pages) and the list's "Publish now" action lead to a
confirmation page listing the Discord channels, the messages each gets and the email
subscribers it reaches, or saying that it reaches nobody. After publication the change page
shows each channel's delivery progress beside the email's (issue_email.py).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from newsletter.services.delivery import deliveries_with_progress
from newsletter.services.publish_plan import publish_plan

from ..models import Delivery, Issue

# Where the confirmation page may send an editor back to (any other `next` is ignored).
BACK_PAGES = ("change", "compose", "preview")


class ScheduleForm(forms.Form):
    publish_at = forms.DateTimeField(
        label="Publish at",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In your time zone.",
    )


def schedule_form_for(issue: Issue) -> ScheduleForm:
    when = timezone.localtime(issue.publish_at) if issue.publish_at else None
    return ScheduleForm(initial={"publish_at": when})


def delivery_progress(issue: Issue) -> list[Delivery]:
    """The issue's Discord deliveries, one per channel, with their message counts."""
    return list(
        deliveries_with_progress(Delivery.objects.filter(issue=issue))
        .select_related("channel")
        .order_by("channel__name", "pk")
    )


class IssuePublishingAdmin:
    """Mixed into IssueAdmin, which provides `_issue_for`."""

    def publishing_urls(self) -> list:
        return [
            path(
                "<int:pk>/publishing/confirm/",
                self.admin_site.admin_view(self.publish_confirm_view),
                name="newsletter_issue_publish_confirm",
            ),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        issue = Issue.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if issue is not None:
            extra_context = {
                **(extra_context or {}),
                "schedule_form": schedule_form_for(issue),
                "discord_progress": (
                    delivery_progress(issue) if issue.state == Issue.State.PUBLISHED else None
                ),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def _back(self, request: HttpRequest, issue: Issue) -> str:
        pages = {reverse(f"admin:newsletter_issue_{page}", args=[issue.pk]) for page in BACK_PAGES}
        back = request.GET.get("next", "")
        return back if back in pages else reverse("admin:newsletter_issue_change", args=[issue.pk])

    def publish_confirm_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: what "Publish now" or "Schedule" will do, with the button that does it."""
        issue = self._issue_for(request, pk, change=True)
        back = self._back(request, issue)
        action = request.GET.get("action", "")
        if issue.state == Issue.State.PUBLISHED:
            messages.info(request, f"Issue #{issue.number} is already published.")
            return HttpResponseRedirect(back)
        when = None
        if action == "schedule":
            form = ScheduleForm(request.GET)
            if not form.is_valid():
                messages.error(request, "Choose a date and time to publish at.")
                return HttpResponseRedirect(back)
            when = timezone.localtime(form.cleaned_data["publish_at"])
        elif action != "publish":
            messages.error(request, "Choose to publish now or to schedule.")
            return HttpResponseRedirect(back)
        return self._confirm_page(request, [issue], action=action, when=when, back=back)

    def publish_confirm_action(self, request: HttpRequest, queryset) -> HttpResponse:
        """The list's "Publish now": the same confirmation, for every ticked issue."""
        issues = list(queryset.exclude(state=Issue.State.PUBLISHED).order_by("number"))
        return self._confirm_page(
            request,
            issues,
            action="publish",
            when=None,
            back=reverse("admin:newsletter_issue_changelist"),
            selected=[str(issue.pk) for issue in queryset],
        )

    def _confirm_page(self, request, issues, *, action, when, back, selected=None):
        plans = [(issue, publish_plan(issue=issue)) for issue in issues]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Publish now?" if action == "publish" else "Schedule?",
            "plans": plans,
            "action": action,
            "when": when,
            "publish_at": when.strftime("%Y-%m-%dT%H:%M") if when else "",
            "back": back,
            "selected": selected,
            "action_checkbox_name": "_selected_action",
        }
        return TemplateResponse(request, "admin/newsletter/issue/publish_confirm.html", context)

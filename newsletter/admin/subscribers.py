"""The email list and the sends, in the editors' admin.

Editors see every subscriber (state, source, dates, bounces), export the list as CSV and
import one; they cannot add or confirm an address by hand: imported addresses get the
confirmation email like everyone else. The sends of each issue are listed read-only, with
"retry failed" for what the mail server refused.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import Truncator

from newsletter.services.email_delivery import email_sends_retry_failed
from newsletter.services.subscribers import subscriber_unsubscribe, subscribers_import

from ..models import EmailSend, Issue, Subscriber

CSV_HEADER = [
    "email",
    "state",
    "source",
    "subscribed at (UTC)",
    "confirmed at (UTC)",
    "unsubscribed at (UTC)",
    "reason",
    "bounces",
    "last bounce",
]
IMPORT_MAX_BYTES = 5 * 2**20


class _Echo:
    """A file that hands back what is written: csv.writer's rows, streamed."""

    def write(self, value: str) -> str:
        return value


def _when(moment) -> str:
    return timezone.localtime(moment, UTC).strftime("%Y-%m-%d %H:%M") if moment else ""


def _cell(value: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_rows(subscribers: Iterable[Subscriber]) -> Iterator[list[str]]:
    yield CSV_HEADER
    for subscriber in subscribers:
        yield [
            _cell(subscriber.email),
            subscriber.state,
            subscriber.source,
            _when(subscriber.created_at),
            _when(subscriber.confirmed_at),
            _when(subscriber.unsubscribed_at),
            _cell(subscriber.reason),
            str(subscriber.bounce_count),
            _cell(subscriber.last_bounce),
        ]


def csv_response(queryset, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    rows = (writer.writerow(row) for row in csv_rows(queryset.order_by("pk").iterator(2000)))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ImportForm(forms.Form):
    file = forms.FileField(
        required=False,
        label="CSV file",
        help_text="One address per line; the first cell with an @ of each line is taken.",
    )
    addresses = forms.CharField(
        required=False,
        label="Or paste addresses",
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80}),
    )

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        text = cleaned.get("addresses") or ""
        if upload is not None:
            if upload.size > IMPORT_MAX_BYTES:
                raise forms.ValidationError("The file is over 5 MB; split it.")
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError("Save the file as UTF-8 text (CSV) first.") from None
        if not text.strip():
            raise forms.ValidationError("Choose a file or paste some addresses.")
        cleaned["text"] = text
        return cleaned


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    change_list_template = "admin/newsletter/subscribers/subscriber_change_list.html"
    list_display = [
        "email",
        "state",
        "source",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "reason",
        "bounce_count",
    ]
    list_filter = ["state", "source"]
    search_fields = ["key"]
    date_hierarchy = "created_at"
    actions = ["export_csv", "unsubscribe"]
    fields = [
        "email",
        "state",
        "source",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "reason",
        "bounce_count",
        "soft_bounces_in_a_row",
        "last_bounce_at",
        "last_bounce",
        "notice_sent_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # double opt-in: addresses come from the form or an import

    def has_change_permission(self, request, obj=None) -> bool:
        # The list's actions need the permission; a subscriber's page is only to read.
        return obj is None and super().has_change_permission(request)

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term.strip().lower())

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export/", view(self.export_view), name="newsletter_subscriber_export"),
            path("import/", view(self.import_view), name="newsletter_subscriber_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        counts = dict.fromkeys(Subscriber.State.values, 0)
        for state, count in self._state_counts():
            counts[state] = count
        extra_context = {
            **(extra_context or {}),
            "state_counts": [(Subscriber.State(s).label, n) for s, n in counts.items()],
        }
        return super().changelist_view(request, extra_context)

    @staticmethod
    def _state_counts():
        return (
            Subscriber.objects.order_by()
            .values_list("state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        )

    @admin.action(description="Export selected as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return csv_response(queryset, "subscribers-selected.csv")

    @admin.action(description="Unsubscribe selected", permissions=["change"])
    def unsubscribe(self, request, queryset):
        count = 0
        for subscriber in queryset.exclude(state=Subscriber.State.UNSUBSCRIBED):
            name = request.user.get_username()
            if subscriber_unsubscribe(subscriber=subscriber, reason=f"removed by {name}"):
                count += 1
        messages.success(request, f"{count} address{'es' if count != 1 else ''} unsubscribed.")

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        stamp = timezone.now().strftime("%Y-%m-%d")
        return csv_response(Subscriber.objects.all(), f"subscribers-{stamp}.csv")

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        posted = request.method == "POST"
        form = ImportForm(request.POST if posted else None, request.FILES if posted else None)
        if posted and form.is_valid():
            report = subscribers_import(text=form.cleaned_data["text"])
            messages.success(
                request,
                f"{report.added} new address{'es' if report.added != 1 else ''} added; each gets "
                f"the confirmation email. {report.already} already on the list, left as they were.",
            )
            for line, text, why in report.invalid[:20]:
                messages.warning(request, f"Line {line}: “{text}”: {why}")
            if len(report.invalid) > 20:
                messages.warning(request, f"… and {len(report.invalid) - 20} more lines refused.")
            return HttpResponseRedirect(reverse("admin:newsletter_subscriber_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import subscribers",
            "form": form,
        }
        return TemplateResponse(
            request, "admin/newsletter/subscribers/import.html", context, status=200
        )


@admin.register(EmailSend)
class EmailSendAdmin(admin.ModelAdmin):
    list_display = [
        "issue_shown",
        "address",
        "state",
        "attempts",
        "sent_at",
        "problem",
        "message_id",
    ]
    list_filter = ["state", "bounce", "issue"]
    list_select_related = ["issue", "subscriber"]
    search_fields = ["subscriber__key", "message_id"]
    actions = ["retry_failed"]
    fields = [
        "issue",
        "address",
        "state",
        "attempts",
        "message_id",
        "sent_at",
        "bounce",
        "last_error",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    @admin.display(description="issue", ordering="issue__number")
    def issue_shown(self, send: EmailSend) -> str:
        return f"#{send.issue.number}"

    @admin.display(description="address", ordering="subscriber__key")
    def address(self, send: EmailSend) -> str:
        return send.subscriber.email

    @admin.display(description="problem")
    def problem(self, send: EmailSend) -> str:
        notes = [f"Bounced ({send.bounce})."] if send.bounce else []
        if send.last_error:
            notes.append(Truncator(send.last_error).chars(200))
        return " ".join(notes) or "—"

    @admin.action(description="Retry failed sends of these issues", permissions=["change"])
    def retry_failed(self, request, queryset):
        issues = Issue.objects.filter(pk__in=queryset.values("issue_id").distinct())
        total = sum(email_sends_retry_failed(issue=issue) for issue in issues)
        if total:
            messages.success(request, f"{total} email{'s' if total != 1 else ''} queued again.")
        else:
            messages.info(
                request, "Nothing to retry: no failed send to an address still subscribed."
            )

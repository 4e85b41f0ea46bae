"""Past editions by paste: the editor pastes an edition as posted in Discord, sees what it
reads as, and imports it as a published issue (`newsletter.services.imports`)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from newsletter.services.imports import edition_import, edition_preview

# A whole edition is a few thousand characters; this leaves room for a long one, not a book.
PASTE_LIMIT = 100_000


class EditionPasteForm(forms.Form):
    text = forms.CharField(
        label="The edition, as posted in Discord",
        max_length=PASTE_LIMIT,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100, "class": "vLargeTextField"}),
        help_text="Copy the messages of the edition from Discord, from its “# ⭐ … ⭐” title "
        "line to its closing words, and paste them here.",
    )
    published_at = forms.DateTimeField(
        label="Originally published",
        help_text="When it went out, e.g. 2023-04-03 16:00 (the site's time zone).",
    )
    number = forms.IntegerField(
        required=False,
        min_value=1,
        help_text="Its issue number; empty: after the last issue.",
    )

    def clean_published_at(self):
        value = self.cleaned_data["published_at"]
        if value > timezone.now():
            raise ValidationError("A past edition's date cannot be in the future.")
        return value


class EditionImportAdmin:
    """Mixed into the issues' admin: its "Import a past edition" page."""

    change_list_template = "admin/newsletter/issue/change_list.html"

    def import_urls(self):
        view = self.admin_site.admin_view
        return [path("import/", view(self.edition_import_view), name="newsletter_issue_import")]

    def edition_import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        posted = request.method == "POST"
        form = EditionPasteForm(request.POST if posted else None)
        preview = None
        if posted and form.is_valid():
            data = form.cleaned_data
            preview = edition_preview(text=data["text"])
            if "import" in request.POST and not preview.problems:
                try:
                    issue = edition_import(
                        text=data["text"],
                        published_at=data["published_at"],
                        number=data["number"],
                        actor=request.user,
                    )
                except ValidationError as exc:
                    for message in exc.messages:
                        form.add_error(None, message)
                else:
                    messages.success(
                        request,
                        f"Imported as issue #{issue.number}, published on the site with its "
                        "original date. Nothing was sent to Discord or by email.",
                    )
                    return HttpResponseRedirect(
                        reverse("admin:newsletter_issue_change", args=[issue.pk])
                    )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import a past edition",
            "form": form,
            "preview": preview,
        }
        status = 400 if posted and (not form.is_valid() or (preview and preview.problems)) else 200
        return TemplateResponse(
            request, "admin/newsletter/issue/import.html", context, status=status
        )

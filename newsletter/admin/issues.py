"""Sections, and the editors' issue desk: compose, preview the four outputs, publish.

Every change goes through `newsletter.services`; these pages only collect what the editor
chose (the items table through the formset in `compose.py`). All forms work without JavaScript.
"""

from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from events.models import Event
from newsletter.discord.preview import message_preview
from newsletter.discord.split import split_text
from newsletter.services.compose import (
    events_section,
    issue_events_window,
    issue_fill,
    issue_items_add,
    issue_items_update,
)
from newsletter.services.delivery import deliveries_waiting_for_queue, issue_delivery_key
from newsletter.services.issues import (
    issue_correct,
    issue_create,
    issue_next_number,
    issue_publish,
    issue_schedule,
    issue_unschedule,
    issue_update,
)
from portal.forms import MarkdownEditor

from .. import rendering
from ..email import issue_email
from ..models import DeliveryMessage, Issue, IssueItem, Kind, Section, Submission
from .compose import BaseItemFormSet, ItemFormSet, pool_context
from .imports import EditionImportAdmin
from .issue_email import IssueEmailAdmin
from .issue_publishing import (
    IssuePublishingAdmin,
    ScheduleForm,
    delivery_progress,
    schedule_form_for,
)


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 18


# --- Sections ------------------------------------------------------------------------------------


class SectionForm(forms.ModelForm):
    kinds = forms.MultipleChoiceField(
        choices=Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Accepted submissions of these kinds go to this section when an issue is filled.",
    )

    class Meta:
        model = Section
        fields = [
            "heading",
            "slug",
            "emoji",
            "kind_emoji",
            "kinds",
            "collects_events",
            "compact",
            "position",
        ]

    def clean_kind_emoji(self):
        value = self.cleaned_data["kind_emoji"] or {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValidationError('Write it as {"kind": "emoji"}, e.g. {"blog": "📝"}.')
        unknown = sorted(set(value) - set(Kind.values))
        if unknown:
            raise ValidationError(f"Unknown kinds: {', '.join(unknown)}.")
        return value


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    form = SectionForm
    list_display = ["heading", "emoji", "kinds_shown", "collects_events", "compact", "position"]
    list_editable = ["position"]
    prepopulated_fields = {"slug": ["heading"]}

    @admin.display(description="kinds")
    def kinds_shown(self, section: Section) -> str:
        labels = dict(Kind.choices)
        return ", ".join(labels.get(kind, kind) for kind in section.kinds) or "—"


# --- Issues --------------------------------------------------------------------------------------

# Publishing while the task queue (the broker) is unreachable: the issue is published all the
# same, and its Discord deliveries are queued once the broker is back.
DELIVERY_FOLLOWS = "Delivery to Discord will follow when the task queue is reachable again."


class IssueForm(forms.ModelForm):
    class Meta:
        model = Issue
        fields = ["number", "title", "slug", "introduction", "closing"]
        widgets = {
            "introduction": MarkdownEditor(attrs={"rows": 6, "cols": 80}),
            "closing": MarkdownEditor(attrs={"rows": 4, "cols": 80}),
        }
        help_texts = {
            "slug": "Part of the issue's web address; filled from the title when empty.",
            "introduction": "Markdown, shown after the title.",
            "closing": "Markdown, shown after the last section.",
        }

    def clean_number(self):
        number = self.cleaned_data["number"]
        published = self.instance.pk and self.instance.state == Issue.State.PUBLISHED
        if published and number != self.instance.number:
            raise ValidationError("A published issue keeps its number: readers link to it.")
        return number


@admin.register(Issue)
class IssueAdmin(IssuePublishingAdmin, IssueEmailAdmin, EditionImportAdmin, admin.ModelAdmin):
    form = IssueForm
    list_display = [
        "number",
        "title",
        "state",
        "publish_at",
        "published_at",
        "item_count",
        "links",
    ]
    list_display_links = ["number", "title"]
    list_filter = ["state"]
    search_fields = ["title"]
    ordering = ["-number"]
    readonly_fields = [
        "state",
        "publish_at",
        "published_at",
        "published_by",
        "corrected_at",
        "publish_error",
    ]
    actions = ["publish_now", "unschedule", "correct"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_count=Count("items"))

    def get_fieldsets(self, request, obj=None):
        main = (None, {"fields": ["number", "title", "slug", "introduction", "closing"]})
        if obj is None:
            return [main]
        return [main, ("Publication", {"fields": self.readonly_fields})]

    def get_changeform_initial_data(self, request):
        return {
            "number": issue_next_number(),
            **super().get_changeform_initial_data(request),
        }

    @admin.display(description="items", ordering="item_count")
    def item_count(self, issue: Issue) -> int:
        return issue.item_count

    @admin.display(description="")
    def links(self, issue: Issue) -> str:
        compose = reverse("admin:newsletter_issue_compose", args=[issue.pk])
        preview = reverse("admin:newsletter_issue_preview", args=[issue.pk])
        return format_html('<a href="{}">Compose</a> · <a href="{}">Preview</a>', compose, preview)

    def view_on_site(self, issue: Issue):
        if issue.state == Issue.State.PUBLISHED:
            return issue.get_absolute_url()
        return reverse("newsletter:issue-preview", args=[issue.pk])

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = issue_create(
                title=data["title"],
                number=data["number"],
                introduction=data["introduction"],
                closing=data["closing"],
                actor=request.user,
            )
            if data.get("slug") and data["slug"] != created.slug:
                issue_update(issue=created, slug=data["slug"], actor=request.user)
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        # The form wrote its values onto `obj`; the service compares with the stored row.
        stored = Issue.objects.get(pk=obj.pk)
        issue_update(
            issue=stored,
            actor=request.user,
            number=data["number"],
            title=data["title"],
            slug=data.get("slug") or stored.slug,
            introduction=data["introduction"],
            closing=data["closing"],
        )
        if stored.state == Issue.State.PUBLISHED and form.has_changed():
            messages.info(request, "The correction is on the site now.")
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        # Published issues have stable public URLs; they are corrected, never deleted.
        if obj is not None and obj.state == Issue.State.PUBLISHED:
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        if obj.state == Issue.State.PUBLISHED:
            raise PermissionDenied
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        queryset.exclude(state=Issue.State.PUBLISHED).delete()

    # --- Actions on the list ---------------------------------------------------------------------

    def _run(self, request, queryset, service, done: str) -> None:
        count = 0
        for issue in queryset.order_by("number"):
            try:
                service(issue=issue, actor=request.user)
                count += 1
            except ValidationError as exc:
                messages.error(request, f"Issue #{issue.number}: {' '.join(exc.messages)}")
        if count:
            messages.success(request, f"{count} issue{'s' if count != 1 else ''} {done}.")

    @admin.action(description="Publish now", permissions=["change"])
    def publish_now(self, request, queryset):
        if request.POST.get("confirmed") != "yes":
            return self.publish_confirm_action(request, queryset)
        self._run(request, queryset, issue_publish, "published")
        if deliveries_waiting_for_queue(issues=queryset):
            messages.warning(request, DELIVERY_FOLLOWS)

    @admin.action(description="Unschedule (back to draft)", permissions=["change"])
    def unschedule(self, request, queryset):
        self._run(request, queryset, issue_unschedule, "back to draft")

    @admin.action(description="Correct: render published issues again", permissions=["change"])
    def correct(self, request, queryset):
        self._run(request, queryset, issue_correct, "corrected")

    # --- Pages: compose, preview, publish --------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/compose/", view(self.compose_view), name="newsletter_issue_compose"),
            path("<int:pk>/preview/", view(self.preview_view), name="newsletter_issue_preview"),
            path(
                "<int:pk>/publishing/",
                view(self.publishing_view),
                name="newsletter_issue_publishing",
            ),
            *self.email_urls(),
            *self.import_urls(),
            *self.publishing_urls(),
            *super().get_urls(),
        ]

    def _issue_for(self, request: HttpRequest, pk: int, *, change: bool) -> Issue:
        issue = get_object_or_404(Issue, pk=pk)
        allowed = (
            self.has_change_permission(request, issue)
            if change
            else self.has_view_permission(request, issue)
        )
        if not allowed:
            raise PermissionDenied
        return issue

    def _context(self, request: HttpRequest, issue: Issue, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "issue": issue,
            "original": issue,
            "title": title,
            "schedule_form": schedule_form_for(issue),
            "discord_progress": (
                delivery_progress(issue) if issue.state == Issue.State.PUBLISHED else None
            ),
            "has_change_permission": self.has_change_permission(request, issue),
            **self.email_context(issue),
        }

    def compose_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        issue = self._issue_for(request, pk, change=request.method == "POST")
        if request.method == "POST" and request.POST.get("action", "") in ("fill", "add"):
            self._pool_post(request, issue)
            return HttpResponseRedirect(request.path)
        sections = list(Section.objects.order_by("position", "id"))
        items = list(
            issue.items.select_related("section", "submission__author", "event").order_by(
                "section__position", "position", "id"
            )
        )
        if request.method != "POST":
            formset = ItemFormSet(items=items, sections=sections)
            return self._compose_page(request, issue, sections, formset)
        formset = ItemFormSet(request.POST, items=items, sections=sections)
        if not formset.is_valid():
            if formset.non_form_errors():
                # A stale or incomplete page: show the issue as it is now, and why.
                errors = formset.non_form_errors()
                formset = ItemFormSet(items=items, sections=sections)
                return self._compose_page(request, issue, sections, formset, errors, status=400)
            return self._compose_page(request, issue, sections, formset, status=400)
        try:
            issue_items_update(issue=issue, changes=formset.item_changes(), actor=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            published = issue.state == Issue.State.PUBLISHED
            messages.success(
                request, "Saved; the correction is on the site now." if published else "Saved."
            )
        return HttpResponseRedirect(request.path)

    def _compose_page(
        self,
        request: HttpRequest,
        issue: Issue,
        sections: list[Section],
        formset: BaseItemFormSet,
        items_errors: Sequence[str] = (),
        status: int = 200,
    ) -> HttpResponse:
        """The page: the items formset by section, then the pool and the events to add."""
        rows = {section.pk: [] for section in sections}
        for form in formset:
            if form.item is not None:
                rows.setdefault(form.item.section_id, []).append(form)
        present_events = {item.event_id for item in formset.items.values() if item.event_id}
        context = self._context(request, issue, f"Compose issue #{issue.number}")
        context.update(
            sections=sections,
            formset=formset,
            items_errors=items_errors,
            section_rows=[(section, rows[section.pk]) for section in sections],
            **pool_context(request.GET, issue, sections, path=request.path),
            events=[e for e in issue_events_window() if e.pk not in present_events],
            events_section=events_section(),
            events_weeks=settings.NEWSLETTER_EVENTS_WEEKS,
            published=issue.state == Issue.State.PUBLISHED,
        )
        return TemplateResponse(
            request, "admin/newsletter/issue/compose.html", context, status=status
        )

    def _pool_post(self, request: HttpRequest, issue: Issue) -> None:
        """Fill from the pool, or add the ticked submissions and events."""
        try:
            if request.POST["action"] == "fill":
                added = issue_fill(issue=issue, actor=request.user)
            else:
                added = self._add_ticked(request, issue)
                if not added:
                    messages.warning(request, "Tick the items to add first.")
                    return
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return
        messages.success(request, f"Added {len(added)} item{'s' if len(added) != 1 else ''}.")

    @staticmethod
    def _add_ticked(request: HttpRequest, issue: Issue) -> list[IssueItem]:
        sections = {str(section.pk): section for section in Section.objects.all()}
        # Ticked ids, in the page's order; anything not a number is no id of ours (nor are "²",
        # which str.isdigit() takes, and numbers too long for a primary key).
        submission_ids = [v for v in request.POST.getlist("add") if _is_id(v)]
        event_ids = [v for v in request.POST.getlist("add-event") if _is_id(v)]
        found = Submission.objects.in_bulk(submission_ids)
        events = Event.objects.in_bulk(event_ids)
        return issue_items_add(
            issue=issue,
            submissions=[
                (found[int(pk)], sections.get(request.POST.get(f"section-for-{pk}", "")))
                for pk in submission_ids
                if int(pk) in found
            ],
            events=[events[int(pk)] for pk in event_ids if int(pk) in events],
            actor=request.user,
        )

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        issue = self._issue_for(request, pk, change=False)
        web_html, markdown, messages_sent = self._renderings(issue)
        if request.GET.get("download") == "markdown":
            response = HttpResponse(markdown, content_type="text/markdown; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="issue-{issue.number}-{issue.slug}.md"'
            )
            return response
        limit = settings.DISCORD_MESSAGE_LIMIT
        discord_messages = [
            {
                "text": text,
                "length": len(text),
                "over": len(text) > limit,
                # Sanitised by nh3 in message_preview, as every rendered Markdown is.
                "html": mark_safe(preview.html),  # noqa: S308
                "warnings": preview.warnings,
            }
            for text in messages_sent
            for preview in [message_preview(text)]
        ]
        context = self._context(request, issue, f"Preview issue #{issue.number}")
        context.update(
            web_html=mark_safe(rendering.localize_times(web_html)),  # noqa: S308  (stored renderings are sanitised)
            markdown=markdown,
            discord_messages=discord_messages,
            discord_limit=limit,
            discord_total=sum(m["length"] for m in discord_messages),
            email_text=issue_email(issue, body_html=web_html, body_markdown=markdown).text,
        )
        return TemplateResponse(request, "admin/newsletter/issue/preview.html", context)

    @staticmethod
    def _renderings(issue: Issue) -> tuple[str, str, list[str]]:
        """Web HTML, Markdown and Discord messages: for a draft as it would be published now;
        for a published issue as it was published (its stored page, and the messages its
        deliveries hold), not re-rendered with today's sections."""
        if issue.state == Issue.State.PUBLISHED:
            delivery = issue.deliveries.filter(key=issue_delivery_key(issue)).order_by("pk").first()
            if delivery is not None:
                sent = list(
                    delivery.messages.exclude(state=DeliveryMessage.State.DELETED)
                    .order_by("position")
                    .values_list("content", flat=True)
                )
            else:  # published to no channel: the stored Markdown, cut as Discord would take it
                sent = split_text(issue.body_markdown.strip(), limit=settings.DISCORD_MESSAGE_LIMIT)
            return issue.body_html, issue.body_markdown, sent
        items = list(rendering.issue_items_queryset(issue))
        document = rendering.issue_document(issue, items)
        rendered = rendering.render_issue(issue, items)
        return (
            rendered.body_html,
            rendering.document_markdown(document),
            rendering.document_discord_messages(document),
        )

    @staticmethod
    def _publishing_action(request, issue: Issue, action: str) -> str:
        if action == "publish":
            issue_publish(issue=issue, actor=request.user)
            if deliveries_waiting_for_queue(issues=[issue]):
                return f"Issue #{issue.number} is published. {DELIVERY_FOLLOWS}"
            return f"Issue #{issue.number} is published."
        if action == "schedule":
            form = ScheduleForm(request.POST)
            if not form.is_valid():
                raise ValidationError("Choose a date and time to publish at.")
            when = form.cleaned_data["publish_at"]
            issue_schedule(issue=issue, publish_at=when, actor=request.user)
            local = timezone.localtime(when).strftime("%A %d %B %Y, %H:%M %Z")
            return f"Issue #{issue.number} will be published on {local}."
        if action == "unschedule":
            issue_unschedule(issue=issue, actor=request.user)
            return f"Issue #{issue.number} is a draft again."
        if action == "correct":
            issue_correct(issue=issue, actor=request.user)
            return f"Issue #{issue.number} was rendered again; the site shows it now."
        raise ValidationError("Unknown action.")

    def publishing_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Publish now, schedule, unschedule or correct (POST only)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        issue = self._issue_for(request, pk, change=True)
        try:
            done = self._publishing_action(request, issue, request.POST.get("action", ""))
            messages.success(request, done)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        back = request.POST.get("next", "")
        allowed = {
            reverse("admin:newsletter_issue_change", args=[issue.pk]),
            reverse("admin:newsletter_issue_compose", args=[issue.pk]),
            reverse("admin:newsletter_issue_preview", args=[issue.pk]),
        }
        return HttpResponseRedirect(
            back if back in allowed else reverse("admin:newsletter_issue_change", args=[issue.pk])
        )


@admin.register(IssueItem)
class IssueItemAdmin(admin.ModelAdmin):
    """Read-only list of placements, to find where something was published."""

    list_display = ["__str__", "issue", "section", "position", "is_published"]
    list_filter = ["is_published", "section"]
    list_select_related = ["issue", "section", "submission", "event"]
    search_fields = ["submission__title", "event__title"]
    fields = ["issue", "section", "submission", "event", "position", "blurb", "is_published"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

"""The editors' review queue: pending submissions, one-click votes and decisions.

Who may do what (the policy lives in `newsletter.services`):
- editors (the "Editors" group) vote, edit title and summary before deciding, and decide;
- staff who are not editors see the queue and the review pages, read-only;
- a superuser who is not an editor sees everything and may decide by hand, but does not
  vote (the tally belongs to the editors);
- members have no admin access; nobody votes on or decides their own submission.

Voting works without JavaScript (a POST, then back to the queue with a message); with
static/js/review.js the same forms post in the background and the row is updated in place
from the HTML cells the JSON answer carries. Every write goes through the services.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Q, Subquery, Value
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince
from django.utils.translation import gettext

from newsletter import permissions
from newsletter.services.decisions import (
    DECISIONS,
    submission_decide,
    submissions_decide,
)
from newsletter.services.submissions import (
    TRANSITIONS,
    submission_update,
)
from newsletter.services.votes import vote_cast, vote_tally
from portal.markdown import render_markdown

from ..models import Activity, Endorsement, Submission, SubqueryCount, Vote
from .review_cells import VOTE_BUTTONS, my_vote_cell, tally_cell
from .review_display import (
    duplicate_warnings,
    endorsements_html,
    link_host,
    metadata_fields,
    next_unreviewed,
    summary_excerpt,
)
from .review_filters import AgeFilter, MyVoteFilter, StateFilter
from .review_forms import DecisionForm, RejectForm, SubmissionReviewForm, VoteForm
from .review_rows import QUEUE_FIELDS, can_write_rows, queue_results, vote_forms
from .topics import SubmissionTopicsForm

State = Submission.State

# --- The queue and the review page ---------------------------------------------------------------


@functools.cache
def _changelist_url() -> str:
    return reverse("admin:newsletter_submission_changelist")


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    form = SubmissionReviewForm
    change_list_template = "admin/newsletter/review/change_list.html"
    change_form_template = "admin/newsletter/review/change_form.html"
    # Few, dense columns so the vote buttons fit beside the titles on a laptop screen.
    list_display = ["title_cell", "details", "state_cell", "tally", "my_vote_cell"]
    list_display_links = ["title_cell"]
    list_filter = [StateFilter, "kind", AgeFilter, MyVoteFilter]
    search_fields = ["title", "url", "author__email", "author__display_name"]
    search_help_text = "Title, link, or the submitter's email or name."
    ordering = ["created_at", "id"]
    list_per_page = 100
    # No COUNT(*) of the whole table on every page: the filtered count pages the queue.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    view_on_site = False  # the site's page of a submission is its submitter's own
    actions = ["accept_selected", "reject_selected"]
    fieldsets = [
        (
            "Edit before deciding",
            {
                "fields": ["title", "kind", "summary", "topics"],
                "description": (
                    "Tidy the title or summary for the newsletter. The submitter's original "
                    "text is kept and the edit is recorded in the activity log."
                ),
            },
        )
    ]

    class Media:
        css = {"all": ["css/review.css"]}
        js = ["js/review.js"]

    # --- Permissions --------------------------------------------------------------------------

    def has_module_permission(self, request) -> bool:
        return permissions.can_review(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return permissions.can_review(request.user)

    def has_add_permission(self, request) -> bool:
        return False  # members submit on the site

    def has_change_permission(self, request, obj=None) -> bool:
        if not permissions.can_decide(request.user):
            return False
        if obj is None:
            return True
        if obj.author_id == request.user.pk:
            return obj.state == State.PENDING
        return obj.state in (State.PENDING, State.ACCEPTED)

    def has_delete_permission(self, request, obj=None) -> bool:
        # The record stays: withdrawing and rejecting replace deleting.
        return False

    def has_decide_permission(self, request) -> bool:
        return permissions.can_decide(request.user)

    # --- The queue ----------------------------------------------------------------------------

    def get_queryset(self, request):
        user = request.user
        votes = Vote.objects.filter(submission=OuterRef("pk"))
        others = Submission.objects.exclude(pk=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .select_related("author")
            .with_tally()
            .annotate(
                my_vote=Subquery(votes.filter(editor=user.pk, stale=False).values("value")[:1]),
                same_link=SubqueryCount(
                    others.filter(canonical_key=OuterRef("canonical_key")).values("pk")
                ),
                same_title=SubqueryCount(
                    others.exclude(title="")
                    .annotate(title_key=Lower("title"))
                    .filter(title_key=Lower(OuterRef("title")))
                    .values("pk")
                ),
                viewer_can_vote=Value(permissions.can_vote(user)),
            )
        )

    def action_checkbox(self, obj: Submission) -> str:
        """Django's checkbox, written directly: its widget renders a template per row."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            ACTION_CHECKBOX_NAME,
            obj.pk,
            format_html(gettext("Select this object for an action - {}"), obj),
        )

    @admin.display(description="title · summary · +1s", ordering="title")
    def title_cell(self, obj: Submission) -> str:
        excerpt = summary_excerpt(obj)
        return format_html(
            '{}<span class="review-host">{}</span>{}{}',
            obj.title or obj.url,
            link_host(obj.url),
            format_html('<span class="review-excerpt">{}</span>', excerpt) if excerpt else "",
            endorsements_html(obj.endorsement_list),
        )

    @admin.display(description="kind · submitter · age", ordering="created_at")
    def details(self, obj: Submission) -> str:
        """Kind, who and how long ago on one line; duplicate warnings under it."""
        duplicates = self.duplicates(obj)
        return format_html(
            '<span class="review-details">{} · {} · {}</span>{}',
            obj.get_kind_display(),
            self.submitter(obj),
            self.age(obj),
            "" if duplicates == "—" else duplicates,
        )

    @admin.display(description="submitter", ordering="author__display_name")
    def submitter(self, obj: Submission) -> str:
        return format_html(
            '{}<span class="review-host">{}</span>', obj.author.public_name, obj.author.email
        )

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: Submission) -> str:
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            obj.created_at.isoformat(),
            timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M"),
            timesince(obj.created_at).split(",")[0],
        )

    @admin.display(description="state", ordering="state")
    def state_cell(self, obj: Submission) -> str:
        return format_html(
            '<span data-review-cell="state" data-submission="{}">{}</span>',
            obj.pk,
            obj.get_state_display(),
        )

    @admin.display(description="duplicates")
    def duplicates(self, obj: Submission) -> str:
        """Other submissions (in any state) with the same link or the same title."""
        return duplicate_warnings(_changelist_url(), obj) or "—"

    def _tally_html(self, obj: Submission, user) -> str:
        return tally_cell(obj, user)

    def _my_vote_html(self, obj: Submission, user) -> str:
        return my_vote_cell(obj, user)

    @admin.display(description="votes (for / against / abstain · net)")
    def tally(self, obj: Submission) -> str:
        return obj.tally_html

    @admin.display(description="my vote")
    def my_vote_cell(self, obj: Submission) -> str:
        return obj.my_vote_html

    def get_changelist(self, request, **kwargs):
        """The cells that depend on the viewer are rendered here, where the request is known."""
        admin_self = self
        base = super().get_changelist(request, **kwargs)

        class ReviewChangeList(base):
            def get_results(self, request):
                # Only the columns the rows show (not the original texts, the fetched details).
                self.queryset = self.queryset.only(*QUEUE_FIELDS)
                super().get_results(request)
                # The members' +1s and their reasons: one query for the whole page (Django's
                # prefetch built a queryset for each of the hundred rows, even with no +1s).
                by_submission = {obj.pk: [] for obj in self.result_list}
                if by_submission:
                    endorsements = Endorsement.objects.select_related("member").filter(
                        submission__in=list(by_submission)
                    )
                    for endorsement in endorsements:
                        by_submission[endorsement.submission_id].append(endorsement)
                for obj in self.result_list:
                    obj.endorsement_list = by_submission[obj.pk]
                    admin_self._render_viewer_cells(obj, request.user)
                self.review_request = request

            def review_results(self) -> dict | None:
                """The result list's headers and rows, the rows written in one pass
                (review_rows.py); None where Django's own rows are needed."""
                if not can_write_rows(self):
                    return None
                return queue_results(self, _changelist_url())

            def review_vote_forms(self) -> str:
                return vote_forms(self.result_list, self.review_request)

        return ReviewChangeList

    def _render_viewer_cells(self, obj: Submission, user) -> None:
        obj.tally_html = self._tally_html(obj, user)
        obj.my_vote_html = self._my_vote_html(obj, user)

    def changelist_view(self, request, extra_context=None):
        # Bulk decisions are the only writes the queue takes; refuse them outright to those
        # who do not decide, rather than showing the list again as if nothing was asked.
        if (
            request.method == "POST"
            and "action" in request.POST
            and not self.has_decide_permission(request)
        ):
            raise PermissionDenied
        extra_context = {
            "title": "Review queue",
            **(extra_context or {}),
            "blind_review": settings.NEWSLETTER_BLIND_REVIEW,
            "votes_to_accept": settings.NEWSLETTER_VOTES_TO_ACCEPT,
        }
        return super().changelist_view(request, extra_context=extra_context)

    # --- The review page ----------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and self.has_view_permission(request, obj):
            extra_context = {
                **(extra_context or {}),
                **self._review_context(request, obj),
                "title": f"Review: {obj}",
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def _review_context(self, request: HttpRequest, obj: Submission) -> dict:
        user = request.user
        votes = list(obj.votes.select_related("editor"))
        mine = next((v for v in votes if v.editor_id == user.pk and not v.stale), None)
        visible = permissions.votes_visible(submission=obj, viewer=user, has_voted=mine is not None)
        activity = []
        for entry in obj.activity.select_related("actor"):
            hidden = (
                not visible and entry.action == Activity.Action.VOTED and entry.actor_id != user.pk
            )
            activity.append((entry, hidden))
        duplicates = Submission.objects.filter(canonical_key=obj.canonical_key)
        if obj.title:
            duplicates = Submission.objects.filter(
                Q(canonical_key=obj.canonical_key) | Q(title__iexact=obj.title)
            )
        # The originals matter once someone other than the submitter edited the text.
        edited = any(
            entry.action == Activity.Action.EDITED and entry.actor_id != obj.author_id
            for entry, _ in activity
        )
        is_mine = obj.author_id == user.pk
        can_decide = permissions.can_decide(user) and not is_mine
        return {
            "submission": obj,
            "votes": votes if visible else [],
            "votes_visible": visible,
            "votes_count": len(votes),
            "tally": vote_tally(obj),
            "my_vote": mine,
            "can_vote": permissions.can_vote(user) and not is_mine and obj.state == State.PENDING,
            "can_decide": can_decide,
            "is_mine": is_mine,
            "decisions": [
                key for key, to_state in DECISIONS.items() if to_state in TRANSITIONS[obj.state]
            ]
            if can_decide
            else [],
            "reject_form": RejectForm(auto_id="id_reject_%s"),
            "vote_values": VOTE_BUTTONS,
            "activity": activity,
            "duplicates": duplicates.exclude(pk=obj.pk).select_related("author")[:20],
            "extra_links": obj.extra_links.all(),
            "title_edited": edited and obj.title != obj.original_title,
            "summary_edited": edited and obj.summary != obj.original_summary,
            "original_summary_html": render_markdown(obj.original_summary),
            "metadata_rows": metadata_fields(obj.metadata),
            "endorsements": list(obj.endorsements.select_related("member")),
            "next_url": reverse("admin:newsletter_submission_next") + f"?after={obj.pk}",
            "topics_form": SubmissionTopicsForm(initial={"topics": list(obj.topics.all())})
            if obj.state == State.PUBLISHED and permissions.can_decide(user)
            else None,
            "blind_review": settings.NEWSLETTER_BLIND_REVIEW,
            "votes_to_accept": settings.NEWSLETTER_VOTES_TO_ACCEPT,
        }

    def save_model(self, request, obj, form, change):
        # The form wrote its values onto `obj`; the service compares with the stored row.
        stored = Submission.objects.get(pk=obj.pk)
        data = form.cleaned_data
        submission_update(
            submission=stored,
            actor=request.user,
            title=data["title"],
            kind=data["kind"],
            summary=data["summary"],
            topics=data["topics"],
        )
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        # The topics were set by submission_update (checked and logged), not by the form.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # --- Voting and deciding ------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/vote/", view(self.vote_view), name="newsletter_submission_vote"),
            path("<int:pk>/decide/", view(self.decide_view), name="newsletter_submission_decide"),
            path("next/", view(self.next_view), name="newsletter_submission_next"),
            *super().get_urls(),
        ]

    def _back(self, request: HttpRequest, submission: Submission) -> HttpResponse:
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = reverse("admin:newsletter_submission_change", args=[submission.pk])
        return redirect(target)

    def next_view(self, request: HttpRequest) -> HttpResponse:
        """ "Next unreviewed": the oldest pending submission this editor has not voted on."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        after = request.GET.get("after", "")
        current = Submission.objects.filter(pk=after).first() if after.isdigit() else None
        found = next_unreviewed(editor=request.user, after=current)
        if found is None:
            self.message_user(
                request, "Nothing left to review: you have voted on every waiting submission."
            )
            return redirect("admin:newsletter_submission_changelist")
        return redirect("admin:newsletter_submission_change", found.pk)

    def vote_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """One click: for, against or abstain, with an optional comment."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        wants_json = "application/json" in request.headers.get("Accept", "")
        submission = get_object_or_404(Submission, pk=pk)
        if not permissions.can_vote(request.user):
            if wants_json:
                return JsonResponse({"ok": False, "message": "Only editors can vote."}, status=403)
            raise PermissionDenied
        form = VoteForm(request.POST)
        status = 200
        if not form.is_valid():
            message, level, status = (
                " ".join(e for errors in form.errors.values() for e in errors),
                messages.ERROR,
                400,
            )
        else:
            try:
                vote = vote_cast(
                    submission=submission,
                    editor=request.user,
                    value=form.cleaned_data["value"],
                    comment=form.comment_to_store(),
                )
            except PermissionDenied as exc:
                message, level, status = str(exc), messages.ERROR, 403
            except ValidationError as exc:
                message, level, status = " ".join(exc.messages), messages.ERROR, 409
            else:
                submission.refresh_from_db()
                message = f"Your vote on “{submission}”: {vote.get_value_display().lower()}."
                if submission.state == State.ACCEPTED:
                    message += " That met the acceptance rule: it is accepted."
                level = messages.SUCCESS
        if wants_json:
            row = self.get_queryset(request).filter(pk=pk).first()
            cells = {}
            if row is not None:
                cells = {
                    "tally": self._tally_html(row, request.user),
                    "my_vote": self._my_vote_html(row, request.user),
                    "state": row.get_state_display(),
                }
            return JsonResponse(
                {"ok": level == messages.SUCCESS, "message": message, "cells": cells},
                status=status,
            )
        self.message_user(request, message, level)
        return self._back(request, submission)

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Accept, reject (with a reason) or reopen one submission by hand."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        submission = get_object_or_404(Submission, pk=pk)
        if not self.has_decide_permission(request):
            raise PermissionDenied
        form = DecisionForm(request.POST)
        if not form.is_valid():
            errors = " ".join(e for errors in form.errors.values() for e in errors)
            self.message_user(request, f"Nothing was changed: {errors}", messages.ERROR)
            return self._back(request, submission)
        data = form.cleaned_data
        try:
            submission = submission_decide(
                submission=submission,
                actor=request.user,
                to_state=DECISIONS[data["decision"]],
                reason=data["reason"],
                note=data["note"],
            )
        except PermissionDenied as exc:
            self.message_user(request, str(exc), messages.ERROR)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            done = {
                State.ACCEPTED: "accepted; the submitter gets an email",
                State.REJECTED: "rejected; the submitter gets an email with the reason",
                State.PENDING: "back in the review queue",
            }[submission.state]
            self.message_user(request, f"“{submission}” is {done}.", messages.SUCCESS)
        return self._back(request, submission)

    # --- Bulk decisions -----------------------------------------------------------------------

    def _report(self, request, done, refused, verb: str) -> None:
        if done:
            count = len(done)
            self.message_user(
                request,
                f"{count} submission{'s' if count != 1 else ''} {verb}; "
                "the submitters get an email.",
                messages.SUCCESS,
            )
        for submission, message in refused:
            self.message_user(request, f"“{submission}” was not changed: {message}", messages.ERROR)

    @admin.action(description="Accept the selected submissions", permissions=["decide"])
    def accept_selected(self, request, queryset):
        done, refused = submissions_decide(
            submissions=queryset.order_by("created_at", "id"),
            actor=request.user,
            to_state=State.ACCEPTED,
        )
        self._report(request, done, refused, "accepted")

    @admin.action(description="Reject the selected submissions…", permissions=["decide"])
    def reject_selected(self, request, queryset):
        """Asks for the reason on an intermediate page, then rejects them all with it."""
        submissions = list(queryset.order_by("created_at", "id"))
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done, refused = submissions_decide(
                submissions=submissions,
                actor=request.user,
                to_state=State.REJECTED,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
            self._report(request, done, refused, "rejected")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject submissions",
            "opts": self.model._meta,
            "submissions": submissions,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/newsletter/review/reject_selected.html", context)

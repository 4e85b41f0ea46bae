"""Members' submission pages: submit a link (with autofill and the duplicate check) and follow it."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import ListView

from newsletter.forms import (
    ExtraLinkFormSet,
    SubmissionForm,
    extra_links_from,
    validate_http_url,
)
from newsletter.links.autofill import Metadata, fetch_metadata
from newsletter.links.fetch import FetchError
from newsletter.links.kinds import kind_rules_for_script
from newsletter.models import Endorsement, IssueItem, Submission
from newsletter.models.endorsements import REASON_MAX_LENGTH
from newsletter.services import submissions as service
from newsletter.services.endorsements import endorsement_create, endorsement_refusal
from newsletter.services.submissions import DuplicateSubmission, SubmissionLimitReached
from portal import ratelimit

FETCHES_PER_MINUTE = 20


def _submitted(data: dict, formset) -> dict:
    """What the submission form hands the service, for a new submission or an edit."""
    fields = ("url", "kind", "title", "summary", "note_to_editors", "topics")
    return {**{name: data[name] for name in fields}, "extra_links": extra_links_from(formset)}


def _endorsements():
    return Prefetch(
        "endorsements",
        queryset=Endorsement.objects.select_related("member").order_by("created_at", "id"),
    )


def _form_page(request: HttpRequest, context: dict) -> HttpResponse:
    """The submission form, new or edited, with what its script needs."""
    return render(
        request,
        "newsletter/submissions/form.html",
        {**context, "kind_rules": kind_rules_for_script(), "reason_max": REASON_MAX_LENGTH},
    )


def _endorse_offer(existing: Submission, user) -> dict:
    """What the form says under a duplicate: may this member say +1, and if not, why."""
    return {
        "endorse_url": reverse("portal:submission-endorse", args=[existing.pk]),
        "endorse_refusal": endorsement_refusal(submission=existing, member=user),
        "endorsements": existing.endorsements.count(),
    }


def _fetch_allowed(user) -> bool:
    """A small per-member budget: each fetch makes this server call someone else's."""
    return ratelimit.allow("fetch", user.pk, limit=FETCHES_PER_MINUTE, seconds=60)


def _fetch_details(raw_url: str, user) -> tuple[Metadata | None, str, int]:
    """ "Fetch details", with or without JavaScript: a valid link, the member's budget, then
    arXiv, GitHub or the page. Returns the details, or a message and the HTTP status it means."""
    try:
        url = validate_http_url(raw_url[:2000])
    except ValidationError as exc:
        return None, exc.messages[0], 400
    if not _fetch_allowed(user):
        return None, "Too many fetches in a minute; wait a moment and try again.", 429
    try:
        return fetch_metadata(url), "", 200
    except FetchError as exc:
        return None, f"We could not fetch details: {exc}", 200


def _autofill(form_data, user) -> tuple[dict, str]:
    """Run "fetch details" for the no-JavaScript form: returns new data and a message."""
    data = form_data.copy()
    metadata, message, status = _fetch_details(data.get("url", ""), user)
    if metadata is None:
        if status == 200:  # the fetch itself failed: the member must type a title
            data["autofill_failed"] = "on"
        return data, message
    if metadata.title:
        data["title"] = metadata.title
    if metadata.summary and not data.get("summary", "").strip():
        data["summary"] = metadata.summary
    if not metadata.title:
        data["autofill_failed"] = "on"
        return data, "The page has no title we could read. Please type one."
    data["autofill_failed"] = ""
    return data, ""


@login_required
def submission_create(request: HttpRequest) -> HttpResponse:
    """Submit a link. Works without JavaScript; with it, the form checks and fetches as you type."""
    duplicate = None
    endorse = None
    fetch_message = ""
    if request.method == "POST" and "fetch" in request.POST:
        # "Fetch details" without JavaScript: show the form again, filled, with no errors yet.
        data, fetch_message = _autofill(request.POST, request.user)
        initial = {name: data.get(name, "") for name in SubmissionForm.base_fields}
        initial["topics"] = data.getlist("topics")
        form = SubmissionForm(initial=initial)
        formset = ExtraLinkFormSet(
            prefix="links",
            initial=[
                {"label": data.get(f"links-{i}-label", ""), "url": data.get(f"links-{i}-url", "")}
                for i in range(ExtraLinkFormSet.max_num)
                if data.get(f"links-{i}-url") or data.get(f"links-{i}-label")
            ],
        )
    elif request.method == "POST":
        form = SubmissionForm(request.POST)
        formset = ExtraLinkFormSet(request.POST, prefix="links")
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            try:
                submission = service.submission_create(
                    author=request.user, **_submitted(data, formset)
                )
            except DuplicateSubmission as exc:
                duplicate = service.duplicate_answer(exc.existing, viewer=request.user)
                endorse = _endorse_offer(exc.existing, request.user)
                form.add_error("url", duplicate.message)
            except SubmissionLimitReached as exc:
                form.add_error(None, exc.messages[0])
            else:
                messages.success(
                    request,
                    "Thank you! Your link is waiting for the editors' review."
                    + ("" if submission.title else " We are fetching its title now."),
                )
                return redirect(submission)
    else:
        form = SubmissionForm(initial={"url": request.GET.get("url", "")[:2000]})
        formset = ExtraLinkFormSet(prefix="links")
    return _form_page(
        request,
        {
            "form": form,
            "formset": formset,
            "duplicate": duplicate,
            "endorse": endorse,
            "fetch_message": fetch_message,
        },
    )


@login_required
@require_GET
def submission_check(request: HttpRequest) -> JsonResponse:
    """As the member types the link: is it valid, and is it already known?"""
    url = request.GET.get("url", "")[:2000]
    try:
        validate_http_url(url)
    except ValidationError as exc:
        return JsonResponse({"valid": False, "duplicate": False, "message": exc.messages[0]})
    existing = service.submission_find_duplicate(url)
    if existing is None:
        return JsonResponse({"valid": True, "duplicate": False, "message": ""})
    answer = service.duplicate_answer(existing, viewer=request.user)
    return JsonResponse(
        {
            "valid": True,
            "duplicate": True,
            "message": answer.message,
            "url": answer.url,
            **_endorse_offer(existing, request.user),
        }
    )


@login_required
@require_POST
def submission_endorse(request: HttpRequest, pk: int) -> HttpResponse:
    """ "+1: I want this in the newsletter too", offered where the duplicate answer is shown."""
    submission = get_object_or_404(Submission, pk=pk)
    try:
        endorsement_create(
            submission=submission,
            member=request.user,
            reason=request.POST.get("reason", "")[: REASON_MAX_LENGTH * 4],
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        if exc.code == "reason":
            return redirect(f"{reverse('portal:submission-create')}?url={quote(submission.url)}")
    else:
        messages.success(
            request,
            f"Thank you: your +1 for “{submission}” is recorded. The editors see it "
            "when they review the link.",
        )
    return redirect("portal:submission-create")


@login_required
@require_POST
def submission_fetch(request: HttpRequest) -> JsonResponse:
    """The "fetch details" button: title and summary from arXiv, GitHub or the page."""
    metadata, message, status = _fetch_details(request.POST.get("url", ""), request.user)
    if metadata is None:
        return JsonResponse({"ok": False, "message": message}, status=status)
    return JsonResponse(
        {
            "ok": True,
            "title": metadata.title,
            "summary": metadata.summary,
            "source": metadata.source,
        }
    )


class SubmissionListView(LoginRequiredMixin, ListView):
    """My submissions: each with its state, the reason of a rejection, or its issue."""

    template_name = "newsletter/submissions/list.html"
    context_object_name = "submissions"
    paginate_by = 50

    def get_queryset(self):
        published_items = IssueItem.objects.filter(is_published=True).select_related("issue")
        return (
            Submission.objects.filter(author=self.request.user)
            .prefetch_related(
                "topics",
                Prefetch("issue_items", queryset=published_items, to_attr="published_items"),
                _endorsements(),
            )
            .order_by("-created_at", "-id")
        )


@login_required
def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    published_items = IssueItem.objects.filter(is_published=True).select_related("issue")
    submission = get_object_or_404(
        Submission.objects.prefetch_related(
            "extra_links",
            "topics",
            Prefetch("issue_items", queryset=published_items, to_attr="published_items"),
            _endorsements(),
        ),
        pk=pk,
        author=request.user,
    )
    return render(
        request,
        "newsletter/submissions/detail.html",
        {"submission": submission, "undo_until": service.withdraw_undo_until(submission)},
    )


@login_required
def submission_edit(request: HttpRequest, pk: int) -> HttpResponse:
    submission = get_object_or_404(Submission, pk=pk, author=request.user)
    resubmit = submission.state == Submission.State.REJECTED
    if not (submission.is_editable_by_author or resubmit):
        messages.error(
            request, "Only a submission waiting for review, or a rejected one, can be edited."
        )
        return redirect(submission)
    initial = {
        "url": submission.url,
        "kind": submission.kind,
        "title": submission.title,
        "summary": submission.summary,
        "note_to_editors": submission.note_to_editors,
        "topics": list(submission.topics.all()),
    }
    links_initial = [
        {"label": link.label, "url": link.url} for link in submission.extra_links.all()
    ]
    if request.method == "POST":
        form = SubmissionForm(request.POST)
        formset = ExtraLinkFormSet(request.POST, prefix="links")
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            save = service.submission_resubmit if resubmit else service.submission_update
            try:
                save(submission=submission, actor=request.user, **_submitted(data, formset))
            except DuplicateSubmission as exc:
                form.add_error("url", exc.messages[0])
            except PermissionDenied as exc:
                messages.error(request, str(exc))
                return redirect(submission)
            except ValidationError as exc:
                form.add_error(None, exc.messages[0])
            else:
                messages.success(
                    request,
                    "Sent back for review: the editors see it again in their queue."
                    if resubmit
                    else "Your changes are saved.",
                )
                return redirect(submission)
    else:
        form = SubmissionForm(initial=initial)
        formset = ExtraLinkFormSet(initial=links_initial, prefix="links")
    return _form_page(
        request,
        {
            "form": form,
            "formset": formset,
            "submission": submission,
            "editing": True,
            "resubmit": resubmit,
        },
    )


@login_required
def submission_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks "are you sure?"; POST withdraws, and the page then offers undo for a minute."""
    submission = get_object_or_404(Submission, pk=pk, author=request.user)
    if request.method == "GET":
        if submission.state != Submission.State.PENDING:
            messages.error(request, "Only a submission waiting for review can be withdrawn.")
            return redirect(submission)
        return render(
            request,
            "newsletter/submissions/withdraw.html",
            {"submission": submission, "undo_seconds": service.WITHDRAW_UNDO_SECONDS},
        )
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        service.submission_withdraw(submission=submission, actor=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, "Your submission is withdrawn. You can undo this for a minute.")
    return redirect(submission)


@login_required
@require_POST
def submission_withdraw_undo(request: HttpRequest, pk: int) -> HttpResponse:
    submission = get_object_or_404(Submission, pk=pk, author=request.user)
    try:
        service.submission_withdraw_undo(submission=submission, actor=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, "Undone: your submission is waiting for review again.")
    return redirect(submission)

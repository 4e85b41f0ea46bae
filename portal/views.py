"""The members' side: home page, profile, the Markdown preview and the health check."""

from __future__ import annotations

import functools

import redis
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST, require_safe
from redis.exceptions import RedisError

from events.models import Event
from newsletter.forms import SUMMARY_MAX_LENGTH
from newsletter.models import Issue, Subscriber
from newsletter.services.subscribers import member_receives_issues, subscriber_set_for_member

from .account import account_delete, account_export
from .auth import remember_zone
from .celery import queue_after_commit
from .forms import DeleteAccountForm, ProfileForm
from .markdown import markdownify
from .pagecache import reader_page


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers and the benchmarks' baseline: the full middleware stack,
    no database, no template."""
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


def admin_login(request: HttpRequest, extra_context=None) -> HttpResponse:
    """The editors' desk has no login of its own: one login (allauth's), with one set of rate
    limits. Django's admin sends visitors here; they go on to /accounts/login/ and come back.

    A member who is logged in but not staff is told so, instead of going round in a loop.
    """
    next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("admin:index")
    if request.user.is_authenticated:
        if request.user.is_active and request.user.is_staff:
            return redirect(next_url)
        return render(request, "403.html", status=403)
    return redirect(f"{reverse('account_login')}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")


@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness for load balancers: can this process reach the database and Redis now?

    Unlike /healthz (the process is alive), a 503 here means "send no traffic for a moment".
    """
    problems = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        problems.append("database")
    if settings.REDIS_URL:
        try:
            _redis().ping()
        except RedisError:
            problems.append("redis")
    if problems:
        return HttpResponse(
            "not ready: " + ", ".join(problems) + " unreachable",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1, health_check_interval=30
    )


# A minute at most: "upcoming events" changes with the clock.
@reader_page("archive", "events", timeout=60)
def home(request: HttpRequest) -> HttpResponse:
    latest = Issue.objects.published().order_by("-published_at").first()
    upcoming = Event.objects.visible().upcoming().order_by("start")[:3]
    # Only the count of the email list is public.
    readers = Subscriber.objects.receiving().count()
    return render(
        request,
        "portal/home.html",
        {
            "latest": latest,
            "upcoming": upcoming,
            "readers": readers,
            # Visitors without a zone of their own see times in their browser's (localtime.js).
            "browser_zone": not request.user.is_authenticated
            or (request.user.timezone or "UTC") == "UTC",
        },
    )


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(
        request.POST or None,
        instance=request.user,
        initial={"email_issues": member_receives_issues(request.user)},
    )
    if request.method == "POST" and form.is_valid():
        form.save()
        remember_zone(request, request.user)
        if "email_issues" in form.changed_data:
            subscriber_set_for_member(user=request.user, receive=form.cleaned_data["email_issues"])
        if {"display_name", "credit_me"} & set(form.changed_data):
            # Published issues credit members by name: show the new name (or none) at once.
            queue_after_commit("newsletter.rerender_for_author", user_id=request.user.pk)
        messages.success(request, "Your profile is saved.")
        return redirect("portal:profile")
    return render(request, "portal/profile.html", {"form": form})


@login_required
@require_safe
def account_data(request: HttpRequest) -> HttpResponse:
    """Download my data: one JSON file of what the member gave us."""
    response = JsonResponse(
        account_export(user=request.user), json_dumps_params={"indent": 2, "ensure_ascii": False}
    )
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def account_delete_view(request: HttpRequest) -> HttpResponse:
    """Delete my account, after the member confirms with their password."""
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        account_delete(user=request.user)
        logout(request)
        messages.success(request, "Your account is deleted. Thank you for having been with us.")
        return redirect("portal:home")
    published = request.user.submissions.filter(state="published").count()
    return render(
        request, "portal/account_delete.html", {"form": form, "published_count": published}
    )


def _preview_allowed(user) -> bool:
    """A per-member budget of previews a minute: each one is server time spent rendering."""
    key = f"preview-budget:{user.pk}"
    cache.add(key, 0, timeout=60)
    try:
        return cache.incr(key) <= settings.MARKDOWN_PREVIEWS_PER_MINUTE
    except ValueError:  # Redis is down: rate limits count nothing (portal/cache.py)
        return True


def _refusal(message: str, status: int) -> HttpResponse:
    # markdownx shows whatever comes back in the preview pane, so the reason reads there too.
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@login_required
@require_POST
def markdown_preview(request: HttpRequest) -> HttpResponse:
    """markdownx's live preview, in place of its own view: the text must be there, no longer
    than a summary may be, and within the member's budget. The rendering is the pages' own."""
    content = request.POST.get("content")
    if content is None:
        return _refusal("Nothing to preview: the text to render goes in “content”.", 400)
    if not _preview_allowed(request.user):
        return _refusal("Too many previews in a minute; the preview comes back shortly.", 429)
    length = len(content.strip())
    if length > SUMMARY_MAX_LENGTH:
        return _refusal(
            f"The preview shows texts of up to {SUMMARY_MAX_LENGTH} characters, the longest a "
            f"summary may be; this one has {length}.",
            400,
        )
    return HttpResponse(markdownify(content))

"""Discord's side door: the interactions endpoint and the link that completes a submission.

The endpoint exists only while DISCORD_APPLICATION_ID, DISCORD_PUBLIC_KEY and DISCORD_GUILD_ID
are set (404 otherwise). It checks the signature before reading anything, answers every
interaction once (an interaction id seen before is not acted on again), and leaves the work to
newsletter/interactions/.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from newsletter.interactions import replies
from newsletter.interactions.dispatch import interaction_answer
from newsletter.interactions.linking import (
    LinkInvalid,
    discord_uid,
    pending_complete,
    pending_from_token,
)
from newsletter.interactions.signature import InvalidRequest, signature_check

# Discord's own interactions stay far below this (a message command carries one message).
MAX_BODY_BYTES = 64 * 1024
SEEN_SECONDS = 600


def interactions_enabled() -> bool:
    return bool(
        settings.DISCORD_APPLICATION_ID
        and settings.DISCORD_PUBLIC_KEY
        and settings.DISCORD_GUILD_ID
    )


def _problem(status: int, message: str) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


def _first_time(interaction_id: str) -> bool:
    """True the first time an interaction id comes (a replay within 5 minutes is not acted on).

    With the cache down every interaction counts as new: the duplicate check of the
    submission service still keeps one submission per link.
    """
    key = f"discord:interaction:{interaction_id}"
    return bool(cache.add(key, 1, SEEN_SECONDS)) or cache.get(key) is None


@csrf_exempt
@require_POST
def interactions(request: HttpRequest) -> HttpResponse:
    if not interactions_enabled():
        raise Http404("Discord interactions are not configured.")
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        return _problem(413, f"An interaction is at most {MAX_BODY_BYTES} bytes.")
    body = request.body
    if len(body) > MAX_BODY_BYTES:  # sent without a length (chunked)
        return _problem(413, f"An interaction is at most {MAX_BODY_BYTES} bytes.")
    try:
        signature_check(
            public_key=settings.DISCORD_PUBLIC_KEY,
            signature=request.headers.get("X-Signature-Ed25519", ""),
            timestamp=request.headers.get("X-Signature-Timestamp", ""),
            body=body,
        )
    except InvalidRequest as exc:
        return _problem(401, f"invalid request signature ({exc})")
    try:
        interaction = json.loads(body)
    except ValueError:
        return _problem(400, "The body is not JSON.")
    if not isinstance(interaction, dict):
        return _problem(400, "An interaction is a JSON object.")
    if interaction.get("type") != replies.PING and not _first_time(str(interaction.get("id"))):
        return JsonResponse(replies.ephemeral("This was already received."))
    return JsonResponse(interaction_answer(interaction))


def _login_url(request: HttpRequest, process: str) -> str:
    query = urlencode({"process": process, "next": request.get_full_path()})
    return f"{reverse('discord_login')}?{query}"


@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, token: str) -> HttpResponse:
    """Log in (or sign up) with Discord, then send what was typed in Discord, once."""
    try:
        pending = pending_from_token(token)
    except LinkInvalid as exc:
        return render(request, "newsletter/discord/link.html", {"problem": str(exc)}, status=400)
    context = {"pending": pending, "items": pending.items}
    if pending.completed_at is not None:
        context["problem"] = "This link was already used; your submissions are in My submissions."
        return render(request, "newsletter/discord/link.html", context, status=410)
    if not request.user.is_authenticated:
        context["login_url"] = _login_url(request, "login")
        return render(request, "newsletter/discord/link.html", context)
    uid = discord_uid(request.user)
    if uid is None:
        context["connect_url"] = _login_url(request, "connect")
        return render(request, "newsletter/discord/link.html", context)
    if uid != pending.discord_user_id:
        context["problem"] = (
            "This link belongs to another Discord account than the one linked to your account."
        )
        return render(request, "newsletter/discord/link.html", context, status=403)
    if request.method == "GET":
        return render(request, "newsletter/discord/link.html", {**context, "ready": True})
    try:
        outcomes = pending_complete(pending=pending, user=request.user)
    except LinkInvalid as exc:
        context["problem"] = str(exc)
        return render(request, "newsletter/discord/link.html", context, status=410)
    for outcome in outcomes:
        level = messages.SUCCESS if outcome.submission and not outcome.duplicate else messages.INFO
        messages.add_message(request, level, f"{outcome.url}: {outcome.message}")
    return redirect("portal:submission-list")

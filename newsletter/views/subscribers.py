"""The email edition's public pages: subscribe, confirm, unsubscribe; and the bounce webhook.

Two views take no CSRF token, on purpose:

- `subscribe`: its form sits on every reader page, and those pages are cached whole for all
  visitors (portal/pagecache.py), so they cannot carry a per-visitor token. It acts on no
  account and no session: anyone may ask for any address, which is why the address's owner
  must confirm by email (double opt-in), at most one email per address per hour, and each
  client address may ask EMAIL_SUBSCRIBES_PER_HOUR times an hour.
- `unsubscribe`: RFC 8058's one-click POST comes from the reader's mail provider, which has no
  token to give. The signed token in the URL is the authority, as it is for the link.

GETs never change anything: mail scanners open every link of a message, so the confirmation
and unsubscribe links lead to a page with one button. Mail clients' own unsubscribe button
(List-Unsubscribe-Post) unsubscribes in one click, without any page.
"""

from __future__ import annotations

import logging

from allauth.account.adapter import get_adapter
from anymail.signals import tracking
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from newsletter.forms import SubscribeForm
from newsletter.models import Subscriber
from newsletter.services.bounces import TrackingEvent, subscriber_record_event
from newsletter.services.subscribers import (
    TokenError,
    subscriber_confirm,
    subscriber_from_confirm_token,
    subscriber_from_unsubscribe_token,
    subscriber_resubscribe,
    subscriber_subscribe,
    subscriber_unsubscribe,
)
from portal import ratelimit

logger = logging.getLogger(__name__)

# RFC 8058: the body a mail client POSTs is "List-Unsubscribe=One-Click".
ONE_CLICK_VALUE = "One-Click"


def _client(request: HttpRequest) -> str:
    """The visitor's address, read as allauth reads it (TRUSTED_PROXY_COUNT)."""
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return "unknown"


@csrf_exempt
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    """Ask for the newsletter by email. The answer is the same whoever the address belongs to."""
    if request.method == "GET":
        return render(request, "newsletter/subscribers/subscribe.html", _form_page(SubscribeForm()))
    allowed = ratelimit.allow(
        "subscribe", _client(request), limit=settings.EMAIL_SUBSCRIBES_PER_HOUR, seconds=3600
    )
    if not allowed:
        return render(request, "newsletter/subscribers/too_many.html", status=429)
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return render(
            request, "newsletter/subscribers/subscribe.html", _form_page(form), status=400
        )
    subscriber_subscribe(email=form.cleaned_data["email"], source=Subscriber.Source.FORM)
    return redirect("email:subscribe-done")


def _form_page(form: SubscribeForm) -> dict:
    return {
        "form": form,
        "readers": Subscriber.objects.receiving().count(),
        "days": settings.EMAIL_CONFIRM_DAYS,
    }


@require_GET
def subscribe_done(request: HttpRequest) -> HttpResponse:
    return render(
        request, "newsletter/subscribers/check_inbox.html", {"days": settings.EMAIL_CONFIRM_DAYS}
    )


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the button (mail scanners open links); POST confirms."""
    template = "newsletter/subscribers/confirm.html"
    try:
        if request.method == "POST":
            subscriber = subscriber_confirm(token=token)
            return render(request, template, {"subscriber": subscriber, "confirmed": True})
        subscriber = subscriber_from_confirm_token(token)
    except TokenError as exc:
        return render(request, template, {"error": str(exc)}, status=400)
    return render(
        request,
        template,
        {"subscriber": subscriber, "confirmed": subscriber.state == Subscriber.State.CONFIRMED},
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the page with one button, which its script presses as the page opens, so the
    footer link is one click for a person while a mail scanner fetching the link (without
    running scripts) unsubscribes nobody; once unsubscribed, the offer to come back.
    POST: unsubscribe now, from that page or from a mail client's own button (RFC 8058)."""
    template = "newsletter/subscribers/unsubscribe.html"
    try:
        subscriber = subscriber_from_unsubscribe_token(token)
    except TokenError as exc:
        return render(request, template, {"error": str(exc)}, status=400)
    if subscriber is None:  # a test email's link
        return render(request, template, {"test": True})
    if request.method == "GET":
        return render(request, template, {"subscriber": subscriber, "token": token})
    one_click = request.POST.get("List-Unsubscribe") == ONE_CLICK_VALUE
    subscriber_unsubscribe(
        subscriber=subscriber,
        reason="one-click unsubscribe in the mail client" if one_click else "unsubscribe link",
    )
    if one_click:
        return HttpResponse("Unsubscribed.", content_type="text/plain; charset=utf-8")
    return redirect("email:unsubscribe", token=token)


@require_POST
def resubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The unsubscribe page's "subscribe again": the signed link proves the mailbox."""
    try:
        subscriber = subscriber_from_unsubscribe_token(token)
    except TokenError as exc:
        return render(
            request, "newsletter/subscribers/unsubscribe.html", {"error": str(exc)}, status=400
        )
    if subscriber is None:  # a test email's link
        return redirect(reverse("email:unsubscribe", args=[token]))
    subscriber_resubscribe(subscriber=subscriber)
    messages.success(request, "Welcome back: you will receive the next issue.")
    # Not back to the unsubscribe page: its script would unsubscribe the reader again.
    return render(
        request,
        "newsletter/subscribers/confirm.html",
        {"subscriber": subscriber, "confirmed": True},
    )


# Bounces and complaints, from the provider's tracking webhook (newsletter/urls.py mounts
# anymail's view for each of EMAIL_TRACKING_PROVIDERS). Connected when the URLs load, before
# any webhook can arrive.
@receiver(tracking, dispatch_uid="newsletter.tracking_received")
def tracking_received(sender, event, esp_name: str, **kwargs) -> None:
    esp_event = event.esp_event if isinstance(event.esp_event, dict) else {}
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    outcome = subscriber_record_event(
        event=TrackingEvent(
            event_type=str(event.event_type or ""),
            recipient=str(event.recipient or ""),
            reject_reason=str(event.reject_reason or ""),
            description=str(event.description or ""),
            mta_response=str(event.mta_response or ""),
            message_id=str(event.message_id or ""),
            send_id=str(metadata.get("send_id", "")),
            esp_type=str(esp_event.get("Type") or esp_event.get("type") or ""),
        )
    )
    if outcome:
        logger.info("%s tracking event: %s", esp_name, outcome)

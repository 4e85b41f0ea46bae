"""What members read about events outside the site: emails and Discord reminders."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone

from newsletter.discord.text import discord_timestamp, markdown_text
from portal.site import absolute_url

from .models import Event


def discord_safe(text: str) -> str:
    """Organiser text as plain Discord text: no formatting, no @everyone or role pings."""
    return markdown_text(text, break_mentions=True)


def reminder_discord_message(event: Event) -> str:
    # Shown in each reader's own zone: full date and time, and "in 2 hours".
    full, relative = discord_timestamp(event.start), discord_timestamp(event.start, "R")
    lines = [
        f"⏰ **{discord_safe(event.title)}** ({event.get_kind_display().lower()}) starts {relative}: {full}."
    ]
    if event.resource_title or event.resource_url:
        label = discord_safe(event.resource_title) or "Link"
        lines.append(f"📄 {label}: <{event.resource_url}>" if event.resource_url else f"📄 {label}")
    if event.location:
        where = f"<{event.location}>" if event.location_is_link else discord_safe(event.location)
        lines.append(f"📍 {where}")
    lines.append(f"Details and RSVP: <{absolute_url(event.get_absolute_url())}>")
    return "\n".join(lines)


def event_email(*, user, template: str, event: Event, **context) -> EmailMessage:
    """One email to one member, with the event's times in the member's own time zone."""
    try:
        zone = zoneinfo.ZoneInfo(user.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    context = {
        "event": event,
        "user": user,
        "site_name": settings.SITE_NAME,
        "event_url": absolute_url(event.get_absolute_url()),
        "zone_name": str(zone),
        **context,
    }
    with timezone.override(zone):
        subject = render_to_string(f"events/email/{template}_subject.txt", context)
        body = render_to_string(f"events/email/{template}_body.txt", context)
    subject = " ".join(subject.split())
    return EmailMessage(subject=subject, body=body, to=[user.email])

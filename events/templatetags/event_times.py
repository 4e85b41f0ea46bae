"""Event times in the viewer's time zone, with UTC as the fallback everyone can read.

The active zone comes from the member's profile (portal.middleware). When the
visitor chose none, the times carry `data-localtime` and static/js/localtime.js
rewrites them in the browser's zone; without JavaScript they stay in UTC.
"""

from __future__ import annotations

from datetime import UTC

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

register = template.Library()

LONG = "D j M Y, H:i"
SHORT = "D j M, H:i"


def _zone_label(value) -> str:
    label = date_format(value, "T").strip()
    return label or timezone.get_current_timezone_name()


@register.inclusion_tag("events/includes/_when.html", takes_context=True)
def event_when(context, event, compact: bool = False) -> dict:
    """Start and end of an event: "Tue 10 Mar 2026, 06:30–07:30 PDT (13:30–14:30 UTC)"."""
    start = timezone.localtime(event.start)
    end = timezone.localtime(event.end)
    utc_start, utc_end = event.start.astimezone(UTC), event.end.astimezone(UTC)
    fmt = SHORT if compact else LONG
    same_day = start.date() == end.date()
    local = f"{date_format(start, fmt)}–{date_format(end, 'H:i' if same_day else fmt)}"
    # UTC times carry their date only when it differs from the date shown before them.
    utc = (
        date_format(utc_start, "H:i" if utc_start.date() == start.date() else fmt)
        + "–"
        + date_format(utc_end, "H:i" if utc_end.date() == utc_start.date() else fmt)
    )
    return {
        "start_iso": utc_start.isoformat().replace("+00:00", "Z"),
        "end_iso": utc_end.isoformat().replace("+00:00", "Z"),
        "local": local,
        "zone_label": _zone_label(start),
        "zone_name": timezone.get_current_timezone_name(),
        "utc": utc,
        "is_utc": timezone.get_current_timezone_name() == "UTC",
        "compact": compact,
        "browser_zone": context.get("browser_zone", False),
    }


@register.inclusion_tag("events/includes/_moment.html", takes_context=True)
def local_time(context, value) -> dict:
    """One moment (a deadline): "Mon 9 Mar 2026, 23:00 PDT (06:00 UTC)"."""
    local = timezone.localtime(value)
    utc = value.astimezone(UTC)
    return {
        "iso": utc.isoformat().replace("+00:00", "Z"),
        "local": date_format(local, LONG),
        "zone_label": _zone_label(local),
        "zone_name": timezone.get_current_timezone_name(),
        "utc": date_format(utc, LONG if utc.date() != local.date() else "H:i"),
        "is_utc": timezone.get_current_timezone_name() == "UTC",
        "browser_zone": context.get("browser_zone", False),
    }

"""The time zones a member chooses from: canonical names only, grouped by region.

Python knows about 600 names, aliases included (US/Eastern, Asia/Calcutta, Etc/GMT+5). The
list offered is tzdata's zone.tab: one preferred name per place, each of the form
Region/City, plus UTC. A member whose stored zone is an alias keeps it as a choice.
"""

from __future__ import annotations

import functools
import importlib.resources
import zoneinfo
from datetime import datetime

from django.utils import timezone

UTC = "UTC"


@functools.cache
def canonical_zones() -> tuple[str, ...]:
    text = importlib.resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text()
    zones = {
        line.split("\t")[2]
        for line in text.splitlines()
        if line and not line.startswith("#") and line.count("\t") >= 2
    }
    available = zoneinfo.available_timezones()
    return tuple(sorted(zone for zone in zones if zone in available))


def zone_label(zone: str) -> str:
    """ "America/Argentina/Buenos_Aires" → "Argentina / Buenos Aires"."""
    place = zone.split("/", 1)[1] if "/" in zone else zone
    return place.replace("_", " ").replace("/", " / ")


def _clock(zone: str, now: datetime) -> str:
    local = now.astimezone(zoneinfo.ZoneInfo(zone))
    offset = local.strftime("%z")
    return f"{local:%H:%M}, UTC{offset[:3]}:{offset[3:]}"


def zone_choices(*, current: str = "", now: datetime | None = None) -> list:
    """Grouped choices, each labelled with its place and its time now:
    [("UTC", [("UTC", "UTC (13:05, UTC+00:00)")]), ("Europe", [("Europe/Paris", "Paris (14:05,
    UTC+01:00)"), …]), …]."""
    now = now or timezone.now()
    groups: dict[str, list[tuple[str, str]]] = {UTC: [(UTC, f"UTC ({_clock(UTC, now)})")]}
    for zone in canonical_zones():
        region = zone.split("/", 1)[0]
        groups.setdefault(region, []).append((zone, f"{zone_label(zone)} ({_clock(zone, now)})"))
    known = zoneinfo.available_timezones()
    if current and current != UTC and current not in canonical_zones() and current in known:
        groups["Your current zone"] = [(current, f"{current} ({_clock(current, now)})")]
    return list(groups.items())


def is_known_zone(zone: str) -> bool:
    return zone == UTC or zone in canonical_zones()

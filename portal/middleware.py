"""Activate each member's time zone so templates show times where they live."""

import zoneinfo

from django.contrib.auth import SESSION_KEY
from django.utils import timezone

from .auth import ZONE_SESSION_KEY


class UserTimezoneMiddleware:
    """The zone comes from the session (portal.auth keeps it there), not from the user: a
    request that does not need the member, such as /healthz, reads nothing from the database."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        tzname = None
        if session is not None and SESSION_KEY in session:
            tzname = session.get(ZONE_SESSION_KEY)
            if tzname is None:  # a session from before the zone was kept: read it once
                user = request.user
                tzname = getattr(user, "timezone", None) if user.is_authenticated else None
        if tzname:
            try:
                timezone.activate(zoneinfo.ZoneInfo(tzname))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)

"""allauth, adapted to this site."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal.ratelimit import get_ip

from .timezones import is_known_zone


class AccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        """Count failed logins per account *and* address ("login_failed": …/key).

        allauth counts them per account alone, so five wrong passwords from anyone, anywhere,
        locked the owner out for five minutes. Per account and address, a stranger only locks
        themselves out; the per-address limit (…/ip) still slows a spray over many accounts.
        """
        return f"{super()._get_login_attempts_cache_key(request, **credentials)}:{get_ip(request)}"

    def save_user(self, request, user, form, commit=True):
        """A new member starts in their browser's zone: timezone.js puts it in the form."""
        zone = request.POST.get("timezone", "") if request is not None else ""
        if is_known_zone(zone):
            user.timezone = zone
        return super().save_user(request, user, form, commit=commit)

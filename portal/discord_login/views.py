"""The OAuth adapter: Discord's authorize, token and profile addresses under DISCORD_API_BASE.

The views answer 404 while no Discord app is configured (DISCORD_CLIENT_ID and
DISCORD_CLIENT_SECRET unset, none in the admin), as if the provider were not installed.
"""

from __future__ import annotations

import functools

from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.providers.discord.views import DiscordOAuth2Adapter
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.conf import settings
from django.http import Http404


class DiscordAdapter(DiscordOAuth2Adapter):
    @property
    def authorize_url(self) -> str:
        return f"{settings.DISCORD_API_BASE}/oauth2/authorize"

    @property
    def access_token_url(self) -> str:
        return f"{settings.DISCORD_API_BASE}/oauth2/token"

    @property
    def profile_url(self) -> str:
        return f"{settings.DISCORD_API_BASE}/users/@me"


def _when_configured(view):
    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        if not get_adapter(request).list_apps(request, provider=DiscordAdapter.provider_id):
            raise Http404("Log in with Discord is not set up.")
        return view(request, *args, **kwargs)

    return guarded


oauth2_login = _when_configured(OAuth2LoginView.adapter_view(DiscordAdapter))
oauth2_callback = _when_configured(OAuth2CallbackView.adapter_view(DiscordAdapter))

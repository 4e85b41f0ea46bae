"""The OAuth adapter: Discord's authorize, token and profile addresses under DISCORD_API_BASE."""

from __future__ import annotations

from allauth.socialaccount.providers.discord.views import DiscordOAuth2Adapter
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.conf import settings


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


oauth2_login = OAuth2LoginView.adapter_view(DiscordAdapter)
oauth2_callback = OAuth2CallbackView.adapter_view(DiscordAdapter)

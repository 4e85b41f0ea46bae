"""The Discord provider allauth registers (id "discord"), with the adapter of views.py."""

from __future__ import annotations

from allauth.socialaccount.providers.discord.provider import DiscordProvider as BaseProvider

from .views import DiscordAdapter


class DiscordProvider(BaseProvider):
    oauth2_adapter_class = DiscordAdapter


provider_classes = [DiscordProvider]

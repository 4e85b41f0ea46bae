from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


class PortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
    verbose_name = "Members"

    def ready(self) -> None:
        post_migrate.connect(site_follows_settings, sender=self)


def site_follows_settings(**kwargs) -> None:
    """The sites framework's row (allauth's emails say "Hello from …" and build links from it)
    follows SITE_NAME and SITE_URL, so no one has to edit it in the admin after a deploy."""
    from django.contrib.sites.models import Site  # models load after the app registry

    Site.objects.update_or_create(
        pk=settings.SITE_ID,
        defaults={"domain": urlsplit(settings.SITE_URL).netloc, "name": settings.SITE_NAME},
    )

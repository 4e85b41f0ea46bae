from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save


class PortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
    verbose_name = "Members"

    def ready(self) -> None:
        from . import auth  # after the app registry: it reaches the auth models

        post_migrate.connect(site_follows_settings, sender=self)
        # The cached member (portal/auth.py) is forgotten when their row or groups change.
        user_model = self.get_model("User")
        post_save.connect(auth.on_user_saved, sender=user_model)
        post_delete.connect(auth.on_user_saved, sender=user_model)
        m2m_changed.connect(auth.on_groups_changed, sender=user_model.groups.through)
        user_logged_in.connect(auth.on_login)


def site_follows_settings(**kwargs) -> None:
    """The sites framework's row (allauth's emails say "Hello from …" and build links from it)
    follows SITE_NAME and SITE_URL, so no one has to edit it in the admin after a deploy."""
    from django.contrib.sites.models import Site  # models load after the app registry

    Site.objects.update_or_create(
        pk=settings.SITE_ID,
        defaults={"domain": urlsplit(settings.SITE_URL).netloc, "name": settings.SITE_NAME},
    )

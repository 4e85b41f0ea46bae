from django.conf import settings


def site(request):
    """Site name and the member's role, for the navigation in base.html."""
    user = getattr(request, "user", None)
    return {
        "SITE_NAME": settings.SITE_NAME,
        "SITE_URL": settings.SITE_URL,
        "user_is_editor": bool(user and user.is_authenticated and user.is_editor),
    }

"""The logged-in member, read from the cache instead of the database on every request.

Django loads the session's user with a query on every request that looks at it, and the
session itself with another. Sessions live in Redis and each process's memory
(portal/sessions.py) and the user here: `CachedAuthenticationMiddleware` takes the member
from this process's copy (kept while the sessions' shared generation is unchanged), then
from the cache, keyed by their id, and falls back to Django's own `get_user` (the
database) on a miss. The check that makes a
password change log out the other sessions stays: a cached member is used only while the
session's auth hash matches theirs. Saving or deleting a member, or changing their groups,
forgets the cached copy at once and again when the change commits (and has every process
drop its own copies), so a password change,
a deactivation or a lost staff flag takes effect on the next request; USER_CACHE_SECONDS
bounds what a change made past the ORM (a queryset `update`) could leave behind.

The member's time zone is kept in their session (`ZONE_SESSION_KEY`), written at login and
whenever their loaded profile says otherwise, so the time-zone middleware needs neither the
user nor a query.
"""

from __future__ import annotations

import logging
import zoneinfo

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from .sessions import copies

logger = logging.getLogger(__name__)

ZONE_SESSION_KEY = "portal_timezone"
# At most this long for a change the signals below did not see.
USER_CACHE_SECONDS = 300


def _user_key(user_id) -> str:
    return f"auth:user:{user_id}"


def cached_user(request: HttpRequest):
    """The session's member, from the cache when its copy still verifies the session."""
    session = request.session
    try:
        user_id = session[SESSION_KEY]
        backend_path = session[BACKEND_SESSION_KEY]
    except KeyError:
        return AnonymousUser()
    session_hash = session.get(HASH_SESSION_KEY)
    user = None
    if backend_path in settings.AUTHENTICATION_BACKENDS:
        user = copies.get(_user_key(user_id)) if copies.current() else None
        if user is None:
            user = cache.get(_user_key(user_id))
            if user is not None:
                copies.put(_user_key(user_id), user, USER_CACHE_SECONDS)
    if user is None or not (
        session_hash and constant_time_compare(session_hash, user.get_session_auth_hash())
    ):
        # Django's own path: loads the member, verifies (or rotates) the session, or logs out.
        user = get_user(request)
        if not user.is_authenticated:
            return user
        user.is_editor  # noqa: B018  (worked out once, kept with the cached copy)
        cache.set(_user_key(user.pk), user, USER_CACHE_SECONDS)
        copies.put(_user_key(user.pk), user, USER_CACHE_SECONDS)
    remember_zone(request, user)
    return user


class CachedAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's authentication middleware, with `request.user` read through the cache."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: cached_user(request))


def remember_zone(request: HttpRequest, user) -> None:
    """Keep the member's time zone in their session (the middleware reads it from there); a
    zone changed elsewhere (another session, the admin) shows from the member's next load."""
    zone = getattr(user, "timezone", "") or "UTC"
    if request.session.get(ZONE_SESSION_KEY) != zone:
        request.session[ZONE_SESSION_KEY] = zone
        try:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()


def on_login(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        remember_zone(request, user)


def forget_user(user_id) -> None:
    """Drop the cached copy now, and again once the change commits (a request between the
    two could have cached the old row)."""
    key = _user_key(user_id)
    _delete(key)
    transaction.on_commit(lambda: _delete(key))


def _delete(key: str) -> None:
    copies.forget(key)
    try:
        cache.delete(key)
    except Exception:  # a cache that raises when down: USER_CACHE_SECONDS retires the copy
        logger.warning("Could not forget the cached member %s.", key)
    copies.changed()  # and every other process's copy


def on_user_saved(sender, instance, **kwargs) -> None:
    forget_user(instance.pk)


def on_groups_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """Group membership makes editors: forget whoever joined or left a group."""
    if not reverse:  # user.groups.add(...): the instance is the member
        if action in ("post_add", "post_remove", "post_clear"):
            forget_user(instance.pk)
    elif action in ("post_add", "post_remove"):  # group.user_set.add(...)
        for user_id in pk_set:
            forget_user(user_id)
    elif action == "pre_clear":  # group.user_set.clear(): who is in it, before they are not
        for user_id in instance.user_set.values_list("pk", flat=True):
            forget_user(user_id)

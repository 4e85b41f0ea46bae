"""Test settings: the real settings with what tests need on top.

DATABASE_URL and REDIS_URL come from the environment as in production, so the
same suite runs on SQLite alone or on PostgreSQL and Redis.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("DEBUG", "false")

from portal.settings import *  # noqa: E402, F403
from portal.settings import REDIS_URL  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECURE_SSL_REDIRECT = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tasks run inline unless a test starts a real worker (tests/workers.py), which
# listens on this run's own queue so parallel runs on one Redis never meet.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("PORTAL_TEST_QUEUE", f"test-{os.getpid()}")
# The local stand-ins for arXiv, GitHub and Discord listen on 127.0.0.1.
FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
# Each test run gets its own cache namespace on a shared Redis.
if REDIS_URL:
    CACHES["default"]["KEY_PREFIX"] = f"test-{os.getpid()}"  # noqa: F405
ACCOUNT_RATE_LIMITS = False

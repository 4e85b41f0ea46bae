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
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("PORTAL_WORKER")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("PORTAL_TEST_QUEUE", f"test-{os.getpid()}")
# No test may reach the real Discord, arXiv or GitHub: without a stand-in (whose URL a test
# sets, or passes to a worker in the environment) requests go to a closed local port.
DISCORD_API_BASE = os.environ.get("DISCORD_API_BASE", "http://127.0.0.1:9/api/v10")
ARXIV_API_BASE = os.environ.get("ARXIV_API_BASE", "http://127.0.0.1:9/arxiv")
GITHUB_API_BASE = os.environ.get("GITHUB_API_BASE", "http://127.0.0.1:9/github")
# The local stand-ins for arXiv, GitHub and Discord listen on 127.0.0.1.
FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
# Each test run gets its own cache namespace on a shared Redis.
if REDIS_URL:
    CACHES["default"]["KEY_PREFIX"] = f"test-{os.getpid()}"  # noqa: F405
ACCOUNT_RATE_LIMITS = False
# The email edition: sends go as fast as the tests want unless a test sets a pace; bounce
# webhooks of two providers (one with basic auth only, one signed) are mounted.
EMAIL_SEND_RATE = float(os.environ.get("EMAIL_SEND_RATE", "1000"))
EMAIL_TRACKING_PROVIDERS = ["postmark", "mailgun"]
ANYMAIL = {
    "WEBHOOK_SECRET": "hooks:test-webhook-secret",
    "MAILGUN_WEBHOOK_SIGNING_KEY": "test-mailgun-signing-key",
}
# Factories change rows without the services that retire cached pages, and the cache outlives
# each test: whole-page caching is off, except in the tests that switch it on.
READER_CACHE_SECONDS = 0
# A real Celery worker (tests/workers.py) runs in its own process: when a test sets this
# variable before starting it, the worker writes its emails as files there for the test to read.
# Or sends them through the local SMTP server a test started (tests/stubs/smtp.py).
if os.environ.get("PORTAL_TEST_EMAIL_URL"):
    vars().update(env.email_url_config(os.environ["PORTAL_TEST_EMAIL_URL"]))  # noqa: F405
if os.environ.get("PORTAL_TEST_EMAIL_DIR"):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ["PORTAL_TEST_EMAIL_DIR"]

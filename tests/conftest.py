"""Shared fixtures, and the skip rules that let `make test` run on what this machine has.

Groups and what they need:
- postgres: DATABASE_URL pointing at PostgreSQL (concurrency, full-text search);
- redis / worker: REDIS_URL (a real Redis; a real Celery worker);
- browser: Chromium at /usr/bin/chromium (Playwright journeys);
- emoji_font: a colour emoji font the cards can draw with (fonts-noto-color-emoji).
"""

import importlib
import os
import shutil

import pytest
from django.conf import settings

from newsletter.cards import emoji_font_file
from portal.celery import app as celery_app
from tests.factories import EditorFactory, UserFactory
from tests.stubs.discord import discord_server  # noqa: F401  (fixture)
from tests.stubs.discord_apps import discord_app, discord_login  # noqa: F401  (fixtures)
from tests.stubs.fixtures import loopback_only, thirdparty_server, thirdparty_settings  # noqa: F401
from tests.stubs.smtp import smtp_server, smtp_settings  # noqa: F401  (fixtures)
from tests.workers import celery_worker, reset_broker  # noqa: F401  (fixture)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _database_vendor() -> str:
    engine = settings.DATABASES["default"]["ENGINE"]
    return "postgresql" if "postgresql" in engine else "sqlite"


SKIP_REASONS = {
    "postgres": None if _database_vendor() == "postgresql" else "DATABASE_URL is not PostgreSQL",
    "redis": None if settings.REDIS_URL else "REDIS_URL is not set",
    "worker": (
        None
        if settings.REDIS_URL and _database_vendor() == "postgresql"
        else "a real worker needs REDIS_URL and PostgreSQL (to share the test database)"
    ),
    "browser": None if shutil.which(CHROMIUM) else f"Chromium not found at {CHROMIUM}",
    "emoji_font": (
        None
        if emoji_font_file()
        else "no colour emoji font was found (install the Debian package fonts-noto-color-emoji)"
    ),
}
_skipped_groups: dict[str, int] = {}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for group, reason in SKIP_REASONS.items():
            if reason and item.get_closest_marker(group):
                item.add_marker(pytest.mark.skip(reason=f"[{group}] {reason}"))
                _skipped_groups[group] = _skipped_groups.get(group, 0) + 1
                break


def pytest_report_header(config):
    vendor = _database_vendor()
    return [
        f"portal: database={vendor}, redis={'yes' if settings.REDIS_URL else 'no'}, "
        f"chromium={'yes' if shutil.which(CHROMIUM) else 'no'}"
    ]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _skipped_groups:
        terminalreporter.section("skipped groups")
        for group, count in sorted(_skipped_groups.items()):
            terminalreporter.write_line(
                f"{group}: {count} tests skipped because {SKIP_REASONS[group]}"
            )


def _needs_database(request) -> str | None:
    """Which database fixture a test uses: "db", "transactional_db" or None."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        names & {"transactional_db", "live_server"}
    )
    if transactional:
        return "transactional_db"
    if marker or "db" in names:
        return "db"
    return None


@pytest.fixture(autouse=True)
def _data_migration_rows(request):
    """Restore what data migrations create (the Editors group, the default sections).

    A transactional test flushes every table when it ends, taking those rows with
    it; the tests after it must still find them, as a real database would have them.
    """
    database = _needs_database(request)
    if database is None:
        return
    request.getfixturevalue(database)
    from django.apps import apps

    editors_and_sections = importlib.import_module(
        "newsletter.migrations.0003_editors_and_sections"
    )
    editors_and_sections.create(apps, None)
    publishing = importlib.import_module("newsletter.migrations.0004_issue_publishing_and_search")
    publishing.compact_spotlights(apps, None)
    email_list = importlib.import_module("newsletter.migrations.0010_subscribers_and_email_sends")
    email_list.grant(apps, None)


@pytest.fixture(autouse=True)
def _celery_back_to_defaults():
    """Whatever a test did to the Celery app (a broker of its own, tasks sent to a worker),
    the next test starts with tasks run inline on the configured broker."""
    yield
    celery_app.conf.task_always_eager = True
    if celery_app.conf.broker_url != settings.CELERY_BROKER_URL:
        reset_broker()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the whole run, driven by Playwright's sync API.

    Playwright runs an event loop in this thread, so there must be only one instance; Django's
    ORM then refuses to run in the thread unless told the loop is deliberate.
    """
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def member(db):
    return UserFactory()


@pytest.fixture
def other_member(db):
    return UserFactory()


@pytest.fixture
def editor(db):
    return EditorFactory()


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def redis_down(settings):
    """Production's cache backend (portal/cache.py) on a port where no Redis listens."""
    settings.CACHES = {
        "default": {
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Each test starts with no rate-limit counters. Ids repeat across tests on SQLite, and the
    counters (keyed by member id) outlive a test in the cache."""
    from django.core.cache import cache

    from portal.cache import _local_limits

    if hasattr(cache, "delete_pattern"):  # Redis: only this run's keys (its own KEY_PREFIX)
        cache.delete_pattern("ratelimit:*")
        cache.delete_pattern("allauth:rl:*")
    else:  # local memory: this process's own
        cache.clear()
    _local_limits.cache.clear()

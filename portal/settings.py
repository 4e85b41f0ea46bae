"""Settings for the community portal, read from the environment.

Every variable is documented in `.env.example`. Defaults are for a developer's
machine (SQLite, tasks run inline); production sets DEBUG off, SECRET_KEY,
DATABASE_URL and REDIS_URL.
"""

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (see .env.example); "
            "only DEBUG=true runs without one."
        )
    # Reviewed: a fixed key only with DEBUG on, on a developer's machine; production refuses
    # to start without its own key (above).
    SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SITE_NAME = env.str("SITE_NAME", default="ML Efficiency Community")
# The colour emoji font of the og:image cards (newsletter/cards.py); empty: no emoji, words only.
CARD_EMOJI_FONT = env.str(
    "CARD_EMOJI_FONT", default="/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
)
SITE_ID = 1

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.sitemaps",
    "django.contrib.postgres",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "markdownx",
    "anymail",
    "portal",
    "newsletter",
    "events",
]

MIDDLEWARE = [
    "portal.db.RequestDeadlineMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the member read from the cache (portal/auth.py).
    "portal.auth.CachedAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.UserTimezoneMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.site",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A stalled database must not hang a request: give up connecting after a few seconds,
    # stop any statement after DATABASE_STATEMENT_TIMEOUT (0 turns it off, e.g. for a long
    # migration), and notice a dead peer through TCP keepalives. A frozen server (its kernel
    # still answers) is covered by portal.db's per-request deadline.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=5),
            "options": "-c statement_timeout="
            + str(int(env.float("DATABASE_STATEMENT_TIMEOUT", default=30) * 1000)),
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
            # Django's cursors bind parameters on the client and never prepare; this lets
            # the server-binding cursor of portal.db.prepared_cursor (search) prepare its
            # statements (psycopg prepares nothing while it is None, Django's default).
            "prepare_threshold": 5,
        }
    )
# Seconds of database time a web request may take before its query is cut off (portal/db.py).
DATABASE_REQUEST_TIMEOUT = env.float("DATABASE_REQUEST_TIMEOUT", default=8)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "portal.User"
# Sessions are read from each process's copy, then the cache (Redis), written to both; a
# down Redis reads as a miss and the database answers (portal/sessions.py). With the member cached too (portal/auth.py), a request that
# needs neither the member's rows nor the page's makes no query.
SESSION_ENGINE = "portal.sessions"

# --- Redis: Celery broker and cache when REDIS_URL is set ----------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            # django-redis, except that Redis being down reads as an empty cache (pages
            # still render) instead of an error on every page (portal/cache.py).
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="portal"),
            "TIMEOUT": 300,
            # A Redis that hangs costs a request one second at most, not a worker.
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "portal",
        }
    }
# While Redis is unreachable, django-redis answers reads with a miss and drops writes instead
# of raising, and logs each call it answered so (throttled in LOGGING below).
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# Whole reader pages (archive, issues, feeds, events, home) kept for anonymous visitors, in
# seconds at most; publishing, corrections and event changes retire them at once
# (portal/pagecache.py). 0 turns it off.
READER_CACHE_SECONDS = env.int("READER_CACHE_SECONDS", default=600)

# --- Celery ---------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL  # no broker: run tasks inline
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A message unacknowledged for this long is redelivered to another worker
# (acks_late tasks); it must exceed the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 15 * 60}
# Periodic jobs: declared here, in one place. Each entry says when and why.
CELERY_BEAT_SCHEDULE = {
    # Publish issues whose scheduled time has come; a minute is the promised granularity.
    "publish-scheduled-issues": {
        "task": "newsletter.publish_due_issues",
        "schedule": timedelta(minutes=1),
    },
    # Re-queue Discord deliveries a killed worker or a down broker left pending. Often, so that
    # delivery goes on within half a minute of the worker or the broker coming back (a killed
    # run's lease lasts DISCORD_DELIVERY_LEASE); a sweep with nothing to do is one query.
    "sweep-stalled-deliveries": {
        "task": "newsletter.sweep_deliveries",
        "schedule": timedelta(seconds=5),
    },
    # Queue again submitters' emails and metadata fetches that a down broker left behind.
    "sweep-submission-followups": {
        "task": "newsletter.sweep_followups",
        "schedule": timedelta(minutes=5),
    },
    # Finish the email edition: queue again the sends a killed worker or a down broker left,
    # mark what a dead worker handed over unanswered, resend lost confirmation emails.
    "sweep-email-sends": {
        "task": "newsletter.sweep_email",
        "schedule": timedelta(minutes=1),
    },
    # Post event reminders (lead times in EVENT_REMINDER_LEADS) once each.
    "send-event-reminders": {
        "task": "events.send_due_reminders",
        "schedule": timedelta(minutes=1),
    },
}

# --- Passwords and accounts ---------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
# Links in allauth's emails use the site's own scheme (http for `make run`, https in production).
ACCOUNT_DEFAULT_HTTP_PROTOCOL = urlsplit(SITE_URL).scheme or "https"
ACCOUNT_ADAPTER = "portal.adapters.AccountAdapter"
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "10/h/ip",
    "reset_password": "20/h/ip,5/h/key",
    "reset_password_from_key": "20/h/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
}
# Rate limits count per client address. Behind reverse proxies (production: TLS ends at the
# proxy) set how many proxies of ours add to X-Forwarded-For, else every visitor shares the
# proxy's address and its limits. 0 trusts no header (a visitor could forge it).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_PROVIDERS: dict = {}
# "Log in with Discord/GitHub" exists only when its client id and secret are set.
# Discord's login is our subclass of allauth's provider (portal/discord_login/): its OAuth
# addresses follow DISCORD_API_BASE, so tests reach a local stand-in. Installed always; not
# listed, and its pages 404, until its client id and secret are set.
INSTALLED_APPS.append("portal.discord_login")
for _provider in ("discord", "github"):
    _client_id = env.str(f"{_provider.upper()}_CLIENT_ID", default="")
    _secret = env.str(f"{_provider.upper()}_CLIENT_SECRET", default="")
    if _client_id and _secret:
        if _provider != "discord":
            INSTALLED_APPS.append(f"allauth.socialaccount.providers.{_provider}")
        SOCIALACCOUNT_PROVIDERS[_provider] = {
            "APP": {"client_id": _client_id, "secret": _secret, "key": ""},
            "SCOPE": ["identify", "email"] if _provider == "discord" else ["user:email"],
        }

# --- Email ------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="newsletter@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# A provider with an API instead of SMTP, through django-anymail, by configuration alone:
# EMAIL_BACKEND=anymail.backends.postmark.EmailBackend (amazon_ses, mailgun, sendgrid, …) and
# the provider's ANYMAIL_* variables (ANYMAIL_POSTMARK_SERVER_TOKEN=…), which become the
# ANYMAIL setting without their prefix. ANYMAIL_WEBHOOK_SECRET=user:password guards the
# tracking webhooks at /email/webhooks/<provider>/tracking/ (bounces and complaints).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=EMAIL_CONFIG["EMAIL_BACKEND"])
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value
    for name, value in os.environ.items()
    if name.startswith("ANYMAIL_")
}
_anymail_provider = re.fullmatch(r"anymail\.backends\.(\w+)\.EmailBackend", EMAIL_BACKEND)
EMAIL_TRACKING_PROVIDERS = env.list(
    "EMAIL_TRACKING_PROVIDERS", default=[_anymail_provider[1]] if _anymail_provider else []
)
# Seconds to wait for the mail server or provider before giving up on a message.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30)

# --- Internationalisation -----------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Markdown (django-markdownx) -------------------------------------------------
# markdownx gives the editor and its live preview; the preview is our own view
# (`portal.views.markdown_preview`), and should markdownx's own ever be wired, it renders
# with our sanitising renderer all the same. Image upload is off: no URL, and the editor
# (`portal.forms.MarkdownEditor`) neither names one nor sends dropped or pasted files.
MARKDOWNX_MARKDOWNIFY_FUNCTION = "portal.markdown.markdownify"
MARKDOWNX_SERVER_CALL_LATENCY = 400
# Previews a member may ask for in a minute; markdownx asks once a pause in typing.
MARKDOWN_PREVIEWS_PER_MINUTE = 60

# --- Security ---------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe the health check over plain HTTP on the private network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "https:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF, "https://discord.com", "https://github.com"],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

# --- Logging ----------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "filters": {"once_per_minute": {"()": "portal.cache.OncePerMinute"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # While Redis is down django-redis logs every cache call; once a minute says as much.
        "django_redis.cache": {"filters": ["once_per_minute"]},
        # Full request URLs can carry secrets (webhook tokens); keep them at WARNING.
        "urllib3": {"level": "WARNING"},
    },
}

# --- Outside services (base URLs so tests can point at local stand-ins) ----------
ARXIV_API_BASE = env.str("ARXIV_API_BASE", default="https://export.arxiv.org/api").rstrip("/")
GITHUB_API_BASE = env.str("GITHUB_API_BASE", default="https://api.github.com").rstrip("/")
DISCORD_API_BASE = env.str("DISCORD_API_BASE", default="https://discord.com/api/v10").rstrip("/")
# Discord interactions (/share, "Suggest for the newsletter", /review): off, and
# /discord/interactions/ answers 404, until the application id, its public key and the
# community's server id are set. The bot token is used only by `manage.py discord_commands`.
DISCORD_APPLICATION_ID = env.str("DISCORD_APPLICATION_ID", default="")
DISCORD_PUBLIC_KEY = env.str("DISCORD_PUBLIC_KEY", default="")
DISCORD_BOT_TOKEN = env.str("DISCORD_BOT_TOKEN", default="")
DISCORD_GUILD_ID = env.str("DISCORD_GUILD_ID", default="")
# "Log in with Discord" posts a form that redirects to Discord's OAuth page on this host.
_discord_origin = "{0.scheme}://{0.netloc}".format(urlsplit(DISCORD_API_BASE))
if _discord_origin not in CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"]:
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(_discord_origin)
# Hosts that outgoing fetches may reach although they resolve to private addresses.
# Optional: raises GitHub's API limit from 60 to 5,000 requests an hour.
GITHUB_API_TOKEN = env.str("GITHUB_API_TOKEN", default="")
FETCH_ALLOWED_HOSTS = env.list("FETCH_ALLOWED_HOSTS", default=[])
FETCH_TIMEOUT = env.float("FETCH_TIMEOUT", default=5.0)
FETCH_MAX_BYTES = env.int("FETCH_MAX_BYTES", default=1_000_000)
FETCH_MAX_REDIRECTS = 3
FETCH_USER_AGENT = f"{SITE_NAME} newsletter portal (+{SITE_URL})"

# --- Newsletter rules ---------------------------------------------------------------
NEWSLETTER_SUBMISSIONS_PER_DAY = env.int("NEWSLETTER_SUBMISSIONS_PER_DAY", default=10)
NEWSLETTER_VOTES_TO_ACCEPT = env.int("NEWSLETTER_VOTES_TO_ACCEPT", default=2)
NEWSLETTER_BLIND_REVIEW = env.bool("NEWSLETTER_BLIND_REVIEW", default=True)
NEWSLETTER_EVENTS_WEEKS = env.int("NEWSLETTER_EVENTS_WEEKS", default=6)
# The composer lists the pool of accepted submissions this many to a page (an issue's worth on
# one page; a larger pool in pages, with a search box).
NEWSLETTER_POOL_PAGE_SIZE = env.int("NEWSLETTER_POOL_PAGE_SIZE", default=500)
# Search ranks and counts only this many matching items, the most recently placed, looked for
# first among the newest NEWSLETTER_SEARCH_RECENT_ITEMS items (newsletter/search.py): what a
# search costs stays bounded however large the archive grows.
NEWSLETTER_SEARCH_CANDIDATES = 100
NEWSLETTER_SEARCH_RECENT_ITEMS = 10_000
# Each web process keeps an index of the published items' words in memory, which finds a
# search's newest matches (newsletter/search_index.py; about 4 bytes a word of an item, built
# again after each change to the published items). Off: PostgreSQL's GIN index finds them.
NEWSLETTER_SEARCH_INDEX = env.bool("NEWSLETTER_SEARCH_INDEX", default=True)
# Emails and metadata fetches still not done this many seconds after they were due are queued
# again by the sweeper (they were lost while the broker was down).
NEWSLETTER_SWEEP_AFTER = env.int("NEWSLETTER_SWEEP_AFTER", default=600)
DISCORD_MESSAGE_LIMIT = env.int("DISCORD_MESSAGE_LIMIT", default=2000)
# Discord delivery: seconds to wait for an answer; temporary failures (timeouts, 5xx, 429)
# retried with waits of BACKOFF × 2^n seconds (inline: RETRY_LIMIT per run, then the sweeper);
# a message that has had MAX_ATTEMPTS requests fails for good. A sending run holds its delivery
# for LEASE seconds at a time, renewed between requests (at least one request long: connecting
# takes up to 5 s, the answer HTTP_TIMEOUT); deliveries left pending or half-sent, with no live
# lease, for SWEEP_AFTER seconds are queued again by the sweeper (every 5 s, see above). So a
# killed worker's delivery goes on within LEASE + 5 s.
DISCORD_HTTP_TIMEOUT = env.float("DISCORD_HTTP_TIMEOUT", default=10.0)
DISCORD_RETRY_LIMIT = env.int("DISCORD_RETRY_LIMIT", default=5)
DISCORD_RETRY_BACKOFF = env.float("DISCORD_RETRY_BACKOFF", default=1.0)
DISCORD_MAX_ATTEMPTS = env.int("DISCORD_MAX_ATTEMPTS", default=20)
DISCORD_SWEEP_AFTER = env.int("DISCORD_SWEEP_AFTER", default=15)
DISCORD_DELIVERY_LEASE = env.int("DISCORD_DELIVERY_LEASE", default=20)
EVENT_REMINDER_LEADS = env.list("EVENT_REMINDER_LEADS", cast=int, default=[24 * 60, 60])

# The email edition (newsletter/services/email_delivery.py): messages per second for all
# workers together (the provider's sending rate); rows claimed per run; runs sending one issue
# at once; seconds after which a run hands its worker process back and queues its sequel.
EMAIL_SEND_RATE = env.float("EMAIL_SEND_RATE", default=10.0)
EMAIL_BATCH_SIZE = env.int("EMAIL_BATCH_SIZE", default=200)
EMAIL_SEND_LANES = env.int("EMAIL_SEND_LANES", default=2)
EMAIL_RUN_SECONDS = env.float("EMAIL_RUN_SECONDS", default=60.0)
# A refused-for-now answer (4xx) or a mail server out of reach is tried again after BACKOFF
# seconds, doubling per attempt up to an hour; MAX_ATTEMPTS refusals fail the send for good.
EMAIL_RETRY_BACKOFF = env.float("EMAIL_RETRY_BACKOFF", default=60.0)
EMAIL_MAX_ATTEMPTS = env.int("EMAIL_MAX_ATTEMPTS", default=5)
# Sends left waiting this many seconds are queued again; a run holds its rows LEASE seconds.
EMAIL_SWEEP_AFTER = env.int("EMAIL_SWEEP_AFTER", default=300)
EMAIL_LEASE = env.int("EMAIL_LEASE", default=120)
# Days a confirmation link works; soft bounces in a row that suspend an address; subscribe
# requests per client address and hour; open and click tracking at providers that offer it.
EMAIL_CONFIRM_DAYS = env.int("EMAIL_CONFIRM_DAYS", default=7)
EMAIL_SOFT_BOUNCE_LIMIT = env.int("EMAIL_SOFT_BOUNCE_LIMIT", default=3)
EMAIL_SUBSCRIBES_PER_HOUR = env.int("EMAIL_SUBSCRIBES_PER_HOUR", default=20)
EMAIL_TRACKING = env.bool("EMAIL_TRACKING", default=False)

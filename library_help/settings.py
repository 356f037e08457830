"""Settings for Library Help, read from the environment (and an optional .env file).

Production is switched on by DEBUG=false; there is no second settings tree.
"""

import ipaddress
import sys
from pathlib import Path

import environ

from library_help.sso.config import providers_from_env

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env(
    "SECRET_KEY",
    default="dev-only-insecure-key-change-me" if DEBUG else environ.Env.NOTSET,
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "crispy_forms",
    "crispy_bootstrap5",
    "patrons",
    "appointments",
    "library_help.sso",
]

MIDDLEWARE = [
    "library_help.health.answer_health_checks",
    # Every page's security headers, the error pages' too: a request refused early (a host
    # name not in ALLOWED_HOSTS) never reaches the middleware further down.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "library_help.middleware.content_security_policy",
    "django.middleware.security.SecurityMiddleware",
    # Static files under gunicorn, before anything that would touch the session or database.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "library_help.urls"
WSGI_APPLICATION = "library_help.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # A library can replace any page's text (the privacy page, say) with its own templates
        # in LIBRARY_TEMPLATES_DIR, which is searched first.
        "DIRS": [*env.list("LIBRARY_TEMPLATES_DIR", default=[]), BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "appointments.context_processors.library",
            ],
        },
    },
]

# PostgreSQL only. `make run` / `make test` point DATABASE_URL at the project's own cluster
# when it is unset; anything else must say where its PostgreSQL is.
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Lets two test runs on one server use separate test databases.
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default=None)}
# In production each web process keeps its connection for a minute (a new one costs about
# 2.5 ms a request); the health checks below make that safe across database restarts. Budget:
# gunicorn workers on every server, plus one worker and one purge, under max_connections.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0 if DEBUG else 60)
# A kept connection that died with a database restart is noticed and replaced before the
# request uses it, instead of failing that request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Form choices iterate their querysets; a server-side cursor costs three round trips
# (DECLARE, FETCH, CLOSE) for a list of a few branches or staff, and breaks behind a
# transaction-pooling PgBouncer.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# A database that vanished (a lost server, a cut network) is noticed within about a minute, not
# after TCP's two hours. Settings in DATABASE_URL's query string win.
for _option, _value in {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}.items():
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(_option, _value)
# Time limits, so that a web request stuck behind a lock (a long migration, a VACUUM FULL, a
# transaction left open) fails by itself, with the app's own translated error page, well before
# gunicorn's timeout (GUNICORN_TIMEOUT, 30 s) kills its worker and answers with a bare English
# page. A statement may run at most DATABASE_STATEMENT_TIMEOUT_SECONDS, and waits at most
# LOCK_TIMEOUT_SECONDS for a lock, so a request that meets two stuck locks still fails in time.
DATABASE_STATEMENT_TIMEOUT_SECONDS = env.int("DATABASE_STATEMENT_TIMEOUT_SECONDS", default=20)
# The longest a web request waits for any lock, and the longest a booking or the purge waits
# for the locks it takes on purpose (appointments/locks.py) before giving up ("please try
# again").
LOCK_TIMEOUT_SECONDS = env.int("LOCK_TIMEOUT_SECONDS", default=10)
# Per process: the web (gunicorn, runserver, the tests' client) has the limits; manage.py's
# commands (migrate, the message worker, the purge, seed_demo, shell) do not. Nobody waits on a
# page for them and no gunicorn stops them: a migration that builds an index or a first purge
# of a big library may rightly take minutes, and a worker behind a lock should carry on when it
# is freed, not fail. Their own locks still wait at most LOCK_TIMEOUT_SECONDS.
WEB_PROCESS = Path(sys.argv[0]).name != "manage.py" or sys.argv[1:2] == ["runserver"]
if WEB_PROCESS:
    # Sent when connecting (libpq's "options"): no extra query. 0 turns a limit off; one set in
    # DATABASE_URL's query string (?options=-c statement_timeout=5s) wins.
    _options = DATABASES["default"]["OPTIONS"].get("options", "")
    for _name, _seconds in {
        "statement_timeout": DATABASE_STATEMENT_TIMEOUT_SECONDS,
        "lock_timeout": LOCK_TIMEOUT_SECONDS,
    }.items():
        if _name not in _options:
            _options = f"{_options} -c {_name}={_seconds}s".strip()
    DATABASES["default"]["OPTIONS"]["options"] = _options
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise environ.ImproperlyConfigured("Library Help runs on PostgreSQL only (DATABASE_URL).")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# Each language is named in itself, as the switcher shows it.
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Stored times are always UTC; each branch shows and computes times in its own zone.
TIME_ZONE = env("TIME_ZONE", default="America/Chicago")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# STATIC_ROOT and STORAGES: see "Serving in production" below.

LOGIN_URL = "admin:login"

# A cache every process shares: the rate limits count here. PostgreSQL by default (no extra
# service to run); set CACHE_URL=redis://... where Redis is available.
CACHES = {"default": env.cache_url("CACHE_URL", default="dbcache://library_help_cache")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache":
    # One statement a write or increment, no table count on each (library_help/cache.py).
    CACHES["default"]["BACKEND"] = "library_help.cache.DatabaseCache"
# With a real shared cache (Redis), sessions are read from it and written through to the
# database; with the database cache, straight from the database (one query, not two).
if not CACHES["default"]["BACKEND"].endswith("DatabaseCache"):
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    SESSION_ENGINE = "library_help.sessions"  # Saved with one UPDATE, no savepoint.

# Staff login: after 5 wrong passwords for one username from one address, wait 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "lockout.html"
AXES_ENABLE_ADMIN = True

# --- Staff single sign-on (docs/single-sign-on.md) ---------------------------------------------
# Off unless a provider is configured: SSO_ENTRA_*, SSO_GOOGLE_*, SSO_OKTA_* or SSO_PROVIDERS.
# Local accounts and their passwords keep working beside it.
# Every provider must be on https (manage.py check says so).
SSO_PROVIDERS = providers_from_env(env)

# Public forms are limited per client address (see "Behind a reverse proxy" below). A library's
# public computers and Wi-Fi usually reach the site from one address, so these count a building.
RATELIMIT_VIEW = "appointments.views.rate_limited"
# Form posts on the public booking pages, all together: generous, for a busy computer lab
# (a booking takes three or four posts, more with a wrong entry).
RATELIMIT_BOOKING = env("RATELIMIT_BOOKING", default="600/h")
# Sessions booked online (completed bookings), per address: enough for a class booking together,
# too few to fill a topic's calendar under made-up names. The desk is never limited.
RATELIMIT_ONLINE_BOOKINGS = env("RATELIMIT_ONLINE_BOOKINGS", default="10/h")
# Visits to private links, each page counted apart.
RATELIMIT_LOOKUP = env("RATELIMIT_LOOKUP", default="60/m")

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Library Help <help@library.example>")
# Only the message worker talks to the mail server; a server that never answers costs it this
# many seconds per try, then the message waits for its next try.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# Overrides the built-in policy (library_help/middleware.py) when set.
CONTENT_SECURITY_POLICY = env("CONTENT_SECURITY_POLICY", default="")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 12
# Library computers are shared: sign-ins and unfinished bookings end with the browser.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# The language chosen is kept as long as the browser stays open, too (Django's default: no age).
LANGUAGE_COOKIE_AGE = None
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    # Only a benchmark on plain http over loopback turns these off (SECURE_COOKIES=false).
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    # Whether a request came over https is gunicorn's to say (wsgi.url_scheme): it believes
    # X-Forwarded-Proto only from FORWARDED_ALLOW_IPS (scripts/serve), our own proxy. Django's
    # SECURE_PROXY_SSL_HEADER would believe it from anyone, so it is not set.
    # Load balancers and uptime checks often ask over plain http.
    SECURE_REDIRECT_EXEMPT = [r"^healthz"]

# --- Behind a reverse proxy -------------------------------------------------------------------
# Whose address a request comes from decides whose rate limit it counts against and whose staff
# sign-in pauses after wrong passwords; both ask library_help/client_address.py.
# TRUSTED_PROXY_COUNT: how many proxies of the library's own (load balancer, nginx, CDN) every
# request passes through, each adding to X-Forwarded-For. 0, the default: none; the connection's
# own address counts and the header is ignored. 1: the header's last entry, added by our proxy;
# 2: the one before it; and so on. Entries further left are whatever the client sent and are
# never believed. Set it only if the app cannot be reached except through those proxies.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# TRUSTED_PROXIES: instead of a count, the proxies' addresses or networks, comma-separated
# ("10.0.0.5,10.1.0.0/16"). The header is then read only on requests from one of them, from the
# right, skipping entries that are proxies of ours too; the first other address is the client.
# For when the app can also be reached directly, or the number of proxies varies.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Malformed or missing entries fall back to the connection's address; IPv6 counts by /64.
RATELIMIT_IP_META_KEY = "library_help.client_address.client_address"
AXES_CLIENT_IP_CALLABLE = "library_help.client_address.client_address"
if TRUSTED_PROXY_COUNT < 0 or (TRUSTED_PROXY_COUNT and TRUSTED_PROXIES):
    raise environ.ImproperlyConfigured(
        "Set TRUSTED_PROXY_COUNT (0 or more) or TRUSTED_PROXIES, not both."
    )
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy.strip(), strict=False)
    except ValueError:
        raise environ.ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an address or network."
        ) from None
if env("RATELIMIT_IP_META_KEY", default=""):
    raise environ.ImproperlyConfigured(
        "RATELIMIT_IP_META_KEY is no longer read: set TRUSTED_PROXY_COUNT to the number of "
        "proxies in front of the app (1 for a single nginx), or TRUSTED_PROXIES."
    )

# --- Serving in production ------------------------------------------------------------------
# gunicorn serves the static files itself through whitenoise: no web server setup is needed.
# `collectstatic` copies them to STATIC_ROOT; with DEBUG=false their names carry a hash of
# their content (so browsers may keep them forever) and a gzip copy is made of each.
# Development and the test suite (DEBUG left true) use the files where they are.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "library_help.static_files.StaticFiles"
    },
}
# Decided by the DEBUG of the environment, not the one the test runner turns off: in
# development whitenoise looks files up as they change; in production it reads STATIC_ROOT once.
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG

# --- The library and its booking rules -------------------------------------------------------
LIBRARY_NAME = env("LIBRARY_NAME", default="Library Help")
LIBRARY_PHONE = env("LIBRARY_PHONE", default="312-555-0100")
# Used to build absolute links in messages (the patron's private link).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# Patrons cannot book closer to the start than this.
BOOKING_MIN_NOTICE_HOURS = env.int("BOOKING_MIN_NOTICE_HOURS", default=2)
# How far ahead patrons may book.
BOOKING_WINDOW_DAYS = env.int("BOOKING_WINDOW_DAYS", default=60)
# At most this many upcoming sessions per patron; the desk can override with a reason.
BOOKING_MAX_UPCOMING = env.int("BOOKING_MAX_UPCOMING", default=2)
# Patrons may cancel through their link until this many hours before (topics can differ).
CANCEL_CUTOFF_HOURS = env.int("CANCEL_CUTOFF_HOURS", default=2)
# At most this many sessions per patron on one day, and in one week (Monday to Sunday).
BOOKING_MAX_PER_DAY = env.int("BOOKING_MAX_PER_DAY", default=1)
BOOKING_MAX_PER_WEEK = env.int("BOOKING_MAX_PER_WEEK", default=2)
# After this many missed sessions within NO_SHOW_PERIOD_DAYS, online booking pauses for
# NO_SHOW_PAUSE_DAYS (the patron is asked, kindly, to call or visit the desk).
NO_SHOW_LIMIT = env.int("NO_SHOW_LIMIT", default=2)
NO_SHOW_PERIOD_DAYS = env.int("NO_SHOW_PERIOD_DAYS", default=90)
NO_SHOW_PAUSE_DAYS = env.int("NO_SHOW_PAUSE_DAYS", default=30)
# WAITLIST_HOLD_HOURS is retired: a fixed number of hours let an evening offer expire
# overnight. A time offered to someone on the waiting list is now held until the branch closes
# on its next open day (from its staff's weekly hours and its closures, on the branch's clock),
# never past the start of the time offered (appointments/waitlist.py, `hold_until`).
# Open times are offered on this grid (minutes past the start of the availability).
SLOT_STEP_MINUTES = env.int("SLOT_STEP_MINUTES", default=30)
# LOCK_TIMEOUT_SECONDS: see the database's time limits, at the top.
# A patron's private link stops working this many days after the session.
PATRON_LINK_DAYS_AFTER = env.int("PATRON_LINK_DAYS_AFTER", default=30)

# --- Health and errors ---------------------------------------------------------------------
# /healthz answers 503 when a message has been due for longer than this: the worker stopped.
HEALTH_MESSAGE_DELAY_MINUTES = env.int("HEALTH_MESSAGE_DELAY_MINUTES", default=10)
# Server errors are mailed to these addresses ("Name <address>" or just the address), from
# SERVER_EMAIL, by a thread: the error page never waits for the mail server.
ADMINS = [("", address) for address in env.list("ADMINS", default=[])]
SERVER_EMAIL = env("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# Each kind of error (its type and the line it happened at) is mailed at most once in this many
# minutes, counted in the shared cache by every process: a database outage is one mail, not one
# per failed page. Every occurrence is still logged. 0: mail every one.
ERROR_MAIL_INTERVAL_MINUTES = env.float("ERROR_MAIL_INTERVAL_MINUTES", default=5)
# Optional error tracking (pip install '.[sentry]'). Patron data is scrubbed before anything
# leaves: see library_help/errors.py.
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from library_help.errors import start_sentry

    start_sentry(SENTRY_DSN, environment=env("SENTRY_ENVIRONMENT", default="production"))

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
DEFAULT_EXCEPTION_REPORTER = "library_help.errors.PrivateReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "library_help.errors.PrivateReporterFilter"

# --- Phone numbers ---------------------------------------------------------------------------
# Patron numbers typed without a country code (+) are read as numbers of this region (a
# two-letter code: "US", "CA", "GB"...). They are stored in E.164 ("+13125550142") and shown
# in this region's national format ("(312) 555-0142"); numbers from abroad in international
# format. LIBRARY_PHONE above is only shown, never read, and stays as written.
PHONE_REGION = env("PHONE_REGION", default="US").upper()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        "hide_private_paths": {"()": "library_help.errors.HidePrivatePaths"},
        "refused_request_as_warning": {"()": "library_help.errors.RefusedRequestAsWarning"},
    },
    "handlers": {
        # Django's own lines ("Not Found: /booking/...") would spell out private links.
        "console": {"class": "logging.StreamHandler", "filters": ["hide_private_paths"]},
        "refused_requests": {
            "class": "logging.StreamHandler",
            "filters": ["hide_private_paths", "refused_request_as_warning"],
        },
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false", "hide_private_paths"],
            "class": "library_help.errors.AdminEmailInBackground",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Replaces Django's own "django" logger setup: errors are mailed (cleaned), and printed
        # once, by the root logger.
        "django": {"handlers": ["mail_admins"], "level": LOG_LEVEL},
        # Requests Django refuses as suspicious (a 3 MB form, 2,000 fields, a host name not
        # ours, a bad CSRF token): anyone can send them, so they are noted at WARNING, never
        # mailed.
        "django.security": {"handlers": ["refused_requests"], "propagate": False},
        # The message worker's own errors reach staff too.
        "appointments": {"handlers": ["mail_admins"], "level": LOG_LEVEL},
        # So does a sign-in provider that stopped working (an expired client secret).
        "library_help.sso": {"handlers": ["mail_admins"], "level": LOG_LEVEL},
        # django-axes logs every sign-in at INFO; failures still show as warnings.
        "axes": {"level": "WARNING"},
    },
}

# --- Messages to patrons and staff -----------------------------------------------------------
# Reminders go out this many hours before a session (by the patron's preferred channel).
REMINDER_HOURS_BEFORE = env.int("REMINDER_HOURS_BEFORE", default=24)
# The follow-up ("did it help?") goes out this many hours after an attended session ends.
FOLLOW_UP_HOURS_AFTER = env.int("FOLLOW_UP_HOURS_AFTER", default=3)
# A message that fails is tried this many times in all, then shown to staff as failed.
MESSAGE_MAX_ATTEMPTS = env.int("MESSAGE_MAX_ATTEMPTS", default=4)
# Text messages: the console backend prints them; set TEXT_BACKEND to the Twilio backend and
# install the "twilio" extra (pip install '.[twilio]') to send real ones.
TEXT_BACKEND = env("TEXT_BACKEND", default="appointments.texting.ConsoleTextBackend")
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER", default="")
# The longest the worker waits for the text provider to answer one message.
TEXT_TIMEOUT_SECONDS = env.int("TEXT_TIMEOUT_SECONDS", default=10)

# --- Privacy: how long patron data is kept (shown on the privacy page) ------------------------
# After this many days, a session keeps only what statistics need; the patron link and all
# free text are removed, and patrons with nothing left are deleted.
PATRON_DATA_RETENTION_DAYS = env.int("PATRON_DATA_RETENTION_DAYS", default=90)
# The record of messages sent (who, what, when) is deleted after this many days.
MESSAGE_RETENTION_DAYS = env.int("MESSAGE_RETENTION_DAYS", default=90)
# Comments left in the follow-up are deleted after this many days (the 1-to-5 score stays).
FEEDBACK_COMMENT_RETENTION_DAYS = env.int("FEEDBACK_COMMENT_RETENTION_DAYS", default=180)
# Records of staff looking at patron details are deleted after this many days.
ACCESS_LOG_RETENTION_DAYS = env.int("ACCESS_LOG_RETENTION_DAYS", default=365)
# How long the library keeps database backups (docs/deployment.md): what the purge removes is
# gone from the backups this many days later. Shown on the privacy page; set it to what your
# backups really do.
BACKUP_RETENTION_DAYS = env.int("BACKUP_RETENTION_DAYS", default=30)
AXES_VERBOSE = False  # no start-up banner on every command

# Busy times from each staff member's published Outlook or Google calendar
# (appointments/calendar_feeds.py): how often the worker reads every feed, and its limits.
CALENDAR_REFRESH_MINUTES = env.int("CALENDAR_REFRESH_MINUTES", default=5)
CALENDAR_FEED_MAX_BYTES = env.int("CALENDAR_FEED_MAX_BYTES", default=5 * 1024 * 1024)
# Each connect and each read waits this long at most; a whole fetch, three times as long.
CALENDAR_FEED_TIMEOUT_SECONDS = env.float("CALENDAR_FEED_TIMEOUT_SECONDS", default=10)
# Whether "tentative" in Outlook keeps a staff member from being booked.
CALENDAR_TENTATIVE_BLOCKS = env.bool("CALENDAR_TENTATIVE_BLOCKS", default=True)
# Plain http to this machine's own addresses: for the tests' local server only.
CALENDAR_FEEDS_ALLOW_LOOPBACK = env.bool("CALENDAR_FEEDS_ALLOW_LOOPBACK", default=False)

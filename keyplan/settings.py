"""Keyplan settings, configured from the environment.

Every setting a deployment may change is a ``KEYPLAN_*`` environment variable
with a safe default for local use; production mode (``KEYPLAN_PRODUCTION=1``)
refuses to start with the unsafe ones.
"""

import datetime
import os
from importlib.util import find_spec
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent

_DEV_SECRET_KEY = "keyplan-insecure-development-key-change-me"


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


PRODUCTION = _env_bool("KEYPLAN_PRODUCTION", False)
DEBUG = _env_bool("KEYPLAN_DEBUG", False)
SECRET_KEY = os.environ.get("KEYPLAN_SECRET_KEY", _DEV_SECRET_KEY)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("KEYPLAN_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("KEYPLAN_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]


def secret_key_problem(key: str) -> str | None:
    """Why ``key`` is too weak to sign sessions and tokens in production, or None."""
    advice = 'make one with: python3 -c "import secrets; print(secrets.token_urlsafe(50))"'
    if not key or key == _DEV_SECRET_KEY:
        return f"KEYPLAN_PRODUCTION is set but KEYPLAN_SECRET_KEY is not; {advice}"
    if len(key) < 50:
        return f"KEYPLAN_SECRET_KEY has {len(key)} characters; production needs at least 50 ({advice})"
    if len(set(key)) < 10 or key.startswith("django-insecure"):
        return f"KEYPLAN_SECRET_KEY is too predictable ({len(set(key))} different characters); {advice}"
    return None


# Behind a reverse proxy (nginx, Caddy) on this or another host: its address(es), comma-separated, or *.
# `keyplan serve` then takes the client's scheme and address from X-Forwarded-Proto and X-Forwarded-For
# sent by that proxy only; other servers (gunicorn) read X-Forwarded-Proto through SECURE_PROXY_SSL_HEADER.
KEYPLAN_TRUSTED_PROXY = os.environ.get("KEYPLAN_TRUSTED_PROXY", "").strip()
# TLS ends at a proxy that also redirects http to https and sends HSTS itself: Keyplan then does neither.
KEYPLAN_TLS_ENDS_AT_PROXY = _env_bool("KEYPLAN_TLS_ENDS_AT_PROXY", False)

if PRODUCTION:
    problem = secret_key_problem(SECRET_KEY)
    if problem:
        raise ImproperlyConfigured(problem)
    if DEBUG:
        raise ImproperlyConfigured("KEYPLAN_DEBUG must be off when KEYPLAN_PRODUCTION is set.")
    if "KEYPLAN_DATABASE_URL" not in os.environ:
        raise ImproperlyConfigured("KEYPLAN_PRODUCTION is set but KEYPLAN_DATABASE_URL is not.")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    # HTTPS only: redirect http to https, and tell browsers to use https for a year (HSTS).
    SECURE_SSL_REDIRECT = _env_bool("KEYPLAN_SSL_REDIRECT", not KEYPLAN_TLS_ENDS_AT_PROXY)
    SECURE_HSTS_SECONDS = int(os.environ.get("KEYPLAN_HSTS_SECONDS", "0" if KEYPLAN_TLS_ENDS_AT_PROXY else "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("KEYPLAN_HSTS_INCLUDE_SUBDOMAINS", True)
    # Preloading is a separate decision for the whole domain (hstspreload.org), never made for it here.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
    if KEYPLAN_TLS_ENDS_AT_PROXY:
        SILENCED_SYSTEM_CHECKS += ["security.W004", "security.W008"]  # the proxy sends HSTS and redirects
    if KEYPLAN_TRUSTED_PROXY:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("KEYPLAN_DATABASE_URL", f"sqlite:///{Path.cwd() / 'keyplan.sqlite3'}"),
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while an import writes; IMMEDIATE avoids
    # "database is locked" upgrades inside write transactions.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# Summaries that take a second to compute at 100,000 accounts (the portfolio overview) are kept in
# the database, so that every web process and the task worker share them. Their keys carry a
# fingerprint of the data they were computed from: a change to the data is a new key, never a
# stale page. The table is created by `keyplan migrate` (core's post_migrate handler).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "keyplan_cache",
        # An overview is about 180 kB (1,500 plotted accounts); entries of data since changed are never
        # read again. So: a day at most, and no more than 300 (some 55 MB) before the oldest third goes.
        "TIMEOUT": 24 * 3600,
        "OPTIONS": {"MAX_ENTRIES": 300},
    }
}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "simple_history",
    "django_countries",
    "csp",
    # django-ninja is not an installed app: installing it made every command import it and pydantic (0.14 s of
    # `keyplan analyze`); the API docs take its template and static files from the folders named below.
    "django_tasks",
    "django_tasks_db",
    "axes",
    "keyplan.core",
    "keyplan.accounts",
    "keyplan.revenue",
    "keyplan.relationships",
    "keyplan.scoring",
    "keyplan.planning",
    "keyplan.health",
    "keyplan.reports",
    "keyplan.crm",
    "keyplan.web",
]

MIDDLEWARE = [
    "keyplan.core.middleware.AccessLogMiddleware",  # first: the status and time as the client gets them
    "django.middleware.security.SecurityMiddleware",
    "keyplan.api.middleware.ApiContractMiddleware",  # JSON errors, body limits and number bounds under /api/
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "keyplan.core.middleware.UserLanguageMiddleware",  # after the session's user is known, before any view
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "keyplan.core.middleware.LoginRequiredMiddleware",
    "keyplan.core.middleware.DatabaseBusyMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked sign-in with the lockout page
]

# Sign-in throttling (django-axes): after KEYPLAN_LOGIN_FAILURE_LIMIT wrong passwords for one user name,
# or from one address, signing in (the login page and the admin's) is locked for KEYPLAN_LOGIN_LOCKOUT_MINUTES.
# A KAM lead or admin unlocks at /settings/sign-in-locks/. The address is REMOTE_ADDR: behind a proxy,
# set KEYPLAN_TRUSTED_PROXY so that `keyplan serve` takes the client's address from X-Forwarded-For.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("KEYPLAN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(minutes=int(os.environ.get("KEYPLAN_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

ROOT_URLCONF = "keyplan.urls"
WSGI_APPLICATION = "keyplan.wsgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-ninja's own files (Swagger UI), found without importing it.
NINJA_FILES = Path(find_spec("ninja").origin).resolve().parent

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [NINJA_FILES / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "keyplan.web.context_processors.navigation",
                "keyplan.web.context_processors.charts",
            ],
            # Numbers in the reader's language on every page: |number, |percent, |money (keyplan/core/numbers.py);
            # user data isolated in running text: |isolate, |bdi (keyplan/core/bidi.py).
            "builtins": ["keyplan.core.templatetags.number_tags", "keyplan.core.templatetags.date_tags",
                         "keyplan.core.templatetags.text_tags"],
        },
    }
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("nl", "Nederlands"),
    ("de", "Deutsch"),
    ("it", "Italiano"),
    ("zh-hans", "简体中文"),
    ("fa", "فارسی"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("KEYPLAN_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Static assets come from installed packages and the project; WhiteNoise
# serves them straight from the finders, so no collectstatic step is needed.
# A deployment that prefers collected, compressed files sets KEYPLAN_STATIC_ROOT.
STATIC_ROOT = os.environ.get("KEYPLAN_STATIC_ROOT") or None
# Plotly's own bundle, from the installed package: charts work with no internet.
STATICFILES_DIRS = [("plotly", Path(find_spec("plotly").origin).resolve().parent / "package_data"),
                    ("ninja", NINJA_FILES / "static" / "ninja")]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Plotly adds its stylesheet rules from script; scripts stay strictly 'self'.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Logs: one line each on stderr (the service manager's journal keeps them), with time, level and source;
# KEYPLAN_LOG_LEVEL (DEBUG, INFO, WARNING, ERROR) and, for a file of its own, KEYPLAN_LOG_FILE.
# Each request in `keyplan serve` is an INFO line of the logger keyplan.access (method, path, status, time).
LOG_LEVEL = os.environ.get("KEYPLAN_LOG_LEVEL", "WARNING").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"},
                 **({"file": {"class": "logging.handlers.WatchedFileHandler", "formatter": "line",
                              "filename": os.environ["KEYPLAN_LOG_FILE"]}} if os.environ.get("KEYPLAN_LOG_FILE") else {})},
    "root": {"handlers": ["file" if os.environ.get("KEYPLAN_LOG_FILE") else "console"], "level": LOG_LEVEL},
    # Waitress warns "Task queue depth is N" whenever requests wait for a thread: a sizing matter (see
    # docs/deployment.md), shown at INFO and DEBUG rather than as a warning under load.
    "loggers": {"waitress.queue": {"level": "INFO" if LOG_LEVEL in ("DEBUG", "INFO") else "ERROR"}},
}

# The currency every analysis is in; ledger amounts are converted with the exchange-rate table.
KEYPLAN_REPORTING_CURRENCY = os.environ.get("KEYPLAN_REPORTING_CURRENCY", "EUR").upper()
# The account review deck's PowerPoint template (.pptx); empty: Keyplan's plain one (keyplan/reports/deck_template.py).
KEYPLAN_DECK_TEMPLATE = os.environ.get("KEYPLAN_DECK_TEMPLATE", "").strip()

# How many key accounts one key account manager carries unless set per KAM.
KEYPLAN_DEFAULT_KAM_CAPACITY = 5

# Background work (imports): tasks are rows in the database, run by `keyplan worker`
# (which `keyplan serve` starts next to the web server).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A worker whose heartbeat is older than this many seconds is gone: the imports it was running are
# discarded by the next worker to start (on the same machine, a worker whose process is gone at once).
KEYPLAN_WORKER_TIMEOUT = int(os.environ.get("KEYPLAN_WORKER_TIMEOUT", "60"))

# Uploaded import files wait here until their import has run, then are deleted. Web and
# worker processes must see the same folder (a shared volume when they run on different hosts).
KEYPLAN_UPLOAD_DIR = Path(os.environ.get("KEYPLAN_UPLOAD_DIR") or Path.cwd() / "uploads").resolve()
KEYPLAN_UPLOAD_MAX_MB = int(os.environ.get("KEYPLAN_UPLOAD_MAX_MB", "200"))

# E-mail (the digest of `keyplan notify --email`): the console by default, SMTP when a host is given.
EMAIL_BACKEND = os.environ.get("KEYPLAN_EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend" if os.environ.get("KEYPLAN_EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("KEYPLAN_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("KEYPLAN_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("KEYPLAN_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("KEYPLAN_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("KEYPLAN_EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("KEYPLAN_EMAIL_FROM", "keyplan@localhost")

NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 1000
# The API's documentation (/api/v1/docs, /api/v1/openapi.json) needs a login in production.
KEYPLAN_API_DOCS_NEED_LOGIN = _env_bool("KEYPLAN_API_DOCS_NEED_LOGIN", PRODUCTION)
# The largest JSON body the API reads (413 above it); file uploads have KEYPLAN_UPLOAD_MAX_MB.
KEYPLAN_API_MAX_BODY_KB = int(os.environ.get("KEYPLAN_API_MAX_BODY_KB", "1024"))
# POST /api/v1/sync/{kind}: up to 10,000 records of a CRM in one body.
KEYPLAN_SYNC_MAX_BODY_MB = int(os.environ.get("KEYPLAN_SYNC_MAX_BODY_MB", "20"))

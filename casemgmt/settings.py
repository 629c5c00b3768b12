"""Settings for the whole project, read from environment variables.

Every value has a safe default for a laptop (the private PostgreSQL server of ``casemgmt.devdb`` and
a filesystem broker, both under ``var/``);
production sets ``DEBUG=false`` and must then provide the secrets explicitly.
"""
import json
import secrets
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from casemgmt.api.schema_enums import ENUM_NAME_OVERRIDES
from casemgmt.devdb import default_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)


def _dev_secrets():
    """Secrets for development only, generated once and kept under var/ so data stays readable."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "BLIND_INDEX_KEY": secrets.token_urlsafe(32),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def _secret(name):
    value = env.str(name, default="")
    if value:
        return value
    if not DEBUG:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is false.")
    return _dev_secrets()[name]


# Three separate secrets: none of them lives in the database or the repository.
SECRET_KEY = _secret("SECRET_KEY")
# Comma-separated Fernet keys; the first encrypts, all of them decrypt (key rotation).
FIELD_ENCRYPTION_KEYS = [k.strip() for k in _secret("FIELD_ENCRYPTION_KEYS").split(",") if k.strip()]
# HMAC key of the blind index that lets an exact ID-number lookup work on encrypted data.
BLIND_INDEX_KEY = _secret("BLIND_INDEX_KEY")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "casemgmt.api.exceptions.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "casemgmt.security.lockout_config.AxesConfig",  # django-axes, named in the admin
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "import_export",
    "pgtrigger",
    "casemgmt.core",
    "families",
    "volunteers",
    "services",
    "casemgmt.api",
    "reports",
    "workspace",
    "demo",
    "casemgmt.security",
]

MIDDLEWARE = [
    # First: REMOTE_ADDR becomes the client's address behind the trusted proxies (TRUSTED_PROXY_COUNT).
    "casemgmt.security.network.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "casemgmt.security.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # After the language is chosen, before any view: a NUL character in a parameter is a clear 400.
    "casemgmt.core.middleware.NulCharacterMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Whether the user holds a break-the-glass grant is looked up once per request (reach.restrict).
    "casemgmt.core.reach.GrantMemoMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # A session without its verified second factor counts as signed out (casemgmt.security.otp).
    "casemgmt.security.middleware.SecondFactorSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "casemgmt.security.middleware.DeniedAccessAuditMiddleware",
    # Last, so that it sees the lockout flag the authentication backend left on the request.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "casemgmt.urls"
WSGI_APPLICATION = "casemgmt.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Project-wide overrides of other apps' templates (the admin's base_site), found before theirs.
        "DIRS": [BASE_DIR / "casemgmt" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
            ],
        },
    },
]

DATABASES = {
    # Without DATABASE_URL: the server `make run` starts, through its socket under VAR_DIR.
    "default": env.db("DATABASE_URL", default=default_url(VAR_DIR)),
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL database (postgres://...).")
# Kept connections: opening one costs more than serving a family's page.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Server-side parameters and prepared statements: a statement run a few times on a connection is
# parsed and planned once. PgBouncer in transaction mode needs version
# 1.21 or later with max_prepared_statements set, or DATABASE_PREPARED_STATEMENTS=false.
if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
# Two PostgreSQL roles (docs/deploy.md): web and worker connect as DATABASE_URL's role, which may
# read and write the tables but owns none, so it cannot TRUNCATE, ALTER or disable a trigger, and on
# the audit trail may only INSERT and SELECT. DATABASE_OWNER_URL, the owner of the schema, is given
# only to `migrate`, `db_roles` and `audit_purge`; no router sends ordinary reads or writes to it.
# Without it (a laptop, or one superuser role) everything runs on "default" as before.
DATABASE_OWNER_URL = env.str("DATABASE_OWNER_URL", default="")
DATABASE_APP_ROLE = ""
if DATABASE_OWNER_URL:
    DATABASES["owner"] = env.db_url_config(DATABASE_OWNER_URL)
    if DATABASES["owner"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_OWNER_URL must name a PostgreSQL database (postgres://...).")
    if DATABASES["owner"]["NAME"] != DATABASES["default"]["NAME"]:
        raise ImproperlyConfigured("DATABASE_OWNER_URL must name the same database as DATABASE_URL.")
    # The role the owner grants to: DATABASE_URL's, captured before anything switches "default".
    DATABASE_APP_ROLE = DATABASES["default"]["USER"]
    DATABASES["owner"]["CONN_MAX_AGE"] = 0
    # The test database is the same one, reached as its owner.
    DATABASES["owner"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["casemgmt.core.dbroles.OwnerRouter"]

# API rate limits (DRF throttles) count in this cache. In memory (the default) each web process
# counts alone, so with several gunicorn workers the limit is that many times the setting: give
# them a shared cache in production, e.g. CACHE_URL=redis://127.0.0.1:6379/1. A Redis cache that
# cannot be reached is replaced by memory of each process until it answers (casemgmt.core.cache).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "casemgmt.core.cache.DegradingRedisCache"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

# Argon2 hashes new passwords; older PBKDF2 hashes still verify and are upgraded at the next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# django-axes first: it refuses a locked-out attempt before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, its permission lookup one statement (casemgmt.core.backends).
    "casemgmt.core.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise warns on every start when the folder is missing (tests never run collectstatic).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

LOGIN_URL = "admin:login"

# Celery: Redis in production, a filesystem broker under var/ on a laptop (no server needed).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for sub in ("out", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# A message a killed worker never acknowledged goes to another worker after this many seconds, so
# a dead worker delays its tasks by minutes. Every task is short (one county's sweep, one
# recipient's sending; retries wait at most 60 s) except the nightly tally rebuild, which may
# outlast it: the copy delivered meanwhile finds the job's ledger row locked and does nothing
# (casemgmt.core.jobs.job_run), so redelivery never means doing the work twice.
# Running workers look for such messages every tenth of the timeout (kombu's default is every
# 100 s, which would add more than the timeout itself): redelivered within 1.1 × the timeout, or
# the timeout and 3 s when it is under half a minute.
_visibility_timeout = env.int("CELERY_VISIBILITY_TIMEOUT", default=300)
BROKER_REDIS_OPTIONS = {
    "visibility_timeout": _visibility_timeout,
    "unacked_restore_interval": max(1, min(10, _visibility_timeout // 30)),
    "unacked_restore_throttle": 3,
}
if CELERY_BROKER_URL.startswith("redis"):
    CELERY_BROKER_TRANSPORT_OPTIONS = BROKER_REDIS_OPTIONS
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)

# Notification channels: email through Django, SMS through a pluggable backend. The defaults print
# and log (messages name members and anniversaries); with DEBUG off `check --deploy` refuses them
# (casemgmt.core.checks): set an SMTP server and a real SMS backend.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@localhost")
SMS_BACKEND = env.str("SMS_BACKEND", default="casemgmt.core.channels.LoggingSMSBackend")
# For SMS_BACKEND=casemgmt.core.channels.HttpSMSBackend: the gateway that takes the messages.
SMS_GATEWAY_URL = env.str("SMS_GATEWAY_URL", default="")
SMS_GATEWAY_TOKEN = env.str("SMS_GATEWAY_TOKEN", default="")
SMS_GATEWAY_TIMEOUT = env.float("SMS_GATEWAY_TIMEOUT", default=10.0)
NOTIFICATION_DIGEST_TIME = env.str("NOTIFICATION_DIGEST_TIME", default="08:30")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "casemgmt.api.schema.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The token class goes first: its WWW-Authenticate header makes anonymous calls answer 401.
        "casemgmt.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's JSON renderer, which also takes values that are JSON already (a page of cards).
    "DEFAULT_RENDERER_CLASSES": ["casemgmt.api.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    # DRF's JSON parser with a nesting limit (a 50,000-deep body is a 400, not a RecursionError).
    "DEFAULT_PARSER_CLASSES": [
        "casemgmt.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "casemgmt.api.negotiation.ContentNegotiation",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "casemgmt.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "casemgmt.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["casemgmt.api.throttling.UserThrottle", "casemgmt.api.throttling.AnonThrottle"],
    # A sustained rate refilled smoothly, and a burst (casemgmt.api.throttling): "3000/hour burst 300"
    # lets a day's offline backlog through at once, and then one request every 1.2 s.
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_USER_THROTTLE_RATE", default="3000/hour burst 300"),
        "anon": env.str("API_ANON_THROTTLE_RATE", default="300/hour burst 30"),
        # Import uploads (each up to IMPORT_MAX_ROWS rows) count here, not in the interactive rate.
        "import": env.str("API_IMPORT_THROTTLE_RATE", default="200/hour burst 50"),
    },
    "ORDERING_PARAM": "ordering",
    # Rate limits count per REMOTE_ADDR, which casemgmt.security.network sets to the client's address
    # behind the trusted proxies; DRF's default would key on the whole X-Forwarded-For the client sends.
    "NUM_PROXIES": 0,
}
# Largest accepted request body (bytes); the API answers 413 above it.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
# Uploaded files above this go to a temporary file instead of memory; imports refuse larger ones.
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
# Longest free text (notes, difficulties, descriptions) any form or API field accepts, in characters.
FREE_TEXT_MAX_LENGTH = env.int("FREE_TEXT_MAX_LENGTH", default=10_000)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=2000)
# Largest request of any kind, uploads included (casemgmt.security.middleware answers 413 above it).
MAX_UPLOAD_SIZE = env.int("MAX_UPLOAD_SIZE", default=10 * 1024 * 1024)
SPECTACULAR_SETTINGS = {
    "TITLE": "Special-family case management API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": ENUM_NAME_OVERRIDES,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "casemgmt.api.schema.add_error_responses",
    ],
    # Request bodies are documented as JSON (forms are still parsed, for the browsable API); the
    # imports declare their multipart upload themselves.
    "PARSER_WHITELIST": ["casemgmt.api.parsers.JSONParser"],
}

# ---- Security and privacy (casemgmt.security) ----
# Reverse proxies in front of the application that append the address they saw to X-Forwarded-For;
# the client's address is the one the outermost of them saw (casemgmt.security.network). 0: no
# proxy, the peer address is the client's. Set it to the real number: too high lets clients choose
# their address, too low makes everybody share the proxy's (and its lockouts).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Sign-in lockout (django-axes with casemgmt.security.lockout): failures are counted per username
# and address together, and per address across usernames (password spraying). Past a limit the
# address waits AXES_BACKOFF_BASE_SECONDS, doubled with each further failure up to the maximum; the
# account's owner elsewhere is never locked out. Failures are forgotten after a quiet window.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_ADDRESS_FAILURE_LIMIT = env.int("AXES_ADDRESS_FAILURE_LIMIT", default=20)
AXES_BACKOFF_BASE_SECONDS = env.int("AXES_BACKOFF_BASE_SECONDS", default=60)
AXES_BACKOFF_MAX_SECONDS = env.int("AXES_BACKOFF_MAX_SECONDS", default=3600)
AXES_FAILURE_WINDOW_HOURS = env.float("AXES_FAILURE_WINDOW_HOURS", default=24.0)
AXES_HANDLER = "casemgmt.security.lockout.BackoffHandler"
AXES_LOCK_OUT_AT_FAILURE = False  # the handler decides, with the two limits and the back-off
AXES_COOLOFF_TIME = "casemgmt.security.lockout.failure_window"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # what a successful sign-in resets
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "casemgmt.security.network.client_ip"
AXES_LOCKOUT_CALLABLE = "casemgmt.security.lockout.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="casemgmt")
# How long a verified second factor vouches for a step-up act (token, unmasked export, break-glass).
STEP_UP_SECONDS = env.int("STEP_UP_SECONDS", default=300)
# Longest lifetime of a personal API token.
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=90)
# Audit events are kept at least three years (PIPL art. 55-56); only audit_purge deletes older ones.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=3 * 365 + 1)
# Personal data of a closed case is anonymised this many years after it closed.
FAMILY_RETENTION_YEARS = env.int("FAMILY_RETENTION_YEARS", default=10)
BREAK_GLASS_HOURS = env.int("BREAK_GLASS_HOURS", default=4)
BREAK_GLASS_MAX_HOURS = env.int("BREAK_GLASS_MAX_HOURS", default=24)
# Break-the-glass grants a user opens alone in a day; beyond them a region manager approves each one.
BREAK_GLASS_DAILY_CAP = env.int("BREAK_GLASS_DAILY_CAP", default=3)
# A new account may enrol its authenticator with the password alone this many days, before its first
# sign-in; afterwards (or for a lost phone) an administrator opens an enrolment window.
SELF_ENROL_DAYS = env.int("SELF_ENROL_DAYS", default=14)
ENROLMENT_WINDOW_HOURS = env.int("ENROLMENT_WINDOW_HOURS", default=72)
# Imports: caps on one upload (non-empty rows, bytes once unzipped, seconds of a web worker), how many
# problems an answer lists (the rest are counted by kind), and how many people registered outside
# the importer's reach a user's files may name in a day before their imports stop and their manager
# is told (each such row tells that the person exists somewhere).
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=10_000)
IMPORT_MAX_UNPACKED_BYTES = env.int("IMPORT_MAX_UNPACKED_BYTES", default=32 * 1024 * 1024)
IMPORT_MAX_SECONDS = env.float("IMPORT_MAX_SECONDS", default=30.0)
IMPORT_PROBLEMS_SHOWN = env.int("IMPORT_PROBLEMS_SHOWN", default=100)
IMPORT_COLLISIONS_PER_DAY = env.int("IMPORT_COLLISIONS_PER_DAY", default=5)
# Content Security Policy (Django's own middleware): scripts only from this site or with the
# per-response nonce, never inline; styles may be inline (the admin and Swagger UI set some).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "worker-src": [CSP.SELF, "blob:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)

# Every handler masks ID numbers, phone numbers and search terms (casemgmt.core.logmask), runserver's
# access log (django.server, redefined here with Django's own format) included; gunicorn's access
# log is masked by the logger class gunicorn.conf.py names.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_personal_data": {"()": "casemgmt.core.logmask.MaskingFilter"}},
    "formatters": {"django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}",
                                     "style": "{"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["mask_personal_data"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": ["mask_personal_data"]},
    },
    "loggers": {"django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_HTTPONLY = True

"""Régua's settings: one module, driven by environment variables (see README §Configuration)."""

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from regua.lib.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent
# Runtime files (the SQLite database, uploads, the generated secret key) live under var/
# in the working directory unless REGUA_VAR_DIR says otherwise.
VAR_DIR = Path(env_str("REGUA_VAR_DIR", str(Path.cwd() / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/."""
    key = env_str("SECRET_KEY")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "regua.core",
    "regua.users",
    "regua.customers",
    "regua.commerce",
    "regua.events",
    "regua.imports",
    "regua.cadences",
    "regua.agenda",
    "regua.analytics",
    "regua.segments",
    "regua.loyalty",
    "regua.faq",
    "regua.accounts",
    "regua.desk",
    "regua.ops",
    "regua.privacy",
    "regua.demo",
    "regua.benchmarks",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "anymail",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "regua.core.ratelimits.ApiRateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "regua.users.twofactor.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the login page's message
]

ROOT_URLCONF = "regua.urls"
WSGI_APPLICATION = "regua.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite (WAL) under var/ by default; PostgreSQL with DATABASE_URL=postgres://...
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'regua.sqlite3'}")
_db = dj_database_url.parse(DATABASE_URL)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # WAL lets readers work while a writer writes; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue on the busy timeout instead of failing mid-transaction.
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA temp_store=MEMORY;"
            "PRAGMA cache_size=-65536;"
            "PRAGMA mmap_size=268435456;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20),
    }
else:
    _db["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
    _db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "customers:contact_list"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out sign-in before the password is checked.
AUTHENTICATION_BACKENDS = [
    "regua.users.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Languages: Brazilian Portuguese first, English.
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "pt-br")
LANGUAGES = [("pt-br", _("Portuguese (Brazil)")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "America/Sao_Paulo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders when collectstatic has not been run
# (development and tests); production runs collectstatic.
WHITENOISE_USE_FINDERS = not (STATIC_ROOT / "regua").exists()

# E-mail: Django's backends (see README §Configuration). The embedded default keeps every
# message in the outbox page; "smtp" (or any backend's dotted path, e.g. an anymail
# provider's) sends for real.
EMAIL_BACKEND = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "outbox": "regua.cadences.channels.outbox.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
}.get(
    env_str("EMAIL_BACKEND", "outbox"),
    env_str("EMAIL_BACKEND", "outbox"),
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Régua <regua@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The régua engine (docs/cadences.md).
REGUA_SITE_URL = env_str("REGUA_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
REGUA_BRAND_NAME = env_str("REGUA_BRAND_NAME", "Régua")
REGUA_MESSAGE_ID_DOMAIN = env_str(
    "REGUA_MESSAGE_ID_DOMAIN", REGUA_SITE_URL.split("://")[-1].split("/")[0].split(":")[0]
)
REGUA_QUIET_HOURS = env_str("REGUA_QUIET_HOURS", "21:00-08:00")  # contact's local time; "" = none
REGUA_FREQUENCY_CAP = env_int("REGUA_FREQUENCY_CAP", 3)  # marketing messages per contact ...
REGUA_FREQUENCY_DAYS = env_int("REGUA_FREQUENCY_DAYS", 7)  # ... per this many days
REGUA_MAX_LATENESS_HOURS = env_int("REGUA_MAX_LATENESS_HOURS", 72)  # older due messages expire
# A task (a call, a meeting, a message an account manager sends) may be later: the owner
# picks the moment. Older than this it is stale, and expires too.
REGUA_TASK_MAX_LATENESS_DAYS = env_int("REGUA_TASK_MAX_LATENESS_DAYS", 14)
REGUA_SEND_BATCH = env_int("REGUA_SEND_BATCH", 500)
# The most messages a second one worker sends (0: as fast as it can), to stay under the
# provider's limit divided by the workers (docs/deploy.md §5).
REGUA_SEND_RATE = env_float("REGUA_SEND_RATE", 0.0)
# SMTP connections one worker keeps open at once (its own thread renders meanwhile).
REGUA_SMTP_CONNECTIONS = env_int("REGUA_SMTP_CONNECTIONS", 4)
# Use the server's PIPELINING when it offers it (regua/cadences/channels/email.py); off
# only for a server that offers it and then mishandles it.
REGUA_SMTP_PIPELINING = env_bool("REGUA_SMTP_PIPELINING", True)
REGUA_TICK_SECONDS = env_int("REGUA_TICK_SECONDS", 1)
# Workers share each tick by partitions of the contacts (docs/cadences.md §Partitioned
# ticks): each takes one whose turn has come. 1: the whole tick, one worker at a time.
REGUA_TICK_PARTITIONS = env_int("REGUA_TICK_PARTITIONS", 1)
if not 1 <= REGUA_TICK_PARTITIONS <= 255:
    raise ImproperlyConfigured("REGUA_TICK_PARTITIONS must be between 1 and 255")
# Local hour after which the worker queues the day's refresh of the customer scores.
REGUA_ANALYTICS_HOUR = env_int("REGUA_ANALYTICS_HOUR", 2)
# The thresholds of the scores (docs/analytics.md). RFM window in days; the activity
# matrix's typical interval (0: the customers' median time between purchases), the
# multiple of it after which a customer is lost, the VIP share of repeat buyers; Piercy's
# long term (days and purchases), closeness (top share by purchases), discount hunters.
REGUA_RFM_WINDOW_DAYS = env_int("REGUA_RFM_WINDOW_DAYS", 365)
REGUA_ACTIVITY_INTERVAL_DAYS = env_float("REGUA_ACTIVITY_INTERVAL_DAYS", 0)
REGUA_ACTIVITY_LOST_AFTER = env_float("REGUA_ACTIVITY_LOST_AFTER", 3.0)
REGUA_ACTIVITY_VIP_SHARE = env_float("REGUA_ACTIVITY_VIP_SHARE", 0.2)
REGUA_RELATIONSHIP_LONG_TERM_DAYS = env_int("REGUA_RELATIONSHIP_LONG_TERM_DAYS", 365)
REGUA_RELATIONSHIP_LONG_TERM_PURCHASES = env_int("REGUA_RELATIONSHIP_LONG_TERM_PURCHASES", 2)
REGUA_RELATIONSHIP_CLOSE_SHARE = env_float("REGUA_RELATIONSHIP_CLOSE_SHARE", 0.75)
REGUA_RELATIONSHIP_DISCOUNT_SHARE = env_float("REGUA_RELATIONSHIP_DISCOUNT_SHARE", 0.5)
# CLV: months ahead, contribution margin (share of revenue), yearly discount rate.
REGUA_CLV_HORIZON_MONTHS = env_int("REGUA_CLV_HORIZON_MONTHS", 12)
REGUA_CLV_MARGIN = env_float("REGUA_CLV_MARGIN", 0.3)
REGUA_CLV_DISCOUNT_RATE = env_float("REGUA_CLV_DISCOUNT_RATE", 0.12)
# SMS and WhatsApp: "outbox" (default) or "twilio" (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
# TWILIO_FROM_NUMBER, TWILIO_WHATSAPP_FROM; TWILIO_API_URL for a test double).
REGUA_SMS_BACKEND = env_choice("REGUA_SMS_BACKEND", ("outbox", "twilio"), "outbox")
REGUA_WHATSAPP_BACKEND = env_choice("REGUA_WHATSAPP_BACKEND", ("outbox", "twilio"), "outbox")
TWILIO_API_URL = env_str("TWILIO_API_URL", "https://api.twilio.com")
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
TWILIO_WHATSAPP_FROM = env_str("TWILIO_WHATSAPP_FROM")
# Webhook steps are signed with HMAC-SHA256 of the body under this secret.
REGUA_WEBHOOK_SECRET = env_str("REGUA_WEBHOOK_SECRET") or SECRET_KEY
ANYMAIL = (
    {"WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET")}
    if env_str("ANYMAIL_WEBHOOK_SECRET")
    else {}
)

# Background jobs (imports, exports) through Django's task API and its database backend.
TASKS = {
    "default": {
        "BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# Who sees which contacts: "all" (every user sees every contact) or "own" (agents see only
# the contacts and companies of their own portfolio; managers and admins see everything).
PORTFOLIO_VISIBILITY = env_choice("PORTFOLIO_VISIBILITY", ("all", "own"), "all")
# The agenda: minutes of tasks a day holds before the week and month views mark it
# overloaded (a task's minutes are its estimate, or its kind's usual length).
REGUA_AGENDA_DAY_MINUTES = env_int("REGUA_AGENDA_DAY_MINUTES", 360)
# The loyalty programme (docs/loyalty.md): points per real spent (cents earn nothing),
# months after which earned points expire (0: never), the referrer's bonus for a referred
# customer's first purchase, the balances announced as milestones, how often the worker
# refreshes the programme, and the shop page a referral link (/r/CODE) lands on.
REGUA_LOYALTY_POINTS_PER_BRL = env_int("REGUA_LOYALTY_POINTS_PER_BRL", 1)
REGUA_LOYALTY_EXPIRY_MONTHS = env_int("REGUA_LOYALTY_EXPIRY_MONTHS", 12)
REGUA_LOYALTY_REFERRAL_POINTS = env_int("REGUA_LOYALTY_REFERRAL_POINTS", 200)
REGUA_LOYALTY_MILESTONES = sorted(
    int(value) for value in env_list("REGUA_LOYALTY_MILESTONES", ["500", "1000", "5000"])
)
REGUA_LOYALTY_REFRESH_MINUTES = env_int("REGUA_LOYALTY_REFRESH_MINUTES", 60)
REGUA_LOYALTY_SHOP_URL = env_str("REGUA_LOYALTY_SHOP_URL", "")

# The service desk (docs/desk.md): the address customers reply to (a "+tag" carrying
# the ticket is added to it; empty: DEFAULT_FROM_EMAIL without a tag), days after which a
# resolved ticket closes by itself, days during which a rating can still be changed.
REGUA_DESK_REPLY_ADDRESS = env_str("REGUA_DESK_REPLY_ADDRESS", "")
REGUA_DESK_CLOSE_AFTER_DAYS = env_int("REGUA_DESK_CLOSE_AFTER_DAYS", 7)
REGUA_DESK_RATING_DAYS = env_int("REGUA_DESK_RATING_DAYS", 14)
# The public contact form: tickets per e-mail address and hour before it asks to wait.
REGUA_DESK_FORM_PER_HOUR = env_int("REGUA_DESK_FORM_PER_HOUR", 10)
# NPS: hours during which a customer may change the answer they gave.
REGUA_NPS_EDIT_HOURS = env_int("REGUA_NPS_EDIT_HOURS", 24)
# Event retention (docs/deploy.md): raw events older than the current month and this many
# months before it become monthly totals per contact and name (0 or unset: kept forever);
# the names regua/events/retention.py keeps for the product, and these, are never
# archived; the local hour after which the worker queues the day's archive.
REGUA_EVENT_RETENTION_MONTHS = max(env_int("REGUA_EVENT_RETENTION_MONTHS", 0), 0) or None
REGUA_EVENT_RETENTION_KEEP = env_list(
    "REGUA_EVENT_RETENTION_KEEP", ["purchase", "upgrade", "downgrade"]
)
REGUA_EVENT_ARCHIVE_HOUR = env_int("REGUA_EVENT_ARCHIVE_HOUR", 3)

# Personal data retention (docs/security.md §LGPD), applied once a day by the worker after
# REGUA_RETENTION_HOUR local time: audit entries older than this many months are deleted
# (0: kept forever); uploaded import files of finished imports are deleted this many days
# after the import ended (0: kept); contacts with nothing new (no event, order, message,
# ticket, task or note) for this many months are erased like a data subject's request,
# at most REGUA_ERASE_INACTIVE_BATCH a day (0, the default: never automatic).
REGUA_AUDIT_RETENTION_MONTHS = max(env_int("REGUA_AUDIT_RETENTION_MONTHS", 24), 0)
REGUA_IMPORT_FILE_RETENTION_DAYS = max(env_int("REGUA_IMPORT_FILE_RETENTION_DAYS", 0), 0)
REGUA_ERASE_INACTIVE_MONTHS = max(env_int("REGUA_ERASE_INACTIVE_MONTHS", 0), 0)
REGUA_ERASE_INACTIVE_BATCH = max(env_int("REGUA_ERASE_INACTIVE_BATCH", 500), 1)
REGUA_RETENTION_HOUR = env_int("REGUA_RETENTION_HOUR", 4)

# Operations (docs/deploy.md): how often a worker writes its heartbeat, after how long
# without one it counts as dead, and the token Prometheus sends to read /metrics.
REGUA_WORKER_BEAT_SECONDS = env_float("REGUA_WORKER_BEAT_SECONDS", 5.0)
REGUA_WORKER_STALE_SECONDS = env_int("REGUA_WORKER_STALE_SECONDS", 60)
REGUA_METRICS_TOKEN = env_str("REGUA_METRICS_TOKEN")

# Behind a reverse proxy that terminates TLS (docs/deploy.md): secure cookies, HSTS and
# the redirect to https, except for the probes a load balancer makes over plain http.
REGUA_HTTPS = env_bool("REGUA_HTTPS", False)
if REGUA_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    # On by default, so that `check --deploy` finds nothing to say; they cover the
    # subdomains of Régua's own host name (crm.example.com), not the whole domain.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Sign-in and the public surfaces (docs/security.md).
# Behind a reverse proxy every request comes from the proxy's address: how many proxies
# append to X-Forwarded-For in front of Régua (0: trust REMOTE_ADDR only). The client's
# address is then the entry that many places from the right, which no client can forge.
REGUA_PROXY_COUNT = env_int("REGUA_PROXY_COUNT", 1 if REGUA_HTTPS else 0)
# Rate limits, "<count>/<period>" with s, m, h or d ("" or "off": no limit). Counted in
# a table of the database (regua/core/ratelimits.py), so every web process sees the
# same counts.
REGUA_RATELIMIT_LOGIN_IP = env_rate("REGUA_RATELIMIT_LOGIN_IP", "30/m")
REGUA_RATELIMIT_LOGIN_USER = env_rate("REGUA_RATELIMIT_LOGIN_USER", "10/m")
REGUA_RATELIMIT_PASSWORD_RESET = env_rate("REGUA_RATELIMIT_PASSWORD_RESET", "5/h")
REGUA_RATELIMIT_PUBLIC_FORMS = env_rate("REGUA_RATELIMIT_PUBLIC_FORMS", "30/m")
REGUA_RATELIMIT_API_KEY = env_rate("REGUA_RATELIMIT_API_KEY", "6000/m")
REGUA_RATELIMIT_API_IP = env_rate("REGUA_RATELIMIT_API_IP", "6000/m")
RATELIMIT_ENABLE = env_bool("REGUA_RATELIMIT_ENABLED", True)
# "default" is each process's own memory (page fragments, counts shown for a few
# seconds); "shared" is a table in the database (created by a migration of
# regua.users), for what every process must agree on: the best sellers (rate limits count
# in a table of their own, regua/core/ratelimits.py). No server to run.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {
        "BACKEND": "regua.core.cache.DatabaseCache",
        "LOCATION": "regua_cache",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    },
}
# Account lockout (django-axes): after this many failed sign-ins for one e-mail address
# from one IP address, that pair is refused for the cool-off; an admin unlocks sooner
# by deleting the attempt (Admin → Axes → Access attempts).
AXES_ENABLED = env_bool("REGUA_LOCKOUT_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("REGUA_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("REGUA_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "regua.users.lockout.username_of"
AXES_CLIENT_IP_CALLABLE = "regua.core.ratelimits.client_ip"
AXES_CLIENT_STR_CALLABLE = "regua.users.lockout.client_str"
AXES_LOCKOUT_CALLABLE = "regua.users.lockout.lockout_response"
AXES_VERBOSE = False
# Two-factor sign-in (django-otp, TOTP): optional for everyone; these roles (any of
# admin, manager, agent) must set it up before they can use Régua.
REGUA_REQUIRE_2FA_FOR = [role.lower() for role in env_list("REGUA_REQUIRE_2FA_FOR", [])]
if set(REGUA_REQUIRE_2FA_FOR) - {"admin", "manager", "agent"}:
    raise ImproperlyConfigured("REGUA_REQUIRE_2FA_FOR takes roles: admin, manager, agent")
OTP_TOTP_ISSUER = REGUA_BRAND_NAME
# The admin site may delete a user's device (a lost phone), never show its secret.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Password reset links last this long (Django's default is three days).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 3600)
# Security headers. Content-Security-Policy (django-csp): our own scripts, styles and
# images only, no inline script or style; pages that show a customer's e-mail relax it
# for themselves (the outbox's preview frame).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Largest CSV upload accepted by the import page, in megabytes.
IMPORT_MAX_UPLOAD_MB = env_int("IMPORT_MAX_UPLOAD_MB", 512)
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024  # API batches of 1,000 items fit well inside

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # No e-mail address or phone number is written, whatever an exception says.
    "filters": {"personal_data": {"()": "regua.core.logs.PersonalDataFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["personal_data"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

"""Settings shared by every environment. Environment variables are read here and nowhere else.

Every value has a safe local default, so `./run demo` works on a fresh machine with no .env file.
A secret may also come from a file: SECRET_KEY_FILE=/run/secrets/key (see _env_or_file).
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _env_or_file(name: str, default: str) -> str:
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    return env.str(name, default=default)


SECRET_KEY = _env_or_file("SECRET_KEY", "cityos-local-development-key-not-for-production")
# Debug pages show settings, paths and tracebacks: never on unless a developer asks for them
# explicitly (CITYOS_DEBUG=1; DEBUG=1 is still honoured). The demo runs like production.
DEBUG = env.bool("CITYOS_DEBUG", default=env.bool("DEBUG", default=False))
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "cityos.admin_site.CityOSAdminConfig",  # django.contrib.admin with the CityOS site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "cityos",
    "datahub",
    "governance",
    "industry",
    "livelihood",
]

MIDDLEWARE = [
    "cityos.api.middleware.ApiKeyMeteringMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cityos.api.middleware.ApiKeyMiddleware",
    "cityos.access.StaffPagesMiddleware",
    "cityos.middleware.CitizenBoundaryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cityos.urls"
ASGI_APPLICATION = "cityos.asgi.application"
WSGI_APPLICATION = "cityos.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Each datahub capability keeps its templates beside its code (issue 12): one Django app
        # (`datahub`), so the app-dirs loader would only see datahub/templates/; these entries
        # keep the template names the views use ("datahub/iot/device_detail.html" is in
        # datahub/iot/templates/datahub/iot/).
        "DIRS": [
            BASE_DIR / "templates",
            *(
                BASE_DIR / "datahub" / cap / "templates"
                for cap in ("core", "datasets", "iot", "text", "monitoring", "search", "analysis")
            ),
        ],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cityos.context_processors.navigation",
            ],
        },
    },
]

# PostgreSQL + PostGIS is the only database.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgis://cityos@127.0.0.1:5432/cityos"),
}
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
# Persistent connections for long-lived single-threaded processes (Celery worker, MQTT bridge,
# commands). Under ASGI Django runs each request's sync code in a thread of its own, so a
# persistent connection would be one more idle connection per request until PostgreSQL refuses
# new clients (Django's docs: disable them under ASGI): cityos/asgi.py sets CITYOS_ASGI.
DATABASES["default"].setdefault("CONN_MAX_AGE", 0 if env.bool("CITYOS_ASGI", default=False) else 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "cityos.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# i18n: Simplified Chinese first, English available everywhere.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
WHITENOISE_USE_FINDERS = True
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024

# Redis: Celery broker, Channels layer and cache. One URL; separate logical databases.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="cityos"),
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNELS_PREFIX", default="cityos")},
    }
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="cityos")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

MQTT_HOST = env.str("MQTT_HOST", default="127.0.0.1")
MQTT_PORT = env.int("MQTT_PORT", default=1883)


def _mqtt_credentials_file(path: str) -> dict[str, str]:
    """KEY=value lines written by scripts/mosquitto_setup.sh (readable by root only)."""
    try:
        text = Path(path).read_text()
    except OSError:  # absent or not readable: the environment (or nothing) provides the credentials
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


# Broker credentials (Mosquitto's dynamic-security plugin; see deploy/mosquitto/). The environment
# wins; otherwise the file scripts/mosquitto_setup.sh writes next to the system broker's config.
MQTT_CREDENTIALS_FILE = env.str("MQTT_CREDENTIALS_FILE", default="/etc/mosquitto/cityos-credentials.env")
_mqtt_file = _mqtt_credentials_file(MQTT_CREDENTIALS_FILE)


def _mqtt_secret(name: str) -> str:
    return _env_or_file(name, _mqtt_file.get(name, ""))


# The bridge's own client (subscribes to cityos/+/telemetry); the health check's (connects only);
# the administrator of the dynamic-security plugin (device clients and roles: registering,
# rotating, deactivating and deleting devices, `manage.py mqtt_reconcile`). An empty admin
# password switches broker management off (devices are then only marked as not yet at the broker).
MQTT_USERNAME = _mqtt_secret("MQTT_USERNAME")
MQTT_PASSWORD = _mqtt_secret("MQTT_PASSWORD")
MQTT_HEALTH_USERNAME = _mqtt_secret("MQTT_HEALTH_USERNAME")
MQTT_HEALTH_PASSWORD = _mqtt_secret("MQTT_HEALTH_PASSWORD")
MQTT_ADMIN_USERNAME = _mqtt_secret("MQTT_ADMIN_USERNAME")
MQTT_ADMIN_PASSWORD = _mqtt_secret("MQTT_ADMIN_PASSWORD")
# How long a device change waits for the broker's answer before it is left to the reconcile job.
MQTT_ADMIN_TIMEOUT_S = env.float("MQTT_ADMIN_TIMEOUT_S", default=3.0)
# Device secrets are kept encrypted (the broker takes passwords in clear text only, and the
# reconcile job must be able to restore a lost client). Key: this, else derived from SECRET_KEY.
DEVICE_SECRETS_KEY = _env_or_file("DEVICE_SECRETS_KEY", "")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # API keys (open platform) are checked, scoped and rate-limited by cityos.api.middleware.
        "cityos.api.authentication.ApiKeyAuthentication",
        # Token first: its WWW-Authenticate header makes bad credentials a 401, not a 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "cityos.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "cityos.api.schema.CityAutoSchema",
    "EXCEPTION_HANDLER": "cityos.api.exceptions.json_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CityOS API",
    "DESCRIPTION": "The open API of the CityOS intelligent city operating system.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc are served from the drf-spectacular-sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Error responses (400/401/403/404/409/429) declared once for every operation.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cityos.api.schema.error_responses_hook",
    ],
}

# GDAL 3.6 triggers Django 5.2's gis.W001 (unsupported GDAL version warning); it works here.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Used by tests and importers to find the real public datasets beside the project.
CITYOS_DATA_DIR = env.path("CITYOS_DATA_DIR", default=str(BASE_DIR.parent / "shared" / "data"))

# Dataset imports: the largest file accepted, and the zip-bomb guards for XLSX (an XLSX may
# inflate to at most this many bytes, and files over 10 MB inflated at most RATIO times).
DATAHUB_IMPORT_MAX_BYTES = env.int("DATAHUB_IMPORT_MAX_BYTES", default=200 * 1024 * 1024)
DATAHUB_XLSX_MAX_UNCOMPRESSED_BYTES = env.int("DATAHUB_XLSX_MAX_UNCOMPRESSED_BYTES", default=1024 * 1024 * 1024)
DATAHUB_XLSX_MAX_RATIO = env.int("DATAHUB_XLSX_MAX_RATIO", default=200)
# Monitoring: sender of alert emails (its webhooks are event subscriptions: EVENT_WEBHOOK_*).
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="cityos-alerts@localhost")
# Rules are evaluated by a thread of the ingesting process (web, MQTT bridge, importer), beside
# the ingest of the next batch, instead of before the response/acknowledgement
# (datahub/monitoring/services/observations.py). Tests evaluate synchronously.
MONITORING_EVALUATE_IN_BACKGROUND = env.bool("MONITORING_EVALUATE_IN_BACKGROUND", default=True)
# Live horizon: a reading older than this (or than the longest window of the rule judging it, if
# longer) is history — a backfill, a replay, a device flushing a long outage. It is stored, rolled
# up and evaluated, but an alert it raises is marked historical: no notification, escalation or
# case. File imports are backfills whatever their dates. The ingest monitor's lag counts only
# batches with live readings.
MONITORING_LIVE_HORIZON_S = env.int("MONITORING_LIVE_HORIZON_S", default=3600)
# A resumable run (historical series import) whose worker has not written a heartbeat for this
# many seconds is taken to have lost its worker and is resumed from its checkpoint. The worker
# beats with every chunk and at least every 2 s, so 60 s tolerates long pauses of a live worker.
DATAHUB_RUN_STALE_S = env.int("DATAHUB_RUN_STALE_S", default=60)
# Readings per import transaction (0: the importer's default, 50,000). Smaller chunks resume
# closer to where a crash happened and move the progress bar more often, at some throughput cost.
DATAHUB_IMPORT_CHUNK = env.int("DATAHUB_IMPORT_CHUNK", default=0)
# Open311 GeoReport v2: the one jurisdiction these endpoints serve (an unknown jurisdiction_id is a 404).
OPEN311_JURISDICTION_ID = env.str("OPEN311_JURISDICTION_ID", default="binjiang.example")
# Maps: an XYZ tile server for the base layer ("https://tiles.example/{z}/{x}/{y}.png", with its
# attribution). Empty (the default, for offline and on-premises deployments): maps draw the city's
# own areas, roads and facilities as a vector base layer instead.
MAP_TILE_URL = env.str("MAP_TILE_URL", default="")
MAP_TILE_ATTRIBUTION = env.str("MAP_TILE_ATTRIBUTION", default="")

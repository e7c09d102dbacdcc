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
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
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
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cityos.urls"
ASGI_APPLICATION = "cityos.asgi.application"
WSGI_APPLICATION = "cityos.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
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
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
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
# Monitoring: sender of alert emails; first webhook retry delay (doubles per attempt, capped at 1 h).
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="cityos-alerts@localhost")
MONITORING_WEBHOOK_BACKOFF_S = env.int("MONITORING_WEBHOOK_BACKOFF_S", default=30)
# Rules are evaluated by a thread of the ingesting process (web, MQTT bridge, importer), beside
# the ingest of the next batch, instead of before the response/acknowledgement
# (datahub/services/monitoring/observations.py). Tests evaluate synchronously.
MONITORING_EVALUATE_IN_BACKGROUND = env.bool("MONITORING_EVALUATE_IN_BACKGROUND", default=True)
# A resumable run (historical series import) whose worker has not written a heartbeat for this
# many seconds is taken to have lost its worker and is resumed from its checkpoint. The worker
# beats with every chunk and at least every 2 s, so 60 s tolerates long pauses of a live worker.
DATAHUB_RUN_STALE_S = env.int("DATAHUB_RUN_STALE_S", default=60)
# Readings per import transaction (0: the importer's default, 50,000). Smaller chunks resume
# closer to where a crash happened and move the progress bar more often, at some throughput cost.
DATAHUB_IMPORT_CHUNK = env.int("DATAHUB_IMPORT_CHUNK", default=0)

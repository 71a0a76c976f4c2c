"""Settings, read from the environment.

With nothing set, the embedded defaults apply: SQLite, the in-memory channel
layer, a local-memory cache and files under a local media folder. Set
DATABASE_URL for PostgreSQL, REDIS_URL for the Redis channel layer and cache,
and AWS_STORAGE_BUCKET_NAME (plus the usual AWS_* settings) for S3-compatible
object storage.
"""

import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AVATAR_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def local_secret(name: str) -> str:
    """A secret from the environment, else one generated once and kept under var/.

    The seed secret must outlive restarts: changing it changes every avatar.
    """
    value = os.environ.get(name)
    if value:
        return value
    path = VAR_DIR / f"{name.lower()}.txt"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


SECRET_KEY = local_secret("DJANGO_SECRET_KEY")
AVATAR_SEED_SECRET = local_secret("AVATAR_SEED_SECRET")
DEBUG = env_bool("DJANGO_DEBUG")
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # before channels: generation's runworker (serving the job queue from the start) wins
    "accounts",
    "generation",
    "channels",
    "django_htmx",
    "ninja",  # its bundled Swagger UI for /v1/docs: no CDN, works offline
]

MIDDLEWARE = [
    "avatarsite.logs.request_id_middleware",
    "avatarsite.request_checks.refuse_hostile_requests",
    "avatarsite.api_handler.InlineSecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "avatarsite.urls"
WSGI_APPLICATION = "avatarsite.wsgi.application"
ASGI_APPLICATION = "avatarsite.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}", conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default has a worker thread writing beside the server: wait
    # for the lock instead of failing, and take it when a transaction starts.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # Tests get a file database, so threads share it through SQLite's locking.
    # TEST_DB_NAME lets two test runs on one machine keep apart.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("TEST_DB_NAME") or str(VAR_DIR / "test-db.sqlite3")
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: a send is one PUBLISH (the list-based layer took four
            # round trips, and a group send three). Delivery is at most once,
            # which suits what goes through it: worker wake-ups (workers poll the
            # queue as well) and job events (waiters re-read the database).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Pub/sub ignores Redis's database index; the prefix keeps
            # deployments sharing a server apart.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL}],
                "prefix": f"avatar{urlsplit(REDIS_URL).path.strip('/') or '0'}:",
            },
        }
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve straight from the app folders too, so a run without collectstatic still has its CSS.
WHITENOISE_USE_FINDERS = True

AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            "querystring_auth": True,
            "signature_version": "s3v4",
            "querystring_expire": int(os.environ.get("AWS_QUERYSTRING_EXPIRE", "3600")),
            "file_overwrite": True,
        },
    }
else:
    default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "avatarsite.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "avatarsite.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": os.environ.get("LOG_FORMAT", "json"),
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# Identity avatars: the style and palette a new user gets when no
# role/team mapping names one.
IDENTITY_DEFAULT_STYLE = os.environ.get("IDENTITY_DEFAULT_STYLE", "people")
IDENTITY_SIGNUP_PNG_SIZE = 256

# Jobs and workers (see generation/jobs/queue.py and generation/jobs/worker.py).
WORKER_CHANNEL = "avatar-jobs"
EMBEDDED_WORKER = env_bool("AVATAR_EMBEDDED_WORKER", default=not REDIS_URL)
JOB_LEASE_SECONDS = float(os.environ.get("JOB_LEASE_SECONDS", "60"))
JOB_MAX_ATTEMPTS = int(os.environ.get("JOB_MAX_ATTEMPTS", "3"))
JOB_POLL_SECONDS = float(os.environ.get("JOB_POLL_SECONDS", "2"))
GENERATE_WAIT_SECONDS = float(os.environ.get("GENERATE_WAIT_SECONDS", "10"))
# The content-safety classifier of portrait photos: "opennsfw" (Apache-2.0 code, BSD model)
# or "nudenet" (AGPL-3.0; install the `nudenet` extra).
PORTRAIT_SAFETY_CLASSIFIER = os.environ.get("PORTRAIT_SAFETY_CLASSIFIER", "opennsfw")
MAX_QUEUE_DEPTH = int(os.environ.get("MAX_QUEUE_DEPTH", "200"))
MAX_BATCH_QUEUE_DEPTH = int(os.environ.get("MAX_BATCH_QUEUE_DEPTH", "2000"))
INPUT_CACHE_HOURS = 24
RESULT_RETENTION_HOURS = int(os.environ.get("RESULT_RETENTION_HOURS", "48"))
PURGE_INTERVAL_SECONDS = float(os.environ.get("PURGE_INTERVAL_SECONDS", "3600"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 30 * 1024 * 1024  # a base64 photo at the 20 MB limit fits
SIGNED_URL_SECONDS = int(os.environ.get("SIGNED_URL_SECONDS", "3600"))
# Hosts image_url may fetch from even on private addresses (tests, internal CDNs).
FETCH_ALLOWED_HOSTS = frozenset(
    h.strip() for h in os.environ.get("FETCH_ALLOWED_HOSTS", "").split(",") if h.strip()
)
# image_url fetches of API calls: their own thread pool, and at most this many per account
# in flight in one process (generation/photo_fetch.py).
FETCH_THREADS = int(os.environ.get("FETCH_THREADS", "32"))
FETCH_CONCURRENCY_PER_ACCOUNT = int(os.environ.get("FETCH_CONCURRENCY_PER_ACCOUNT", "4"))
# /metrics: a bearer token and/or addresses (networks) it is served to; neither: loopback only.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = tuple(
    ipaddress.ip_network(n.strip(), strict=False)
    for n in os.environ.get("METRICS_ALLOWED_IPS", "").split(",")
    if n.strip()
)

# The signup and /me/avatar/ pages (generation/web/): a photo preview starts in this style,
# sized for this platform preset; generations per browser session and per IP address per
# hour; the largest photo upload, refused from its Content-Length before it is read.
SIGNUP_PORTRAIT_STYLE = os.environ.get("SIGNUP_PORTRAIT_STYLE", "corporate_headshot")
SIGNUP_PLATFORM = os.environ.get("SIGNUP_PLATFORM", "linkedin")
PREVIEWS_PER_SESSION_HOUR = int(os.environ.get("PREVIEWS_PER_SESSION_HOUR", "20"))
PREVIEWS_PER_IP_HOUR = int(os.environ.get("PREVIEWS_PER_IP_HOUR", "20"))
PREVIEW_MAX_UPLOAD_BYTES = int(os.environ.get("PREVIEW_MAX_UPLOAD_BYTES", str(10 * 1024 * 1024)))
# {% avatar user 64 %} and user_avatar_url(): the first provider with a URL wins.
AVATAR_PROVIDERS = [
    "generation.avatar_providers.PickedAvatarProvider",
    "generation.avatar_providers.IdentityAvatarProvider",
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/me/avatar/"
LOGOUT_REDIRECT_URL = "/"

# Custom models (generation/jobs/training.py; docs/custom-models.md). Training has its own
# worker channel (`runworker avatar-training`; a thread of its own when embedded).
TRAINING_CHANNEL = "avatar-training"
CUSTOM_MODEL_ENGINE = os.environ.get("CUSTOM_MODEL_ENGINE", "cpu")
DIFFUSION_MODEL_DIR = os.environ.get("DIFFUSION_MODEL_DIR", "") or None
DIFFUSION_TRAIN_STEPS = int(os.environ.get("DIFFUSION_TRAIN_STEPS", "500"))
DIFFUSION_INFERENCE_STEPS = int(os.environ.get("DIFFUSION_INFERENCE_STEPS", "25"))
DIFFUSION_RESOLUTION = int(os.environ.get("DIFFUSION_RESOLUTION", "512"))
SUBJECT_TRAINING_CREDITS = int(os.environ.get("SUBJECT_TRAINING_CREDITS", "20"))
STYLE_TRAINING_CREDITS = int(os.environ.get("STYLE_TRAINING_CREDITS", "40"))
INFERENCE_IMAGE_CREDITS = int(os.environ.get("INFERENCE_IMAGE_CREDITS", "1"))
INFERENCE_RETENTION_HOURS = int(os.environ.get("INFERENCE_RETENTION_HOURS", "48"))
# Site users (not API accounts) train and draw free, with a daily limit per user.
SITE_TRAININGS_PER_DAY = int(os.environ.get("SITE_TRAININGS_PER_DAY", "3"))
SITE_INFERENCE_IMAGES_PER_DAY = int(os.environ.get("SITE_INFERENCE_IMAGES_PER_DAY", "40"))

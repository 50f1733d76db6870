"""Settings for the respiratory-audio portal: one module, driven by the environment.

With nothing set, the project runs on its embedded default (SQLite in WAL mode under ``var/``, local
file storage under ``var/media/``, the embedded Redis server that ``make run`` starts, and a secret key
generated once into ``var/``). Production sets ``DJANGO_ENV=production`` with ``SECRET_KEY``,
``DATABASE_URL``, ``REDIS_URL`` and, usually, ``STORAGE_BACKEND=s3``; it refuses to start without them.
"""

import importlib.util
import ipaddress
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from botocore.config import Config as BotoConfig
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

from media_assets.encryption import KeyRing, new_key_entry

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'.")
PRODUCTION = DJANGO_ENV == "production"

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def _require(name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_ENV=production.")
    return value


def _generated_once(name: str, make) -> str:
    """The content of ``var/<name>``, written 0600 by the first process that needs it. Processes
    starting together race here: the file appears whole (a link to a finished file) or not at
    all."""
    path = VAR_DIR / name
    if not path.exists():
        fd, draft = tempfile.mkstemp(dir=VAR_DIR, prefix=f".{name}.")  # created 0600
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_text().strip()


# Marks of a value copied from an example rather than generated (Django's own and ours).
_PLACEHOLDER_KEY_MARKS = ("django-insecure", "change-me", "changeme", "placeholder", "example")


def _production_secret_key() -> str:
    key = _require("SECRET_KEY")
    if (
        len(key) < 50
        or len(set(key)) < 5
        or any(mark in key.lower() for mark in _PLACEHOLDER_KEY_MARKS)
    ):
        raise ImproperlyConfigured(
            "SECRET_KEY must be a random value of at least 50 characters, not a placeholder: "
            "python -c 'import secrets; print(secrets.token_urlsafe(64))'."
        )
    return key


def _private_sqlite_files(name: str) -> None:
    """The SQLite database and its -wal and -shm files readable by this user only: SQLite gives
    the -wal and -shm files the database's own mode, so the database is created 0600 first."""
    if name == ":memory:" or name.startswith("file:"):
        return
    database = Path(name)
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
    for path in (database, Path(f"{name}-wal"), Path(f"{name}-shm")):
        if path.exists() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


if PRODUCTION:
    SECRET_KEY = _production_secret_key()
    _require("DATABASE_URL")
    _require("REDIS_URL")
else:
    # Generated once, so that sessions survive restarts of ``make run``.
    SECRET_KEY = env.str("SECRET_KEY", default="") or _generated_once(
        "secret_key", lambda: secrets.token_urlsafe(64)
    )

DEBUG = env.bool("DJANGO_DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off when DJANGO_ENV=production.")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_ENV=production.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The proxies (addresses or networks) whose X-Forwarded-For is believed, by the web server
# (uvicorn --forwarded-allow-ips), the sign-in lockout, the rate limits and the audit log alike
# (portal.core.observability.client_ip). Empty: the header is never believed.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
try:
    [ipaddress.ip_network(proxy, strict=False) for proxy in TRUSTED_PROXIES]
except ValueError as exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}.") from None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "storages",
    "channels",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "portal.core",
    "media_assets",
    "diagnostics",
    "recommender",
    "portal.fhir",
    "portal",
    "portal.sso",
    # Not djangosaml2: its views are used (portal.sso.saml_views), not its app, whose template tag
    # library imports pysaml2 (a second) in every process that renders a template. Its templates
    # (the HTTP-POST binding's form) are found through TEMPLATES' DIRS below.
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "portal.core.observability.RequestIdMiddleware",
    "portal.core.database.RetryIdempotentMiddleware",
    # Inside the retry: each attempt reads the user's memberships afresh.
    "portal.core.permissions.RequestScopeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise: every answer but a static file is marked no-store (patient data).
    "portal.core.no_store.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.core.sessions.SessionRenewalMiddleware",
    # SAML's own short-lived session (djangosaml2): the provider's answer is a cross-site POST,
    # which the Lax session cookie does not accompany.
    "djangosaml2.middleware.SamlSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.core.second_factor.SecondFactorMiddleware",
    "portal.core.audit.DenialAuditMiddleware",
    "portal.errors.DomainErrorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

DJANGOSAML2_TEMPLATES = Path(importlib.util.find_spec("djangosaml2").origin).parent / "templates"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", DJANGOSAML2_TEMPLATES],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
SQLITE_OPTIONS = {
    # WAL lets the web process read while a worker writes; IMMEDIATE avoids the "database is
    # locked" upgrade deadlock between concurrent writers.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}
if env.str("DATABASE_URL", default=""):
    _db = env.db("DATABASE_URL")
else:
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "db.sqlite3")}
if _db["ENGINE"].endswith("sqlite3"):
    # django-prometheus' SQLite, with a flush that keeps the audit log's triggers.
    _db["ENGINE"] = "portal.core.db.sqlite3"
    _db["OPTIONS"] = SQLITE_OPTIONS
    _private_sqlite_files(str(_db["NAME"]))
    # Worker and server processes started by tests must see the test database, so it is a file;
    # one per test run, so that two runs on one machine do not share it.
    _db["TEST"] = {"NAME": str(Path(_db["NAME"]).with_name(f"test-db-{os.getpid()}.sqlite3"))}
elif _db["ENGINE"].endswith("postgresql"):
    # django-prometheus' PostgreSQL, each statement within the protocol's 65,535 parameters.
    _db["ENGINE"] = "portal.core.db.postgresql"
    _db["CONN_MAX_AGE"] = 0  # the pool owns connection reuse
    # The pool checks a connection before handing it out: after a restart of PostgreSQL it
    # replaces the dead ones instead of failing the requests that get them.
    _db["CONN_HEALTH_CHECKS"] = True
    _db["OPTIONS"] = {
        "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=5),
        "pool": {
            "min_size": env.int("DATABASE_POOL_MIN", default=1),
            "max_size": env.int("DATABASE_POOL_MAX", default=10),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
            # After a failed connection attempt the pool tries again after 1 s, 2 s, 4 s … and
            # blocks growing meanwhile: after a 70 s outage a process got its first connection
            # 45 to 63 s after PostgreSQL was back. Giving up after this long lets the next
            # request start a fresh attempt at once (4.8 s; bench/db_outage.py).
            "reconnect_timeout": env.float("DATABASE_RECONNECT_TIMEOUT", default=5.0),
        },
    }
    # Prepared statements: psycopg prepares a query once it has run this many times on a
    # connection, and PostgreSQL then skips parsing and planning it. They need server-side
    # binding and a connection that stays the same (not PgBouncer in transaction mode), so they
    # are off unless set.
    _prepare_threshold = env.int("DATABASE_PREPARE_THRESHOLD", default=0)
    if _prepare_threshold > 0:
        _db["OPTIONS"] |= {"server_side_binding": True, "prepare_threshold": _prepare_threshold}
else:
    raise ImproperlyConfigured("DATABASE_URL must be a postgres:// or sqlite:// URL.")
DATABASES = {"default": _db}
# While the database is unreachable, new connections are refused at once for this long before
# one tries again (``portal.core.database``): a request waits for the pool's timeout at most once.
DATABASE_BREAKER_COOLDOWN_S = env.float("DATABASE_BREAKER_COOLDOWN_S", default=5.0)
# HTTP requests a web process runs at once (``portal.admission``); the others wait their turn.
# Two fewer than the pool's connections, which stay free for the live sockets' database thread.
WEB_CONCURRENT_REQUESTS = env.int(
    "WEB_CONCURRENT_REQUESTS", default=max(1, env.int("DATABASE_POOL_MAX", default=10) - 2)
)
DATABASE_VENDOR = "postgresql" if "postgresql" in DATABASES["default"]["ENGINE"] else "sqlite"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, channel layer and cache ------------------------------------------------
EMBEDDED_REDIS_PORT = env.int("EMBEDDED_REDIS_PORT", default=6390)
EMBEDDED_REDIS = not env.str("REDIS_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="") or f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "portal",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    },
    # Each process's own memory, for what may be a few minutes old and must not wait on Redis
    # (home's chart of past days and its counts of today's settled rows: portal.pages.selectors).
    "local": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "portal-local",
        "OPTIONS": {"MAX_ENTRIES": 1000},
    },
}
# Live results (diagnostics.live): a page's channel holds up to CHANNEL_CAPACITY messages while
# its socket is slow to read them (a burst of 1,000 uploads for one patient is 2,000 messages,
# "running" and the result, of about half a kilobyte each); beyond that the page reconciles with
# GET /api/v1/patients/{id}/pending/. A socket renews its group membership every third of
# CHANNEL_GROUP_EXPIRY_S, so the channel of one that died without a goodbye leaves its group
# within that time.
CHANNEL_CAPACITY = env.int("CHANNEL_CAPACITY", default=2000)
CHANNEL_GROUP_EXPIRY_S = env.int("CHANNEL_GROUP_EXPIRY_S", default=300)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": "portal-channels",
            "capacity": CHANNEL_CAPACITY,
            "group_expiry": CHANNEL_GROUP_EXPIRY_S,
        },
    }
}

# --- Storage ---------------------------------------------------------------------------------------
STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="local")
if STORAGE_BACKEND == "s3":
    # Objects at rest are encrypted by S3 with a KMS key (SSE-KMS); production names the key, or
    # says explicitly that the bucket's own default encryption is relied on instead.
    if (
        PRODUCTION
        and not env.str("AWS_S3_KMS_KEY_ID", default="")
        and not env.bool("AWS_S3_KMS_OPT_OUT", default=False)
    ):
        raise ImproperlyConfigured(
            "AWS_S3_KMS_KEY_ID must be set when DJANGO_ENV=production and STORAGE_BACKEND=s3 "
            "(or AWS_S3_KMS_OPT_OUT=true to rely on the bucket's default encryption)."
        )
    _object_parameters = {}
    if env.str("AWS_S3_KMS_KEY_ID", default=""):
        _object_parameters = {
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": env.str("AWS_S3_KMS_KEY_ID"),
        }
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME", default="")
            or _require("AWS_STORAGE_BUCKET_NAME"),
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
            "querystring_expire": env.int("MEDIA_URL_EXPIRE_SECONDS", default=300),
            "object_parameters": _object_parameters,
        },
    }
elif STORAGE_BACKEND == "local":
    # Every object is encrypted at rest (AES-256-GCM, media_assets.encryption) under the key ring
    # "id:base64,id:base64": the first key encrypts, all decrypt (rotation: reencrypt_storage).
    if PRODUCTION:
        STORAGE_ENCRYPTION_KEYS = _require("STORAGE_ENCRYPTION_KEYS")
    else:
        STORAGE_ENCRYPTION_KEYS = env.str("STORAGE_ENCRYPTION_KEYS", default="") or (
            _generated_once("storage_encryption_keys", lambda: new_key_entry("k1"))
        )
    try:
        KeyRing.parse(STORAGE_ENCRYPTION_KEYS)
    except ValueError as exc:
        raise ImproperlyConfigured(f"STORAGE_ENCRYPTION_KEYS: {exc}") from None
    # Recordings are never served as public static files: base_url is None and media goes through a
    # permission-checked view.
    _default_storage = {
        "BACKEND": "media_assets.encrypted_storage.EncryptedFileSystemStorage",
        "OPTIONS": {
            "location": env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")),
            "base_url": None,
        },
    }
else:
    raise ImproperlyConfigured("STORAGE_BACKEND must be 'local' or 's3'.")

# Every read of a stored recording (analysis, spectrogram, research copy, embeddings) ends within
# STORAGE_READ_TIMEOUT_S or fails that recording alone (media_assets.storage.read_object); S3's
# client gives up on a connection or a silent socket sooner.
STORAGE_READ_TIMEOUT_S = env.float("STORAGE_READ_TIMEOUT_S", default=15.0)
STORAGE_CONNECT_TIMEOUT_S = env.float("STORAGE_CONNECT_TIMEOUT_S", default=5.0)
# The object store's circuit breaker on the upload path (media_assets.storage_breaker): this many
# storage failures in a row within the window open it; uploads are then refused at once (503,
# Retry-After) for the cool-down, after which one call probes the store again.
STORAGE_BREAKER_FAILURES = env.int("STORAGE_BREAKER_FAILURES", default=5)
STORAGE_BREAKER_WINDOW_S = env.float("STORAGE_BREAKER_WINDOW_S", default=60.0)
STORAGE_BREAKER_COOLDOWN_S = env.float("STORAGE_BREAKER_COOLDOWN_S", default=15.0)
if STORAGE_BACKEND == "s3":
    _default_storage["OPTIONS"]["client_config"] = BotoConfig(
        connect_timeout=STORAGE_CONNECT_TIMEOUT_S,
        read_timeout=STORAGE_READ_TIMEOUT_S,
        retries={"max_attempts": 3, "mode": "standard"},
    )

STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
        # Public assets, collected by root into the image and read by its unprivileged user: not
        # the private mode FILE_UPLOAD_PERMISSIONS gives stored files.
        "OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755},
    },
}
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = not PRODUCTION
# Source maps are read only by a browser's developer tools, which take them as they are: the API
# documentation's (drf-spectacular-sidecar) are the largest files collected, 13 MB with their
# hashed copies, and compressing them (gzip and Brotli) was half of collectstatic's time.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]

# --- Recordings ------------------------------------------------------------------------------------
RECORDING_MAX_BYTES = env.int("RECORDING_MAX_BYTES", default=20 * 1024 * 1024)
# The whole request body may exceed the file by a little multipart framing, never by more.
REQUEST_MAX_BYTES = RECORDING_MAX_BYTES + 256 * 1024
RECORDING_MIN_SECONDS = env.float("RECORDING_MIN_SECONDS", default=0.5)
RECORDING_MAX_SECONDS = env.float("RECORDING_MAX_SECONDS", default=60.0)
# The quality gate (diagnostics.quality_gate): above these shares of silent 20 ms frames or of
# clipped samples, or a cough recording without a detected cough, the result shows
# "inconclusive: re-record" with the reason, whatever the model's confidence.
QUALITY_GATE_MAX_SILENCE_RATIO = env.float("QUALITY_GATE_MAX_SILENCE_RATIO", default=0.8)
QUALITY_GATE_MAX_CLIPPING_RATIO = env.float("QUALITY_GATE_MAX_CLIPPING_RATIO", default=0.01)
QUALITY_GATE_COUGH_REQUIRED = env.bool("QUALITY_GATE_COUGH_REQUIRED", default=True)
RECORDING_SAMPLE_RATES = tuple(
    env.list(
        "RECORDING_SAMPLE_RATES",
        cast=int,
        default=[8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 96000],
    )
)
RECORDING_MAX_CHANNELS = env.int("RECORDING_MAX_CHANNELS", default=2)
ANALYSIS_SAMPLE_RATE = 16000
PENDING_UPLOAD_MAX_AGE_S = env.int("PENDING_UPLOAD_MAX_AGE_S", default=24 * 3600)
DIRECT_UPLOAD_EXPIRE_S = env.int("DIRECT_UPLOAD_EXPIRE_S", default=15 * 60)
RECONCILE_GRACE_S = env.int("RECONCILE_GRACE_S", default=3600)
# An upload the server writes holds its pending row locked; one older than this that nobody holds
# was abandoned by a process that died (media_assets.maintenance). It only bridges the moment
# between the row's commit and its lock (SQLite, without row locks, waits RECONCILE_GRACE_S).
RECONCILE_UPLOAD_GRACE_S = env.int("RECONCILE_UPLOAD_GRACE_S", default=2)
# `reconcile_storage --verify` reads stored objects at most this fast, beside live traffic.
RECONCILE_VERIFY_BYTES_PER_S = env.int("RECONCILE_VERIFY_BYTES_PER_S", default=20 * 1024 * 1024)
# Hourly upload quotas per clinician and per site (media_assets.quotas); 0 turns one off.
UPLOAD_QUOTA_USER_PER_HOUR = env.int("UPLOAD_QUOTA_USER_PER_HOUR", default=120)
UPLOAD_QUOTA_USER_BYTES_PER_HOUR = env.int("UPLOAD_QUOTA_USER_BYTES_PER_HOUR", default=500 * 2**20)
UPLOAD_QUOTA_SITE_PER_HOUR = env.int("UPLOAD_QUOTA_SITE_PER_HOUR", default=2000)
UPLOAD_QUOTA_SITE_BYTES_PER_HOUR = env.int("UPLOAD_QUOTA_SITE_BYTES_PER_HOUR", default=5 * 2**30)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # larger uploads spool to a temporary file
# Stored files and their folders are this user's only (the temporary upload files already are).
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# --- Inference -------------------------------------------------------------------------------------
# A task claims up to this many waiting first attempts at once (one claim, one broker message).
INFERENCE_BATCH_SIZE = env.int("INFERENCE_BATCH_SIZE", default=32)
# Claimed batches run through the model in calls of this many, one call queued behind the one the
# model runs, the next call's audio loaded and the last call's results recorded meanwhile
# (diagnostics.inference). Sizes measured in docs/benchmarks.md (bench/inference.py part (w)).
INFERENCE_MODEL_BATCH = env.int("INFERENCE_MODEL_BATCH", default=16)
# A task that has analysed a batch of first attempts goes on with the next waiting batch, claimed
# while the model runs the last call, for up to this long (well under the task's time limit).
INFERENCE_DRAIN_S = env.float("INFERENCE_DRAIN_S", default=5.0)
INFERENCE_MAX_ATTEMPTS = env.int("INFERENCE_MAX_ATTEMPTS", default=3)
# Below this confidence a result is shown as "inconclusive: please re-record or review".
INFERENCE_CONFIDENCE_THRESHOLD = env.float("INFERENCE_CONFIDENCE_THRESHOLD", default=0.6)
# The sweeper re-enqueues work that has waited or run this long with nothing in the broker for it.
INFERENCE_STUCK_QUEUED_S = env.int("INFERENCE_STUCK_QUEUED_S", default=60)
INFERENCE_STUCK_RUNNING_S = env.int("INFERENCE_STUCK_RUNNING_S", default=120)
INFERENCE_SWEEP_INTERVAL_S = env.int("INFERENCE_SWEEP_INTERVAL_S", default=30)
# Capacity and backpressure (docs/capacity.md). A waiting diagnostic's expected wait is its queue
# position over the workers' measured throughput: each worker's clips per busy second over the
# last INFERENCE_THROUGHPUT_WINDOW_S, summed over the workers; until one has been measured, over
# INFERENCE_FALLBACK_CLIPS_PER_S (a tenth of one CPU worker's 492 clips/s in docs/benchmarks.md).
INFERENCE_THROUGHPUT_WINDOW_S = env.int("INFERENCE_THROUGHPUT_WINDOW_S", default=60)
INFERENCE_FALLBACK_CLIPS_PER_S = env.float("INFERENCE_FALLBACK_CLIPS_PER_S", default=50.0)
# An upload expected to wait longer is still accepted, answered 202 with a Retry-After for polling.
INFERENCE_MAX_WAIT_S = env.int("INFERENCE_MAX_WAIT_S", default=60)
# With this many diagnostics waiting, uploads are refused (503 queue_full, Retry-After), nothing stored.
INFERENCE_QUEUE_HARD_LIMIT = env.int("INFERENCE_QUEUE_HARD_LIMIT", default=100_000)
MODEL_CACHE_DIR = Path(env.str("MODEL_CACHE_DIR", default=str(VAR_DIR / "model-cache")))

# --- Watching the model: canary and shadow trials, agreement, input drift (docs/model.md) ----------
# A canary or shadow is compared with production every CANARY_CHECK_INTERVAL_S over the same period
# and rolled back by itself when, with at least the minimum cases on both sides, its agreement with
# reviews is lower by more than CANARY_MAX_AGREEMENT_DROP, or its inconclusive or error rate higher
# by more than its bound (fractions: 0.05 is five percentage points).
CANARY_CHECK_INTERVAL_S = env.int("CANARY_CHECK_INTERVAL_S", default=300)
CANARY_MIN_REVIEWED = env.int("CANARY_MIN_REVIEWED", default=30)
CANARY_MIN_ANALYSED = env.int("CANARY_MIN_ANALYSED", default=100)
CANARY_MAX_AGREEMENT_DROP = env.float("CANARY_MAX_AGREEMENT_DROP", default=0.05)
CANARY_MAX_INCONCLUSIVE_RISE = env.float("CANARY_MAX_INCONCLUSIVE_RISE", default=0.05)
CANARY_MAX_ERROR_RISE = env.float("CANARY_MAX_ERROR_RISE", default=0.02)
# Daily agreement and input rows are refreshed this often (today's and yesterday's, and the days of
# recent reviews); input drift is measured over the last DRIFT_WINDOW_DAYS of them.
WATCH_REFRESH_INTERVAL_S = env.int("WATCH_REFRESH_INTERVAL_S", default=600)
DRIFT_WINDOW_DAYS = env.int("DRIFT_WINDOW_DAYS", default=7)
# --- Training, evaluation and the promotion gate (docs/model.md) -----------------------------------
# The operating points every evaluation reports: the sensitivity at the specificity the site
# chooses, and the specificity at the chosen sensitivity.
EVALUATION_TARGET_SPECIFICITY = env.float("EVALUATION_TARGET_SPECIFICITY", default=0.90)
EVALUATION_TARGET_SENSITIVITY = env.float("EVALUATION_TARGET_SENSITIVITY", default=0.90)
EVALUATION_BOOTSTRAP_RESAMPLES = env.int("EVALUATION_BOOTSTRAP_RESAMPLES", default=1000)
# A candidate is promotable only if, on the same evaluation set, its AUC and its sensitivity at
# EVALUATION_TARGET_SPECIFICITY are not below production's by more than these margins, and no
# subgroup with at least GATE_SUBGROUP_MIN_CASES cases loses more than GATE_SUBGROUP_MARGIN.
GATE_AUC_MARGIN = env.float("GATE_AUC_MARGIN", default=0.02)
GATE_SENSITIVITY_MARGIN = env.float("GATE_SENSITIVITY_MARGIN", default=0.05)
GATE_SUBGROUP_MARGIN = env.float("GATE_SUBGROUP_MARGIN", default=0.10)
GATE_SUBGROUP_MIN_CASES = env.int("GATE_SUBGROUP_MIN_CASES", default=30)
# A training run is killed after this long (Celery's time limit for the training task only).
TRAINING_TIME_LIMIT_S = env.int("TRAINING_TIME_LIMIT_S", default=6 * 3600)

# --- Auth and sessions -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses locked-out credentials before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Single sign-on (portal.sso): answers only an OpenID Connect callback, and only when
    # OIDC_RP_CLIENT_ID is set; it must stay listed so that its sessions load.
    "portal.sso.oidc.ProviderBackend",
]
# Failed sign-ins, counted by portal.core.lockout: per username and address (a lockout there only),
# per address across usernames (a spray), per username across addresses (one guess per address).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=20)
LOGIN_USERNAME_FAILURE_LIMIT = env.int("LOGIN_USERNAME_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "portal.core.lockout.SignInLockout"
AXES_LOCKOUT_CALLABLE = "portal.core.lockout.paused_response"
AXES_CLIENT_IP_CALLABLE = "portal.core.observability.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# A second factor (a time-based one-time code) for every account that reaches patient data:
# administrators, staff and site administrators always; clinicians and researchers where
# OTP_REQUIRED_ROLES names their role (production names both by default). Pages, admin, API tokens
# and live sockets all ask portal.core.second_factor. A first authenticator is enrolled only
# through a one-time link an administrator issues (ENROLMENT_LINK_HOURS), never with a password.
OTP_REQUIRED_ROLES = env.list(
    "OTP_REQUIRED_ROLES", default=["clinician", "researcher"] if PRODUCTION else []
)
if set(OTP_REQUIRED_ROLES) - {"clinician", "researcher", "site_admin"}:
    raise ImproperlyConfigured("OTP_REQUIRED_ROLES may name clinician, researcher, site_admin.")
ENROLMENT_LINK_HOURS = env.int("ENROLMENT_LINK_HOURS", default=72)
OTP_TOTP_ISSUER = "Respiratory audio portal"
# A live socket re-checks, this often, that the session which opened it is still signed in.
SOCKET_SESSION_CHECK_SECONDS = env.float("SOCKET_SESSION_CHECK_SECONDS", default=30.0)
# A message goes out without asking the database again while the socket's last session check is
# younger than this and the session's expiry it read is ahead (diagnostics.consumers).
SOCKET_SESSION_TRUST_SECONDS = env.float("SOCKET_SESSION_TRUST_SECONDS", default=5.0)
DEMO_TOTP_KEY = env.str("DEMO_TOTP_KEY", default="")
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
# The age above is an idle timeout, not a fixed lifetime: portal.core.sessions renews it, at most once
# every SESSION_RENEW_SECONDS, instead of rewriting the session on every request.
SESSION_RENEW_SECONDS = env.int("SESSION_RENEW_SECONDS", default=60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="")

# --- Single sign-on through the hospital's identity provider (portal.sso, docs/integration.md) --
# OpenID Connect, authorization code with PKCE, is on when OIDC_RP_CLIENT_ID is set; local
# passwords stay for the embedded default and break-glass accounts.
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
# RP-initiated logout: signing out here signs out at the provider too.
OIDC_OP_LOGOUT_ENDPOINT = env.str("OIDC_OP_LOGOUT_ENDPOINT", default="")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid profile email")
OIDC_TOKEN_USE_BASIC_AUTH = env.bool("OIDC_TOKEN_USE_BASIC_AUTH", default=False)
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT", default=10.0)
# The claim that lists the user's groups, and how groups become site memberships and roles:
# {"group": "site_code:role"} or {"group": ["site_code:role", ...]} (SSO_GROUP_MAP, JSON).
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
SSO_GROUP_MAP = env.json("SSO_GROUP_MAP", default={})
# The provider's word that the user gave a second factor: an ``amr`` value among these, or an
# ``acr`` among OIDC_MFA_ACR_VALUES.
OIDC_MFA_AMR_VALUES = env.list(
    "OIDC_MFA_AMR_VALUES", default=["mfa", "otp", "hwk", "swk", "sms", "fpt", "face", "pop"]
)
OIDC_MFA_ACR_VALUES = env.list("OIDC_MFA_ACR_VALUES", default=[])
# mozilla-django-oidc's switches that are not the operator's choice.
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of the provider's sign-out
OIDC_AUTHENTICATION_CALLBACK_URL = "sso:oidc-callback"
LOGIN_REDIRECT_URL_FAILURE = "/sso/refused/"
# SAML 2.0, the alternative (djangosaml2, pysaml2 and xmlsec1): on when SAML_SP_BASE_URL and the
# identity provider's metadata (a URL or a file) are set. The same group map applies.
SAML_SP_BASE_URL = env.str("SAML_SP_BASE_URL", default="")
SAML_IDP_METADATA_URL = env.str("SAML_IDP_METADATA_URL", default="")
SAML_IDP_METADATA_FILE = env.str("SAML_IDP_METADATA_FILE", default="")
SAML_GROUPS_ATTRIBUTE = env.str("SAML_GROUPS_ATTRIBUTE", default="groups")
# Authentication context classes that mean a second factor was given at the provider.
SAML_MFA_AUTHN_CONTEXTS = env.list(
    "SAML_MFA_AUTHN_CONTEXTS",
    default=[
        "http://schemas.microsoft.com/claims/multipleauthn",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:X509",
    ],
)
SAML_CONFIG_LOADER = "portal.sso.saml_views.sp_config"
SAML_SESSION_COOKIE_NAME = "saml_session"

# --- Security (check --deploy is clean in production) ---------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Probes come from the orchestrator over plain HTTP; /metrics is not exempt (it needs TLS and
    # METRICS_TOKEN: docs/deploy.md says how Prometheus scrapes it).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env.bool("BEHIND_TLS_PROXY", default=True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Prometheus scrapes /metrics with "Authorization: Bearer <METRICS_TOKEN>"; production without a
# token serves no metrics on the web port (portal.health.metrics).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Or bound apart: the web process serves its metrics on a port of its own (plain HTTP, no token),
# on an address only Prometheus reaches (portal.health.serve_metrics_apart).
WEB_METRICS_PORT = env.int("WEB_METRICS_PORT", default=0)
WEB_METRICS_ADDR = env.str("WEB_METRICS_ADDR", default="127.0.0.1")
# On SIGTERM a web process answers /readyz 503 for this long before it stops listening, so a load
# balancer that probes it stops sending it requests first (portal.draining, docs/deploy.md).
WEB_DRAIN_DELAY_S = env.float("WEB_DRAIN_DELAY_S", default=0.0)

# --- Internationalisation --------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ar", "العربية")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- REST framework --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.core.rest.authentication.RevocableJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "EXCEPTION_HANDLER": "portal.core.rest.errors.exception_handler",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=10)),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=env.int("JWT_REFRESH_HOURS", default=12)),
    # A refresh token works once: refreshing returns a new one and blacklists the old.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Respiratory audio portal API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "kind" or a "status": name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "RecordingKindEnum": "media_assets.models.RecordingKind.choices",
        "RecordingStatusEnum": "media_assets.models.RecordingStatus.choices",
        "DiagnosticStatusEnum": "diagnostics.models.DiagnosticStatus.choices",
        "ModelStatusEnum": "diagnostics.models.ModelStatus.choices",
        "DiagnosticLabelEnum": "diagnostics.models.Label.choices",
        "InteractionKindEnum": "recommender.models.InteractionKind.choices",
    },
}

# --- Celery ----------------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True  # outcomes live in the database, not in a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a task whose worker died goes back on the queue
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # the LOGGING below (JSON, request ids) applies in workers
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ("default", "inference", "recommender", "maintenance", "training")
CELERY_TASK_ROUTES = {
    "diagnostics.tasks.run_diagnostic": {"queue": "inference"},
    "diagnostics.tasks.run_training": {"queue": "training"},
    "diagnostics.tasks.compare_with_production": {"queue": "training"},
    "diagnostics.tasks.*": {"queue": "maintenance"},
    "recommender.tasks.*": {"queue": "recommender"},
    "media_assets.tasks.*": {"queue": "maintenance"},
    "portal.core.tasks.*": {"queue": "maintenance"},
}
# The Redis transport redelivers an unacknowledged task only after the visibility timeout; the
# default (an hour) would hide a dead worker's work for an hour. Tasks are idempotent and bounded by
# time limits below this, so a short timeout only costs a harmless duplicate delivery.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=60)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "unacked_restore_limit": 100,
    "socket_connect_timeout": 5,
    "health_check_interval": 10,
    # While the broker is away, try again every second, not with kombu's back-off up to 30 s:
    # workers (portal.celery.PromptReconnectConsumer) are back within 2 s of the broker's return.
    "interval_start": 0.5,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_WORKER_CONSUMER = "portal.celery:PromptReconnectConsumer"
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=50)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=40)
# Where the workers share cores with the web server (``make run``, one VM), their analyses and
# pictures must not hold a clinician's page up: a worker lowers its own CPU priority to this
# niceness at start (``portal.celery``), so the pages come first and background work takes the
# rest. 0 leaves it as started. In Kubernetes each pod has cores of its own and it changes nothing.
WORKER_NICENESS = env.int("WORKER_NICENESS", default=10)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-diagnostics": {
        "task": "diagnostics.tasks.sweep_stuck_diagnostics",
        "schedule": INFERENCE_SWEEP_INTERVAL_S,
        "options": {"queue": "maintenance"},
    },
    "render-missing-spectrograms": {
        "task": "diagnostics.tasks.render_missing_spectrograms",
        "schedule": crontab(minute="*/10"),
        "options": {"queue": "maintenance"},
    },
    "cleanup-pending-uploads": {
        "task": "media_assets.tasks.cleanup_pending_uploads",
        "schedule": crontab(minute=5),
    },
    "reconcile-storage": {
        "task": "media_assets.tasks.reconcile_storage",
        "schedule": crontab(minute=35, hour=2),
    },
    "check-model-trials": {
        "task": "diagnostics.tasks.check_model_trials",
        "schedule": CANARY_CHECK_INTERVAL_S,
        "options": {"queue": "maintenance"},
    },
    "refresh-model-watch": {
        "task": "diagnostics.tasks.refresh_model_watch",
        "schedule": WATCH_REFRESH_INTERVAL_S,
        "options": {"queue": "maintenance"},
    },
    "purge-expired-sessions": {
        "task": "portal.core.tasks.purge_expired_sessions",
        "schedule": crontab(minute=17, hour=3),
    },
    "catch-up-fhir-pushes": {
        "task": "portal.fhir.tasks.catch_up",
        "schedule": crontab(minute="*/10"),
    },
    "reconcile-patients-with-record": {
        "task": "portal.fhir.tasks.reconcile_patients",
        "schedule": crontab(minute=47, hour=1),
    },
}

# --- Hospital record (FHIR R4; docs/integration.md) ------------------------------------------------
# Unset (the embedded default): nothing is pushed, and the patient form offers no record search.
FHIR_BASE_URL = env.str("FHIR_BASE_URL", default="")
# Authentication: a bearer token as given, or OAuth2 client credentials (the token URL wins).
FHIR_TOKEN = env.str("FHIR_TOKEN", default="")
FHIR_TOKEN_URL = env.str("FHIR_TOKEN_URL", default="")
FHIR_CLIENT_ID = env.str("FHIR_CLIENT_ID", default="")
FHIR_CLIENT_SECRET = env.str("FHIR_CLIENT_SECRET", default="")
FHIR_SCOPE = env.str("FHIR_SCOPE", default="")
# The hospital's identifier system for patients (the URI of its medical record numbers).
FHIR_PATIENT_IDENTIFIER_SYSTEM = env.str(
    "FHIR_PATIENT_IDENTIFIER_SYSTEM", default="urn:oid:2.16.840.1.113883.19.5"
)
FHIR_TIMEOUT_S = env.float("FHIR_TIMEOUT_S", default=10.0)
# A delivery the server could not take is tried again after FHIR_RETRY_BASE_S, doubling up to
# FHIR_RETRY_MAX_S, FHIR_MAX_ATTEMPTS times in all (then it is a dead letter, in the admin).
FHIR_MAX_ATTEMPTS = env.int("FHIR_MAX_ATTEMPTS", default=8)
FHIR_RETRY_BASE_S = env.float("FHIR_RETRY_BASE_S", default=30.0)
FHIR_RETRY_MAX_S = env.float("FHIR_RETRY_MAX_S", default=3600.0)
# Every 10 minutes, pushes whose message was lost (the broker was down) are made: for results and
# reviews of the last FHIR_CATCH_UP_HOURS, older than FHIR_CATCH_UP_GRACE_S.
FHIR_CATCH_UP_HOURS = env.int("FHIR_CATCH_UP_HOURS", default=24)
FHIR_CATCH_UP_GRACE_S = env.int("FHIR_CATCH_UP_GRACE_S", default=120)

# --- Logging: JSON lines with the request id; never personal data ---------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "portal.core.observability.RequestIdFilter"},
        "path_free": {"()": "portal.core.observability.PathFreeFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id", "path_free"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's request logger puts the path in its message and the request (with its query
        # string) in the record: PathFreeFilter above rewrites both, and the access log of
        # portal.core.observability says which route answered what.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": [], "level": "ERROR", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "ERROR", "propagate": False},
    },
}

# --- Clinician pages -------------------------------------------------------------------------------
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
# The page warns this long before the idle timeout above signs the user out.
SESSION_EXPIRY_WARNING_SECONDS = 120
# A strict Content-Security-Policy (django-csp): scripts and styles only from our own files (no
# inline script, no inline style attribute, no CDN), media from our own URLs and the blobs the
# recorder plays back, connections only to this host ('self' covers its WebSocket). The admin and
# the API documentation bring their own inline scripts and are left alone.
MIDDLEWARE += ["csp.middleware.CSPMiddleware", "portal.csp.PermissionsPolicyMiddleware"]
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/admin/", "/api/docs/", "/api/schema/"],
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
if OIDC_OP_LOGOUT_ENDPOINT:
    # Signing out (a form posted here) goes on to the identity provider's sign-out, and browsers
    # hold that redirect to form-action too.
    _provider = urlsplit(OIDC_OP_LOGOUT_ENDPOINT)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(
        f"{_provider.scheme}://{_provider.netloc}"
    )

# --- Recommender -----------------------------------------------------------------------------------
# Similar confirmed cases and the review queue's priorities (recommender/, docs/recommender.md).
RECOMMENDER_STORAGE_PREFIX = env.str("RECOMMENDER_STORAGE_PREFIX", default="recommender")
# Up to this many cases the index is exact (IndexFlatIP); above it, approximate.
RECOMMENDER_EXACT_MAX = env.int("RECOMMENDER_EXACT_MAX", default=50_000)
# "ivf" builds 1M cases in well under a minute on two cores; "hnsw" searches a little faster but
# takes minutes to build at that size (docs/recommender.md has the figures).
RECOMMENDER_ANN = env.str("RECOMMENDER_ANN", default="ivf")
RECOMMENDER_IVF_NPROBE = env.int("RECOMMENDER_IVF_NPROBE", default=32)
RECOMMENDER_HNSW_M = env.int("RECOMMENDER_HNSW_M", default=32)
RECOMMENDER_HNSW_EF_CONSTRUCTION = env.int("RECOMMENDER_HNSW_EF_CONSTRUCTION", default=40)
RECOMMENDER_HNSW_EF_SEARCH = env.int("RECOMMENDER_HNSW_EF_SEARCH", default=128)
# FAISS's OpenMP threads (builds): on cores shared with web and worker processes, one is faster.
RECOMMENDER_FAISS_THREADS = env.int("RECOMMENDER_FAISS_THREADS", default=1)
# Web processes look for a newer index (and new embeddings) at most this often.
RECOMMENDER_INDEX_CHECK_S = env.float("RECOMMENDER_INDEX_CHECK_S", default=10.0)
# Raw neighbours fetched per wanted case before the permission filter, and the most ever fetched.
RECOMMENDER_OVERFETCH = env.int("RECOMMENDER_OVERFETCH", default=5)
RECOMMENDER_MAX_FETCH = env.int("RECOMMENDER_MAX_FETCH", default=4000)
RECOMMENDER_MAX_K = 50
# The hybrid score: embedding cosine, symptom/metadata similarity, clinicians' co-interactions.
RECOMMENDER_WEIGHTS = {
    "embedding": env.float("RECOMMENDER_WEIGHT_EMBEDDING", default=0.7),
    "metadata": env.float("RECOMMENDER_WEIGHT_METADATA", default=0.15),
    "interactions": env.float("RECOMMENDER_WEIGHT_INTERACTIONS", default=0.15),
}
# The review queue: model uncertainty, disagreement with similar reviewed cases, waiting time
# (the age term adds its full weight per RECOMMENDER_AGE_SCALE_DAYS waited).
RECOMMENDER_PRIORITY_WEIGHTS = {
    "uncertainty": env.float("RECOMMENDER_PRIORITY_UNCERTAINTY", default=0.5),
    "disagreement": env.float("RECOMMENDER_PRIORITY_DISAGREEMENT", default=0.35),
    "age": env.float("RECOMMENDER_PRIORITY_AGE", default=0.15),
}
RECOMMENDER_AGE_SCALE_DAYS = env.float("RECOMMENDER_AGE_SCALE_DAYS", default=7.0)
RECOMMENDER_PRIORITY_NEIGHBOURS = env.int("RECOMMENDER_PRIORITY_NEIGHBOURS", default=10)
RECOMMENDER_PRIORITY_MIN_NEIGHBOURS = env.int("RECOMMENDER_PRIORITY_MIN_NEIGHBOURS", default=3)
RECOMMENDER_UNCERTAIN_AT = env.float("RECOMMENDER_UNCERTAIN_AT", default=0.5)
RECOMMENDER_DISAGREES_AT = env.float("RECOMMENDER_DISAGREES_AT", default=0.5)
# A rebuild is scheduled once this many embeddings wait in the live delta.
RECOMMENDER_REBUILD_DELTA = env.int("RECOMMENDER_REBUILD_DELTA", default=20_000)
RECOMMENDER_REEMBED_BATCH = env.int("RECOMMENDER_REEMBED_BATCH", default=64)
RECOMMENDER_SYNC_WINDOW_H = env.int("RECOMMENDER_SYNC_WINDOW_H", default=24)
# faiss announces which CPU build it loaded, at INFO, in every process.
LOGGING["loggers"]["faiss.loader"] = {"level": "WARNING"}
CELERY_BEAT_SCHEDULE.update(
    {
        "recommender-sync-index": {
            "task": "recommender.tasks.sync_index",
            "schedule": env.int("RECOMMENDER_SYNC_INTERVAL_S", default=60),
            "options": {"queue": "recommender"},
        },
        "recommender-refresh-review-priorities": {
            "task": "recommender.tasks.refresh_review_priorities",
            "schedule": env.int("RECOMMENDER_PRIORITY_INTERVAL_S", default=300),
            "options": {"queue": "recommender"},
        },
        "recommender-nightly-rebuild": {
            "task": "recommender.tasks.rebuild_index",
            "schedule": crontab(minute=50, hour=1),
            "options": {"queue": "recommender"},
        },
    }
)

# --- REST API --------------------------------------------------------------------------------------
# Clinical endpoints are the default; research views name portal.core.rest.access.IsResearcher.
REST_FRAMEWORK.update(
    {
        "DEFAULT_PERMISSION_CLASSES": ["portal.core.rest.access.IsClinician"],
        "DEFAULT_PAGINATION_CLASS": "portal.core.rest.pagination.IdCursorPagination",
        "PAGE_SIZE": 50,
        "DEFAULT_THROTTLE_CLASSES": [
            "portal.core.rest.throttling.UserThrottle",
            "portal.core.rest.throttling.AnonThrottle",
            "portal.core.rest.throttling.ScopedThrottle",
        ],
        "DEFAULT_THROTTLE_RATES": {
            "user": env.str("API_THROTTLE_USER", default="1200/min"),
            "anon": env.str("API_THROTTLE_ANON", default="60/min"),
            "research_export": env.str("API_THROTTLE_RESEARCH_EXPORT", default="120/hour"),
        },
    }
)
SPECTACULAR_SETTINGS.update(
    {
        "DESCRIPTION": "Clinical and research API of the respiratory audio portal. "
        'Errors answer {"error": {"code", "message"}}; see docs/api.md.',
        "COMPONENT_SPLIT_REQUEST": True,
        # The docs page loads only our own static files: no online validator badge either.
        "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "portal.api.schema.add_error_responses",
        ],
    }
)
# The research export streams through PostgreSQL's COPY where it can (off: the cursor path).
RESEARCH_EXPORT_COPY = env.bool("RESEARCH_EXPORT_COPY", default=True)
RESEARCH_AUDIO_LINK_SECONDS = env.int("RESEARCH_AUDIO_LINK_SECONDS", default=300)

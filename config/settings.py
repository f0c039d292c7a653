"""Settings: everything comes from the environment, with embedded defaults for development.

The embedded default is SQLite (WAL), local storage under ./var, sandbox providers, file e-mail.
Production (EPOLICY_ENV=production) refuses to start with development keys or sandbox providers.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EPOLICY_VAR_DIR", BASE_DIR / "var"))
ENV = os.environ.get("EPOLICY_ENV", "development")
PRODUCTION = ENV == "production"


def _env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


def _dev_secret(purpose: str) -> str:
    """A stable development secret derived from the checkout path; never accepted in production."""
    return base64.b64encode(hashlib.sha256(f"epolicy-dev:{purpose}:{BASE_DIR}".encode()).digest()).decode()


SECRET_KEY = os.environ.get("EPOLICY_SECRET_KEY") or _dev_secret("django")
DEBUG = _env_bool("EPOLICY_DEBUG", not PRODUCTION)
ALLOWED_HOSTS = os.environ.get("EPOLICY_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
SITE_URL = os.environ.get("EPOLICY_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Base of the CRL and CA-certificate URLs written into every certificate the platform's CAs issue
# (epolicy.signing.repository): certificates outlive deployments, so use a stable name, plain http.
PKI_URL = os.environ.get("EPOLICY_PKI_URL", SITE_URL).rstrip("/")
CSRF_TRUSTED_ORIGINS = [SITE_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "epolicy.common",
    "epolicy.audit",
    "epolicy.parties",
    "epolicy.products",
    "epolicy.signing",
    "epolicy.policies",
    "epolicy.motor",
    "epolicy.identity",
    "epolicy.payments",
    "epolicy.archive",
    "epolicy.notifications",
    "epolicy.verification",
    "epolicy.servicing",
    "epolicy.ops",
    "epolicy.portal",
    "epolicy.backoffice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]


def _database() -> dict:
    url = os.environ.get("EPOLICY_DATABASE_URL", "")
    if not url or url.startswith("sqlite"):
        path = (
            url.split("sqlite:///", 1)[1]
            if url.startswith("sqlite:///")
            else str(VAR_DIR / "epolicy.sqlite3")
        )
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": os.environ.get("EPOLICY_TEST_SQLITE", "")}
            if os.environ.get("EPOLICY_TEST_SQLITE")
            else {},
        }
    if url.startswith(("postgres://", "postgresql://")):
        from urllib.parse import unquote, urlparse

        parts = urlparse(url)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parts.path.lstrip("/"),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
        }
    raise ImproperlyConfigured(f"EPOLICY_DATABASE_URL must be sqlite:///PATH or postgresql://…, not {url!r}")


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "zh-hans"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "media")},
    },
    "archive": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ.get("EPOLICY_ARCHIVE_DIR", str(VAR_DIR / "archive"))},
    },
    # The archive's second copy (motor standard §5, life guide §7.2): another disk, bucket or site.
    "archive_backup": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": os.environ.get("EPOLICY_ARCHIVE_BACKUP_DIR", str(VAR_DIR / "archive-backup"))
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def _require_modules(variable: str, modules: tuple[str, ...], install: str) -> None:
    """`variable` is set: refuse to start (rather than silently do without) when its backend is missing."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"{variable} is set, but its backend is not installed (cannot import {module}):"
                f" install it with pip install '{install}', or unset {variable}."
            ) from exc


def _s3_archive(prefix: str) -> dict:
    """An archive location in an S3-compatible bucket, write-once (docs/archive.md: {prefix}_S3_*)."""
    # django-storages[s3] with boto3; without the variable the archive stays on the local file system.
    _require_modules(f"{prefix}_S3_BUCKET", ("storages", "boto3"), "epolicy[s3]")
    env = os.environ
    return {
        "BACKEND": "epolicy.archive.storage.WriteOnceStorage",
        "OPTIONS": {
            "backend": "storages.backends.s3.S3Storage",
            "options": {
                "bucket_name": env[f"{prefix}_S3_BUCKET"],
                "endpoint_url": env.get(f"{prefix}_S3_ENDPOINT_URL") or None,  # MinIO, OSS, COS, ...
                "region_name": env.get(f"{prefix}_S3_REGION") or None,
                "access_key": env.get(f"{prefix}_S3_ACCESS_KEY_ID") or None,  # None: boto3's own chain
                "secret_key": env.get(f"{prefix}_S3_SECRET_ACCESS_KEY") or None,
                "location": env.get(f"{prefix}_S3_PREFIX", "").strip("/"),
                "file_overwrite": False,
                "default_acl": "private",
                "querystring_auth": True,
                # An object being read is held in memory up to this size, then in a temporary file.
                "max_memory_size": 8 * 1024 * 1024,
            },
        },
    }


if os.environ.get("EPOLICY_ARCHIVE_S3_BUCKET"):
    STORAGES["archive"] = _s3_archive("EPOLICY_ARCHIVE")
if os.environ.get("EPOLICY_ARCHIVE_BACKUP_S3_BUCKET"):
    STORAGES["archive_backup"] = _s3_archive("EPOLICY_ARCHIVE_BACKUP")

TASKS = {
    "default": {
        "BACKEND": os.environ.get("EPOLICY_TASK_BACKEND", "django_tasks.backends.immediate.ImmediateBackend"),
    }
}

EMAIL_BACKEND = os.environ.get("EPOLICY_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = os.environ.get("EPOLICY_FROM_EMAIL", "epolicy@insurer.example")
EMAIL_HOST = os.environ.get("EPOLICY_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EPOLICY_EMAIL_PORT", "25"))

LOGIN_URL = "/console/login/"
SANDBOX_PAYMENT_DELIVERY = os.environ.get("EPOLICY_SANDBOX_PAYMENT_DELIVERY", "http")
LOGIN_REDIRECT_URL = "/console/"

# Personal-data encryption: versioned AES-256-GCM keys (base64 of 32 bytes) and a blind-index key.
# EPOLICY_DATA_KEYS="2:base64key,1:base64key" — the first one encrypts, all of them decrypt.
_DEV_DATA_KEY = base64.b64encode(hashlib.sha256(_dev_secret("data-key-1").encode()).digest()).decode()
DATA_KEYS = os.environ.get("EPOLICY_DATA_KEYS") or f"1:{_DEV_DATA_KEY}"
BLIND_INDEX_KEY = os.environ.get("EPOLICY_BLIND_INDEX_KEY") or _dev_secret("blind-index")
# Key that protects signing keys held in the database (PKCS#8 encryption passphrase).
SIGNING_KEY_PASSPHRASE = os.environ.get("EPOLICY_SIGNING_KEY_PASSPHRASE") or _dev_secret("signing-keys")

INSURER = {
    "name": os.environ.get("EPOLICY_INSURER_NAME", "示例财产保险股份有限公司（演示）"),
    "short_name": os.environ.get("EPOLICY_INSURER_SHORT_NAME", "示例财险"),
    "uscc": os.environ.get("EPOLICY_INSURER_USCC", "91110108551385082Q"),
    "address": os.environ.get("EPOLICY_INSURER_ADDRESS", "北京市海淀区示例路 1 号"),
    "postcode": os.environ.get("EPOLICY_INSURER_POSTCODE", "100080"),
    "hotline": os.environ.get("EPOLICY_INSURER_HOTLINE", "400-000-0000"),
    "website": os.environ.get("EPOLICY_INSURER_WEBSITE", SITE_URL),
}

PROVIDERS = {
    "sms": os.environ.get("EPOLICY_SMS_PROVIDER", "epolicy.notifications.providers.sandbox.SandboxSms"),
    "payment": os.environ.get(
        "EPOLICY_PAYMENT_PROVIDER", "epolicy.payments.providers.sandbox.SandboxGateway"
    ),
}
# Signing: where keys live ("database": encrypted PKCS#8 rows; "files": encrypted PKCS#8 files in
# SIGNING_KEY_DIR; "pkcs11": a PKCS#11 token), the optional separate signing service, and the TSA.
SIGNING_KEYSTORE = os.environ.get("EPOLICY_SIGNING_KEYSTORE", "database")
SIGNING_KEY_DIR = os.environ.get("EPOLICY_SIGNING_KEY_DIR", str(VAR_DIR / "keys"))
PKCS11 = {
    "module": os.environ.get("EPOLICY_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so"),
    "token_label": os.environ.get("EPOLICY_PKCS11_TOKEN", "epolicy"),
    "user_pin": os.environ.get("EPOLICY_PKCS11_PIN", ""),
}
CORE_SYSTEM_URL = os.environ.get("EPOLICY_CORE_SYSTEM_URL", "")
CORE_SYSTEM_SECRET = os.environ.get("EPOLICY_CORE_SYSTEM_SECRET") or _dev_secret("core-system")
SIGNING_SERVICE_URL = os.environ.get("EPOLICY_SIGNING_SERVICE_URL", "")  # empty: sign in-process
SIGNING_SERVICE_TOKEN = os.environ.get("EPOLICY_SIGNING_SERVICE_TOKEN") or _dev_secret("signing-service")
TSA_URL = os.environ.get("EPOLICY_TSA_URL", "")  # empty: the platform's own timestamp authority
CERT_EXPIRY_WARNING_DAYS = int(os.environ.get("EPOLICY_CERT_EXPIRY_WARNING_DAYS", "90"))
LTA_RENEW_BEFORE_DAYS = int(os.environ.get("EPOLICY_LTA_RENEW_BEFORE_DAYS", "365"))

# Shared secret of the sandbox payment gateway (signs its notifications).
SANDBOX_PAYMENT_SECRET = os.environ.get("EPOLICY_SANDBOX_PAYMENT_SECRET") or _dev_secret("sandbox-payment")

OTP = {
    "length": 6,
    "ttl_seconds": 300,
    "max_attempts": 5,
    "resend_cooldown_seconds": 60,
    "max_per_phone_per_hour": 5,
    "max_per_ip_per_hour": 20,
}
CAPTCHA_TTL_SECONDS = 300
QUERY_MAX_PER_IP_PER_HOUR = int(os.environ.get("EPOLICY_QUERY_MAX_PER_IP_PER_HOUR", "30"))
VERIFY_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = VERIFY_MAX_UPLOAD_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = VERIFY_MAX_UPLOAD_BYTES + 1024 * 1024


def _caches(url: str) -> dict:
    """Django's default cache: per process in memory, or Redis shared by every process (EPOLICY_CACHE_URL).

    Only the signing service's replay memory uses it (epolicy.signing.remote.auth): several service
    processes behind one name must share it.
    """
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            f"EPOLICY_CACHE_URL must be a redis://, rediss:// or unix:// URL (or empty), not {url!r}"
        )
    _require_modules("EPOLICY_CACHE_URL", ("redis",), "epolicy[redis]")
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": os.environ.get("EPOLICY_CACHE_PREFIX", "epolicy"),
        }
    }


CACHES = _caches(os.environ.get("EPOLICY_CACHE_URL", ""))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("EPOLICY_LOG_LEVEL", "INFO")},
    "loggers": {
        "fontTools": {"level": "WARNING"},
        "pyhanko": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
    },
}

if PRODUCTION:
    for name in (
        "EPOLICY_SECRET_KEY",
        "EPOLICY_DATA_KEYS",
        "EPOLICY_BLIND_INDEX_KEY",
        "EPOLICY_SIGNING_KEY_PASSPHRASE",
    ):
        if not os.environ.get(name):
            raise ImproperlyConfigured(f"{name} must be set in production")
    for kind, path in PROVIDERS.items():
        if ".sandbox." in path:
            raise ImproperlyConfigured(f"production refuses the sandbox {kind} provider ({path})")

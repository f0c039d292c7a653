"""Settings: everything comes from the environment, with embedded defaults for development.

The embedded default is SQLite (WAL), local storage under ./var, sandbox providers, file e-mail.
Production (EPOLICY_ENV=production) refuses to start with development keys or sandbox providers.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import warnings
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from config import secrets as _secrets
from epolicy.common import jsonlog as _jsonlog

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EPOLICY_VAR_DIR", BASE_DIR / "var"))
# pyHanko imports cryptography's DSA key class (for DSA signatures, which nothing here makes or accepts):
# cryptography's deprecation of DSA would otherwise print a warning in every process that signs or verifies.
warnings.filterwarnings("ignore", message="DSA is deprecated", module="pyhanko")

ENV = os.environ.get("EPOLICY_ENV", "development")
PRODUCTION = ENV == "production"


def _env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


# Random per installation (var/secrets.json, mode 0600) in development; the environment in production.
_SECRETS = _secrets.resolve(VAR_DIR, production=PRODUCTION)
if not PRODUCTION:
    _secrets.make_private_dir(VAR_DIR)

SECRET_KEY = _SECRETS["django_secret_key"]
# Off unless asked for: a traceback page shows settings, paths and local variables to whoever gets one.
DEBUG = _env_bool("EPOLICY_DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("EPOLICY_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")]
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
    # Not "ninja": see _NINJA_DIR below.
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_tasks",
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
    "epolicy.selfservice",
    "epolicy.ops",
    "epolicy.portal",
    "epolicy.wechat",
    "epolicy.backoffice",
    # After the platform's apps: epolicy.ops's db_worker (which waits out database outages) wins over its own.
    "django_tasks_db",
]

MIDDLEWARE = [
    # First: every answer, refusals and redirects included, carries its request id and is timed.
    "epolicy.common.requestid.RequestIdMiddleware",
    # Before anything reads the client's address: behind the insurer's proxies (TRUSTED_PROXIES) it is
    # the customer's, taken from X-Forwarded-For (epolicy/common/proxies.py).
    "epolicy.common.proxies.TrustedProxyMiddleware",
    "epolicy.ops.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (collected into STATIC_ROOT) straight from the application server: no Nginx needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "epolicy.common.middleware.SecurityHeadersMiddleware",
    "epolicy.common.middleware.PublicRateLimitMiddleware",
    "epolicy.common.middleware.RequestBodyLimitMiddleware",
    "epolicy.common.middleware.ApiRequestLogMiddleware",
    "epolicy.common.envelope_middleware.SMEnvelopeMiddleware",  # 国密报文 on /api/v1/ (docs/sm-envelope.md)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as its documentation asks: it answers locked-out login attempts.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]


def _package_dir(name: str) -> Path:
    """Where an installed package lives, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImproperlyConfigured(f"the package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


# django-ninja's Swagger UI page and its static files (no CDN: intranets and the CSP), named directly
# instead of installing "ninja" as an app: the app registry would import the package, and with it pydantic
# and django.test, at the start of every command, even those that never load the URLconf (verify_pdf,
# help). The API imports ninja when the URLconf loads; config/api.py renders this page.
_NINJA_DIR = _package_dir("ninja")
STATICFILES_DIRS = [_NINJA_DIR / "static"]  # ninja/swagger-ui-bundle.js, ... (collectstatic: ninja/...)

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [_NINJA_DIR / "templates"],  # ninja/swagger.html (config/api.py)
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "epolicy.backoffice.ops_views.console_alerts",
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
            # A connection the server dropped (restart, failover) is replaced at the next request, not
            # reported as an error to it.
            "CONN_HEALTH_CHECKS": True,
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
    # Compressed copies and content-hashed names (cached for ever by browsers); a name missing from the
    # manifest (before the first collectstatic, as in the tests) falls back to the plain file.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_MANIFEST_STRICT = False
# Source maps are for developers' tools only: not worth compressing at every collectstatic (Swagger UI's
# and ReDoc's are several MB).
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [
    "map",
    "jpg",
    "jpeg",
    "png",
    "gif",
    "webp",
    "zip",
    "gz",
    "br",
    "woff",
    "woff2",
]


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

TASKS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": os.environ.get("EPOLICY_TASK_BACKEND", "django_tasks.backends.immediate.ImmediateBackend"),
    }
}
# Workers on several machines: the task queue in Redis (django-tasks' RQ backend), taken by
# `epolicy rqworker --job-class django_tasks_rq.Job --with-scheduler default` (docs/operations.md). The
# database backend (`db_worker`) stays the embedded default.
TASK_QUEUE_URL = os.environ.get("EPOLICY_TASK_QUEUE_URL", "")
if TASK_QUEUE_URL:
    _require_modules("EPOLICY_TASK_QUEUE_URL", ("rq", "redis"), "epolicy[redis]")
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": TASK_QUEUE_URL, "DEFAULT_TIMEOUT": 600}}
    RQ_SHOW_ADMIN_LINK = False

EMAIL_BACKEND = os.environ.get("EPOLICY_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = os.environ.get("EPOLICY_FROM_EMAIL", "epolicy@insurer.example")
EMAIL_HOST = os.environ.get("EPOLICY_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EPOLICY_EMAIL_PORT", "25"))

LOGIN_URL = "/console/login/"
# Cookies: never readable by page scripts; a staff session ends after a working day.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("EPOLICY_SESSION_SECONDS", str(8 * 3600)))
SANDBOX_PAYMENT_DELIVERY = os.environ.get("EPOLICY_SANDBOX_PAYMENT_DELIVERY", "http")
LOGIN_REDIRECT_URL = "/console/"

# Staff login (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one user name or from one
# address, further attempts are refused for AXES_COOLOFF_TIME hours, whatever the password.
AXES_FAILURE_LIMIT = int(os.environ.get("EPOLICY_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("EPOLICY_LOGIN_LOCKOUT_HOURS", "0.5"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "epolicy.common.proxies.axes_client_ip"  # the customer's, behind our proxies
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# The attempt that reaches the limit gets the same Chinese page as the later ones.
AXES_LOCKOUT_CALLABLE = "epolicy.backoffice.auth_views.lockout_response"
# Staff second factor (django-otp TOTP): required for every staff login in production; in development a
# staff member who has enrolled a device is always asked for it.
STAFF_OTP_REQUIRED = _env_bool("EPOLICY_STAFF_OTP_REQUIRED", PRODUCTION)

# Personal-data encryption: versioned AES-256-GCM keys (base64 of 32 bytes) and a blind-index key.
# EPOLICY_DATA_KEYS="2:base64key,1:base64key" — the first one encrypts, all of them decrypt.
DATA_KEYS = _SECRETS["data_keys"]
BLIND_INDEX_KEY = _SECRETS["blind_index_key"]
# Key that protects signing keys held in the database (PKCS#8 encryption passphrase).
SIGNING_KEY_PASSPHRASE = _SECRETS["signing_key_passphrase"]
# Key of the audit log's hash chain (HMAC-SHA256): kept outside the database, so that whoever can write
# the database cannot recompute the chain after editing it.
AUDIT_CHAIN_KEY = _SECRETS["audit_chain_key"]

INSURER = {
    "name": os.environ.get("EPOLICY_INSURER_NAME", "示例财产保险股份有限公司（演示）"),
    "short_name": os.environ.get("EPOLICY_INSURER_SHORT_NAME", "示例财险"),
    "uscc": os.environ.get("EPOLICY_INSURER_USCC", "91110108551385082Q"),
    "address": os.environ.get("EPOLICY_INSURER_ADDRESS", "北京市海淀区示例路 1 号"),
    "postcode": os.environ.get("EPOLICY_INSURER_POSTCODE", "100080"),
    "hotline": os.environ.get("EPOLICY_INSURER_HOTLINE", "400-000-0000"),
    "website": os.environ.get("EPOLICY_INSURER_WEBSITE", SITE_URL),
}
OTP_TOTP_ISSUER = INSURER["short_name"]

PROVIDERS = {
    "sms": os.environ.get("EPOLICY_SMS_PROVIDER", "epolicy.notifications.providers.sandbox.SandboxSms"),
    "payment": os.environ.get(
        "EPOLICY_PAYMENT_PROVIDER", "epolicy.payments.providers.sandbox.SandboxGateway"
    ),
    "transfer": os.environ.get(
        "EPOLICY_TRANSFER_PROVIDER", "epolicy.servicing.providers.sandbox.SandboxTransfers"
    ),
    "core_system": os.environ.get(
        "EPOLICY_CORE_SYSTEM", "epolicy.servicing.coresystem.builtin.BuiltinCoreSystem"
    ),
    # Identity checks of the customer's self-service (docs/selfservice.md): ID + bank card four-element
    # real-name check, face (liveness + comparison with the ID photo), recorded video session.
    "realname": os.environ.get(
        "EPOLICY_REALNAME_PROVIDER", "epolicy.identity.providers.sandbox.SandboxRealName"
    ),
    "face": os.environ.get("EPOLICY_FACE_PROVIDER", "epolicy.identity.providers.sandbox.SandboxFace"),
    "video": os.environ.get("EPOLICY_VIDEO_PROVIDER", "epolicy.identity.providers.sandbox.SandboxVideo"),
    # The industry platform's claim history of a vehicle, for the commercial NCD (docs/commercial-cover.md).
    "claims_history": os.environ.get(
        "EPOLICY_CLAIMS_HISTORY_PROVIDER", "epolicy.motor.providers.sandbox.SandboxClaimsHistory"
    ),
    # WeChat official-account template messages (notifications).
    "wechat": os.environ.get(
        "EPOLICY_WECHAT_PROVIDER", "epolicy.notifications.providers.sandbox.SandboxWeChat"
    ),
    # WeChat web authorization (网页授权) of the pages under /wx/ (docs/wechat.md): the openid of whoever
    # opens them inside WeChat.
    "wechat_oauth": os.environ.get(
        "EPOLICY_WECHAT_OAUTH_PROVIDER", "epolicy.identity.providers.wechat.sandbox.SandboxWeChatOAuth"
    ),
    # Who issues the applicants' event certificates (docs/pki.md): the platform's development customer CA
    # (sandbox, refused in production below), the customer CA certified by a licensed CA
    # (epolicy.signing.event_ca.licensed.LicensedCustomerCa), or an outside CA over EST (….est.EstEventCa).
    "event_ca": os.environ.get(
        "EPOLICY_EVENT_CA_PROVIDER", "epolicy.signing.event_ca.sandbox.PlatformEventCa"
    ),
}
# Events with a WeChat template message: each needs its template id in the official account
# (EPOLICY_WECHAT_TEMPLATES, JSON {event: template id}); an event left "" is skipped on WeChat.
_WECHAT_TEMPLATE_EVENTS = (
    "life.change_applied",
    "life.change_failed",
    "life.change_reconfirm",
    "life.change_not_approved",
    "life.dispute_opened",
    "motor.policy_issued_wechat",
    "motor.policy_endorsed",
    "motor.policy_expired",
)
# The WeChat official account (notifications' template messages; docs/notifications.md). The access
# token is kept in Django's cache: with several processes, EPOLICY_CACHE_URL must point at Redis.
WECHAT: dict[str, Any] = {
    "app_id": os.environ.get("EPOLICY_WECHAT_APP_ID", ""),
    "app_secret": os.environ.get("EPOLICY_WECHAT_APP_SECRET", ""),
    "api_base": os.environ.get("EPOLICY_WECHAT_API_BASE", "https://api.weixin.qq.com"),
    "timeout_seconds": float(os.environ.get("EPOLICY_WECHAT_TIMEOUT_SECONDS", "10")),
    "templates": {
        **dict.fromkeys(_WECHAT_TEMPLATE_EVENTS, ""),
        **json.loads(os.environ.get("EPOLICY_WECHAT_TEMPLATES", "{}") or "{}"),
    },
    # Web authorization (domain reference II.8): snsapi_base is silent and gives the openid only.
    "oauth_authorize_url": os.environ.get(
        "EPOLICY_WECHAT_OAUTH_AUTHORIZE_URL", "https://open.weixin.qq.com/connect/oauth2/authorize"
    ),
    "oauth_scope": os.environ.get("EPOLICY_WECHAT_OAUTH_SCOPE", "snsapi_base"),
}
# The pages opened inside WeChat (/wx/; docs/wechat.md): how long a sign-in lasts (WeChat signs the
# customer in again silently) and the hourly limits of each action.
WECHAT_PAGES = {
    "session_minutes": int(os.environ.get("EPOLICY_WECHAT_SESSION_MINUTES", "30")),
    "signins_per_hour": int(os.environ.get("EPOLICY_WECHAT_SIGNINS_PER_HOUR", "30")),
    "bind_attempts_per_hour": int(os.environ.get("EPOLICY_WECHAT_BIND_ATTEMPTS_PER_HOUR", "10")),
    "sms_per_hour": int(os.environ.get("EPOLICY_WECHAT_SMS_PER_HOUR", "5")),
    "downloads_per_hour": int(os.environ.get("EPOLICY_WECHAT_DOWNLOADS_PER_HOUR", "60")),
}
# The identity providers' HTTP adapter (epolicy.identity.providers.http; docs/identity-providers.md).
IDENTITY_HTTP_URL = os.environ.get("EPOLICY_IDENTITY_HTTP_URL", "")
IDENTITY_HTTP_SECRET = os.environ.get("EPOLICY_IDENTITY_HTTP_SECRET", "")
IDENTITY_HTTP_TIMEOUT = float(os.environ.get("EPOLICY_IDENTITY_HTTP_TIMEOUT", "10"))
# Signing: where keys live ("database": encrypted PKCS#8 rows; "files": encrypted PKCS#8 files in
# SIGNING_KEY_DIR; "pkcs11": a PKCS#11 token), the optional separate signing service, and the TSA.
SIGNING_KEYSTORE = os.environ.get("EPOLICY_SIGNING_KEYSTORE", "database")
SIGNING_KEY_DIR = os.environ.get("EPOLICY_SIGNING_KEY_DIR", str(VAR_DIR / "keys"))
# The insurer seal's algorithm: "rsa" (default) or "sm2", the optional 国密 track: SM2/SM3 seal from
# the SM2 dev PKI in SIGNING_KEY_DIR/sm2 (`epolicy pki_sm2_init`; docs/sm2-signing.md).
SEAL_ALGORITHM = os.environ.get("EPOLICY_SEAL_ALGORITHM", "rsa").strip().lower()
PKCS11 = {
    "module": os.environ.get("EPOLICY_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so"),
    "token_label": os.environ.get("EPOLICY_PKCS11_TOKEN", "epolicy"),
    "user_pin": os.environ.get("EPOLICY_PKCS11_PIN", ""),
}
CORE_SYSTEM_URL = os.environ.get("EPOLICY_CORE_SYSTEM_URL", "")
CORE_SYSTEM_SECRET = _SECRETS["core_system_secret"]
SIGNING_SERVICE_URL = os.environ.get("EPOLICY_SIGNING_SERVICE_URL", "")  # empty: sign in-process
SIGNING_SERVICE_TOKEN = _SECRETS["signing_service_token"]
# TLS of the link to the signing service (docs/signing-service.md). Client side: the CA file that signed
# the service's certificate (default: the system's store) and, for mutual TLS, this client's certificate
# and key. Server side (`epolicy signing_server`): its certificate and key, and the CA whose client
# certificates it requires (empty: no client certificate asked for).
SIGNING_SERVICE_TLS = {
    "ca_file": os.environ.get("EPOLICY_SIGNING_SERVICE_CA", ""),
    "client_cert": os.environ.get("EPOLICY_SIGNING_SERVICE_CLIENT_CERT", ""),
    "client_key": os.environ.get("EPOLICY_SIGNING_SERVICE_CLIENT_KEY", ""),
    "server_cert": os.environ.get("EPOLICY_SIGNING_TLS_CERT", ""),
    "server_key": os.environ.get("EPOLICY_SIGNING_TLS_KEY", ""),
    "server_client_ca": os.environ.get("EPOLICY_SIGNING_TLS_CLIENT_CA", ""),
}
# The SM envelope on the signing link (epolicy.signing.remote.envelope): the service's SM2 certificate on
# the app machines; on the service, the clients allowed (id=certificate-file, comma-separated) and its id.
SIGNING_SERVICE_SM = {
    "peer_file": os.environ.get("EPOLICY_SIGNING_SERVICE_SM_PEER_FILE", ""),
    "service_id": os.environ.get("EPOLICY_SIGNING_SERVICE_SM_ID", "epolicy-signing"),
    "clients": [c for c in os.environ.get("EPOLICY_SIGNING_SM_CLIENTS", "").split(",") if c.strip()],
}
# Plain HTTP to the signing service only inside a segment the insurer declares trusted (production).
SIGNING_SERVICE_TRUSTED_SEGMENT = _env_bool("EPOLICY_SIGNING_SERVICE_TRUSTED_SEGMENT", False)
TSA_URL = os.environ.get("EPOLICY_TSA_URL", "")  # empty: the platform's own timestamp authority
TSA_API_KEY = os.environ.get("EPOLICY_TSA_API_KEY", "")  # X-API-Key sent to TSA_URL (scope "tsa")
CERT_EXPIRY_WARNING_DAYS = int(os.environ.get("EPOLICY_CERT_EXPIRY_WARNING_DAYS", "90"))
# The root CA's key is offline (docs/pki.md): pki_init exports it here, to be moved to offline media;
# the root's CRL is signed for this long, and warned about this long before it is due.
SIGNING_ROOT_KEY_DIR = os.environ.get("EPOLICY_SIGNING_ROOT_KEY_DIR", str(VAR_DIR / "offline"))
ROOT_CRL_VALIDITY_DAYS = int(os.environ.get("EPOLICY_ROOT_CRL_VALIDITY_DAYS", "365"))
# None: the certificates' window (CERT_EXPIRY_WARNING_DAYS).
ROOT_CRL_WARNING_DAYS = (
    int(os.environ["EPOLICY_ROOT_CRL_WARNING_DAYS"])
    if os.environ.get("EPOLICY_ROOT_CRL_WARNING_DAYS")
    else None
)
LTA_RENEW_BEFORE_DAYS = int(os.environ.get("EPOLICY_LTA_RENEW_BEFORE_DAYS", "365"))

# Shared secret of the sandbox payment gateway (signs its notifications).
SANDBOX_PAYMENT_SECRET = _SECRETS["sandbox_payment_secret"]

OTP = {
    "length": 6,
    "ttl_seconds": 300,
    "max_attempts": 5,
    "resend_cooldown_seconds": 60,
    "max_per_phone_per_hour": 5,
    "max_per_ip_per_hour": 20,
}
CAPTCHA_TTL_SECONDS = 300
# Customer self-service of life policies (docs/selfservice.md); the risk matrix is data
# (epolicy/selfservice/data/risk_matrix.yaml, or the file SELFSERVICE_RISK_MATRIX names).
SELFSERVICE = {
    "binding_attempts_per_hour": int(os.environ.get("EPOLICY_SELFSERVICE_BINDING_PER_HOUR", "5")),
    "request_minutes": int(os.environ.get("EPOLICY_SELFSERVICE_REQUEST_MINUTES", "30")),
    # How long a customer has to confirm amounts an approval changed; then the change lapses.
    "reconfirm_days": int(os.environ.get("EPOLICY_SELFSERVICE_RECONFIRM_DAYS", "7")),
    "max_photo_bytes": 8 * 1024 * 1024,
}
SELFSERVICE_RISK_MATRIX = os.environ.get("EPOLICY_SELFSERVICE_RISK_MATRIX", "")
# Announced maintenance windows of self-service changes (life guide §7.1; docs/maintenance.md).
MAINTENANCE_MAX_HOURS = float(os.environ.get("EPOLICY_MAINTENANCE_MAX_HOURS", "5"))
MAINTENANCE_OFF_PEAK_START = os.environ.get("EPOLICY_MAINTENANCE_OFF_PEAK_START", "22:00")
MAINTENANCE_OFF_PEAK_END = os.environ.get("EPOLICY_MAINTENANCE_OFF_PEAK_END", "06:00")
# Years of statutory holidays and make-up working days the chinesecalendar package does not know yet, as
# the State Council publishes them (a YAML file, docs/maintenance.md); empty: the package's years only.
MAINTENANCE_CALENDAR_FILE = os.environ.get("EPOLICY_MAINTENANCE_CALENDAR_FILE", "")
# A floor under every public path (epolicy.common.middleware.PublicRateLimitMiddleware); 0 turns it off.
PUBLIC_REQUESTS_PER_MINUTE = int(os.environ.get("EPOLICY_PUBLIC_REQUESTS_PER_MINUTE", "300"))
CAPTCHA_MAX_PER_CLIENT_PER_HOUR = int(os.environ.get("EPOLICY_CAPTCHA_MAX_PER_CLIENT_PER_HOUR", "60"))
# The applicant's link: valid this many days after approval (and never past the start of cover), and
# this many days after issuance for downloading the policy.
APPLICANT_LINK_DAYS = int(os.environ.get("EPOLICY_APPLICANT_LINK_DAYS", "30"))
APPLICANT_LINK_GRACE_DAYS = int(os.environ.get("EPOLICY_APPLICANT_LINK_GRACE_DAYS", "30"))
SIGNATURE_MAX_PER_CLIENT_PER_HOUR = int(os.environ.get("EPOLICY_SIGNATURE_MAX_PER_CLIENT_PER_HOUR", "30"))
# The outbox (epolicy.ops.outbox): side effects after a commit, retried until done.
OUTBOX = {
    "lease_seconds": float(os.environ.get("EPOLICY_OUTBOX_LEASE_SECONDS", "300")),
    "retry_base_seconds": float(os.environ.get("EPOLICY_OUTBOX_RETRY_SECONDS", "30")),
    "retry_max_seconds": float(os.environ.get("EPOLICY_OUTBOX_RETRY_MAX_SECONDS", "3600")),
    "alert_after_attempts": int(os.environ.get("EPOLICY_OUTBOX_ALERT_ATTEMPTS", "3")),
    "alert_after_seconds": float(os.environ.get("EPOLICY_OUTBOX_ALERT_SECONDS", "600")),
}
# Quotes priced with rate tables or figures marked unconfirmed or demo (docs/motor-products.md): allowed,
# and flagged everywhere, outside production only. Production quotes only with what the insurer marked
# confirmed in the data (and refuses to start with this set).
MOTOR_ALLOW_UNCONFIRMED_RATES = not PRODUCTION and _env_bool("EPOLICY_MOTOR_ALLOW_UNCONFIRMED_RATES", True)
QUERY_MAX_PER_IP_PER_HOUR = int(os.environ.get("EPOLICY_QUERY_MAX_PER_IP_PER_HOUR", "30"))
POLICY_VERIFICATION_MAX_PER_CLIENT_PER_HOUR = int(
    os.environ.get("EPOLICY_POLICY_VERIFICATION_MAX_PER_CLIENT_PER_HOUR", "60")
)
VERIFY_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# Public verification's queue (docs/verification.md): checks at once across every process and machine
# (set it explicitly when several machines serve), extra slots reserved for small files, per client.
VERIFY_CHECK_SLOTS = int(os.environ.get("EPOLICY_VERIFY_CHECK_SLOTS", str(max(2, os.cpu_count() or 2))))
VERIFY_SMALL_CHECK_SLOTS = int(os.environ.get("EPOLICY_VERIFY_SMALL_CHECK_SLOTS", "1"))
VERIFY_SMALL_FILE_BYTES = int(os.environ.get("EPOLICY_VERIFY_SMALL_FILE_BYTES", str(1024 * 1024)))
VERIFY_CHECKS_PER_CLIENT = int(os.environ.get("EPOLICY_VERIFY_CHECKS_PER_CLIENT", "1"))
VERIFY_QUEUE_WAIT_SECONDS = float(os.environ.get("EPOLICY_VERIFY_QUEUE_WAIT_SECONDS", "15"))
VERIFY_CHECK_LEASE_SECONDS = float(os.environ.get("EPOLICY_VERIFY_CHECK_LEASE_SECONDS", "60"))
DATA_UPLOAD_MAX_MEMORY_SIZE = VERIFY_MAX_UPLOAD_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = VERIFY_MAX_UPLOAD_BYTES + 1024 * 1024
# No body larger than the largest upload any view accepts (plus the multipart envelope) is read at all
# (epolicy.common.middleware.RequestBodyLimitMiddleware).
# Who lists and checks the audit chain's anchors (epolicy.audit.selectors asks it; docs/audit.md).
AUDIT_ANCHOR_SCANNER = "epolicy.anchoring.verify.audit_anchors_scan"
MAX_REQUEST_BODY_BYTES = VERIFY_MAX_UPLOAD_BYTES + 1024 * 1024
# The signing service takes PDFs up to 20 MB (base64 in JSON) and answers larger ones itself, coded.
REQUEST_BODY_LIMITS = {"/internal/signing/": 64 * 1024 * 1024}


def _caches(url: str) -> dict:
    """Django's default cache: per process in memory, or Redis shared by every process (EPOLICY_CACHE_URL).

    The signing service's replay memory (epolicy.signing.remote.auth) and the public paths' flood floor
    (epolicy.common.middleware.PublicRateLimitMiddleware) use it: several processes must share it.
    """
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            f"EPOLICY_CACHE_URL must be a redis://, rediss:// or unix:// URL (or empty), not {url!r}"
        )
    _require_modules("EPOLICY_CACHE_URL", ("redis",), "epolicy[redis]")
    timeout = float(os.environ.get("EPOLICY_CACHE_TIMEOUT_SECONDS", "0.5"))
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": os.environ.get("EPOLICY_CACHE_PREFIX", "epolicy"),
            # Every public request touches the cache (the flood floor): a Redis that stops answering must
            # cost it a fraction of a second, not redis-py's default of several seconds.
            "OPTIONS": {"socket_timeout": timeout, "socket_connect_timeout": timeout},
        }
    }


CACHES = _caches(os.environ.get("EPOLICY_CACHE_URL", ""))

# --- operations: logs, health and readiness, metrics (docs/operations.md) -----------------------------------
# Logs: one JSON object per line in production, readable text in development (EPOLICY_LOG_FORMAT=json|text).
# Every handler carries the request id (epolicy.common.requestid) and the redaction of secrets and
# personal identifiers (epolicy.common.logredact).
try:
    LOG_FORMAT = _jsonlog.log_format(os.environ)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    **_jsonlog.console_logging(LOG_FORMAT),
    "root": {"handlers": ["console"], "level": os.environ.get("EPOLICY_LOG_LEVEL", "INFO")},
    "loggers": {
        "fontTools": {"level": "WARNING"},
        "pyhanko": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        # The development server's access log: through the same redacting handler.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
# Readiness (/ops/ready): each check's time limit; the task queue and the outbox warn above these.
OPS_HEALTH = {
    "check_timeout_seconds": float(os.environ.get("EPOLICY_READY_CHECK_TIMEOUT_SECONDS", "3")),
    "task_queue_warn_jobs": int(os.environ.get("EPOLICY_TASK_QUEUE_WARN_JOBS", "100")),
    "task_queue_warn_age_seconds": float(os.environ.get("EPOLICY_TASK_QUEUE_WARN_AGE_SECONDS", "300")),
}


# The insurer's proxies and load balancers in front of the application servers (comma-separated
# addresses or CIDRs; default none). A request from one of them counts as coming from the address it
# relayed (X-Forwarded-For, read from the right): rate limits, login lockouts and evidence then see each
# customer, not the proxy. Never list an address that clients can reach the servers from directly.
def _trusted_proxies(value: str) -> tuple:
    from epolicy.common.proxies import parse_networks

    return parse_networks(value, "EPOLICY_TRUSTED_PROXIES")


_PROXIES_SETTING = os.environ.get("EPOLICY_TRUSTED_PROXIES", "").strip()
# "none": no proxy in front (a machine reached directly, e.g. the signing service): nothing relayed is
# believed.
NO_PROXIES = _PROXIES_SETTING.lower() == "none"
TRUSTED_PROXIES = () if NO_PROXIES else _trusted_proxies(_PROXIES_SETTING)
# Who may read /ops/metrics: a bearer token (Authorization: Bearer <token>), or a client address in
# these networks (comma-separated CIDRs; default this machine only). Anyone else: 403 metrics_forbidden.
OPS_METRICS = {
    "token": os.environ.get("EPOLICY_METRICS_TOKEN", ""),
    "allowed_networks": [
        n.strip()
        for n in os.environ.get("EPOLICY_METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128").split(",")
        if n.strip()
    ],
}
# Origins the payment gateway's cashier pages live on (forms and redirects may go there).
CSP_FORM_ACTION = [o for o in os.environ.get("EPOLICY_CSP_FORM_ACTION", "").split(",") if o]

if PRODUCTION:
    _problems = []
    _required = {
        "EPOLICY_SECRET_KEY": SECRET_KEY,
        "EPOLICY_BLIND_INDEX_KEY": BLIND_INDEX_KEY,
        "EPOLICY_SIGNING_KEY_PASSPHRASE": SIGNING_KEY_PASSPHRASE,
        "EPOLICY_AUDIT_CHAIN_KEY": AUDIT_CHAIN_KEY,
    }
    # A secret that protects a link in use must be as strong as the others: never a silent default.
    if CORE_SYSTEM_URL or ".http." in PROVIDERS["core_system"]:
        _required["EPOLICY_CORE_SYSTEM_SECRET"] = CORE_SYSTEM_SECRET
    if SIGNING_SERVICE_URL:
        _required["EPOLICY_SIGNING_SERVICE_TOKEN"] = SIGNING_SERVICE_TOKEN
        if not SIGNING_SERVICE_URL.startswith("https://") and not SIGNING_SERVICE_TRUSTED_SEGMENT:
            raise ImproperlyConfigured(
                "production signs over https:// only (EPOLICY_SIGNING_SERVICE_URL); plain http only inside a "
                "segment declared trusted with EPOLICY_SIGNING_SERVICE_TRUSTED_SEGMENT=1"
            )
    if any(".http." in PROVIDERS[k] for k in ("realname", "face", "video")):
        _required["EPOLICY_IDENTITY_HTTP_SECRET"] = IDENTITY_HTTP_SECRET
    if PROVIDERS["wechat"].endswith(".wechat.WeChatTemplateMessages"):
        if not (WECHAT["app_id"] and WECHAT["app_secret"] and WECHAT["api_base"].startswith("https://")):
            raise ImproperlyConfigured(
                "the WeChat provider needs EPOLICY_WECHAT_APP_ID, _APP_SECRET and an https API"
            )
        if not os.environ.get("EPOLICY_CACHE_URL"):
            raise ImproperlyConfigured("the WeChat provider needs EPOLICY_CACHE_URL (its token is shared)")
    if PROVIDERS["wechat_oauth"].endswith(".wechat.official.WeChatWebAuth") and not (
        WECHAT["app_id"] and WECHAT["app_secret"] and WECHAT["api_base"].startswith("https://")
    ):
        raise ImproperlyConfigured(
            "the WeChat web authorization needs EPOLICY_WECHAT_APP_ID, _APP_SECRET and an https API"
        )
    for _name, _value in _required.items():
        # Several comma-separated values (rotation): each one must be strong.
        for _part in (_value or "").split(",") if _name != "EPOLICY_SECRET_KEY" else [_value]:
            _problem = _secrets.strength_problem(_part)
            if _problem:
                _problems.append(f"{_name} {_problem}")
    _problem = _secrets.data_keys_problem(DATA_KEYS) if DATA_KEYS else "is empty"
    if _problem:
        _problems.append(f"EPOLICY_DATA_KEYS {_problem}")
    if _problems:
        raise ImproperlyConfigured("production refuses weak or missing secrets: " + "; ".join(_problems))
    for kind, path in PROVIDERS.items():
        if ".sandbox." in path:
            raise ImproperlyConfigured(f"production refuses the sandbox {kind} provider ({path})")
    if DEBUG:
        raise ImproperlyConfigured("production refuses EPOLICY_DEBUG: tracebacks would reach clients")
    if _env_bool("EPOLICY_MOTOR_ALLOW_UNCONFIRMED_RATES", False):
        raise ImproperlyConfigured(
            "production refuses EPOLICY_MOTOR_ALLOW_UNCONFIRMED_RATES (confirm the rate tables in data)"
        )
    if os.environ.get("EPOLICY_FAILPOINTS"):
        raise ImproperlyConfigured("production refuses EPOLICY_FAILPOINTS (crash injection for tests)")
    if not SITE_URL.startswith("https://"):
        raise ImproperlyConfigured("EPOLICY_SITE_URL must be https:// in production")
    # Behind the insurer's TLS-terminating proxy, which sets X-Forwarded-Proto. The header is believed only
    # from the proxies listed (epolicy.common.proxies); with none listed any client could claim HTTPS.
    if not TRUSTED_PROXIES and not NO_PROXIES:
        raise ImproperlyConfigured(
            "production needs EPOLICY_TRUSTED_PROXIES: the addresses of the TLS proxies or load balancers in "
            "front of the app servers (e.g. 10.0.0.5 or 10.0.0.0/24), or 'none' for a machine no proxy "
            "stands in front of. Only the listed proxies' X-Forwarded-Proto and X-Forwarded-For are "
            "believed; without the list every client could claim HTTPS and every customer would count as "
            "the proxy"
        )
    if TRUSTED_PROXIES:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _env_bool("EPOLICY_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("EPOLICY_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = _env_bool("EPOLICY_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Health checks from the load balancer arrive over plain HTTP on the private network.
    SECURE_REDIRECT_EXEMPT = [r"^ops/(health|ready|metrics)$"]

# --- SM envelope (国密报文 with outside systems; docs/sm-envelope.md) ---------------------------------------
# The platform's own SM2 key and certificate: made at random on first start in development (var/sm-envelope/,
# mode 0600, like var/secrets.json); in production the operator's files (`epolicy api_client envelope-key
# --generate` makes them). The core system's SM2 certificate or public key (PEM file), when given, makes the
# core-system HTTP adapter seal its requests and accept only sealed answers signed by that key.
_SM_DIR = VAR_DIR / "sm-envelope"
SM_ENVELOPE: dict[str, Any] = {
    "platform_id": os.environ.get("EPOLICY_SM_ENVELOPE_PLATFORM_ID", "epolicy"),
    "key_file": os.environ.get(
        "EPOLICY_SM_ENVELOPE_KEY_FILE", "" if PRODUCTION else str(_SM_DIR / "platform-key.pem")
    ),
    "certificate_file": os.environ.get(
        "EPOLICY_SM_ENVELOPE_CERT_FILE", "" if PRODUCTION else str(_SM_DIR / "platform-cert.pem")
    ),
    "max_skew_seconds": int(os.environ.get("EPOLICY_SM_ENVELOPE_MAX_SKEW_SECONDS", "300")),
    "path_prefixes": ["/api/v1/"],
    "core_system_peer_file": os.environ.get("EPOLICY_CORE_SYSTEM_SM_PEER_FILE", ""),
    "core_system_peer_id": os.environ.get("EPOLICY_CORE_SYSTEM_SM_PEER_ID", "core-system"),
}
if not PRODUCTION and not os.environ.get("EPOLICY_SM_ENVELOPE_KEY_FILE"):
    from epolicy.common.gm.keyfile import ensure_key_pair

    ensure_key_pair(
        Path(SM_ENVELOPE["key_file"]),
        Path(SM_ENVELOPE["certificate_file"]),
        common_name=f"{SM_ENVELOPE['platform_id']} SM envelope",
        organization=INSURER["name"],
    )
elif PRODUCTION and SM_ENVELOPE["key_file"] and not Path(SM_ENVELOPE["key_file"]).is_file():
    raise ImproperlyConfigured(f"EPOLICY_SM_ENVELOPE_KEY_FILE {SM_ENVELOPE['key_file']} does not exist")

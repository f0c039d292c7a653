"""No secret is derived from anything public: random per installation, private files, and production
refuses weak ones; a notification signed with a guessed secret is refused."""

import base64
import hashlib
import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config import secrets as platform_secrets

ROOT = Path(__file__).resolve().parents[2]
SECRET_SETTINGS = [
    "SECRET_KEY",
    "DATA_KEYS",
    "BLIND_INDEX_KEY",
    "SIGNING_KEY_PASSPHRASE",
    "AUDIT_CHAIN_KEY",
    "SANDBOX_PAYMENT_SECRET",
    "CORE_SYSTEM_SECRET",
    "SIGNING_SERVICE_TOKEN",
]
SHOWN = [*SECRET_SETTINGS, "ALLOWED_HOSTS", "DEBUG"]
PRINT_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings; "
    f"print(json.dumps({{n: getattr(settings, n) for n in {SHOWN!r}}}))"
)


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EPOLICY_", "DJANGO_"))}
    return {**env, "DJANGO_SETTINGS_MODULE": "config.settings", **extra}


def settings_of(env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def strong() -> dict[str, str]:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return {
        "EPOLICY_SECRET_KEY": secrets.token_urlsafe(48),
        "EPOLICY_DATA_KEYS": f"1:{key}",
        "EPOLICY_BLIND_INDEX_KEY": secrets.token_hex(32),
        "EPOLICY_SIGNING_KEY_PASSPHRASE": secrets.token_urlsafe(40),
        "EPOLICY_AUDIT_CHAIN_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    base = {
        "EPOLICY_ENV": "production",
        "EPOLICY_VAR_DIR": str(tmp_path / "prod-var"),
        "EPOLICY_SITE_URL": "https://epolicy.insurer.example",
        "EPOLICY_ALLOWED_HOSTS": "epolicy.insurer.example",
        "EPOLICY_SMS_PROVIDER": "insurer.providers.Sms",
        "EPOLICY_PAYMENT_PROVIDER": "insurer.providers.Gateway",
        "EPOLICY_TRANSFER_PROVIDER": "insurer.providers.Transfers",
        "EPOLICY_REALNAME_PROVIDER": "insurer.providers.RealName",
        "EPOLICY_FACE_PROVIDER": "insurer.providers.Face",
        "EPOLICY_VIDEO_PROVIDER": "insurer.providers.Video",
        "EPOLICY_WECHAT_PROVIDER": "insurer.providers.WeChat",
        "EPOLICY_WECHAT_OAUTH_PROVIDER": "insurer.providers.WeChatOAuth",
        "EPOLICY_CLAIMS_HISTORY_PROVIDER": "insurer.providers.ClaimsHistory",
        "EPOLICY_EVENT_CA_PROVIDER": "insurer.providers.EventCa",
        "EPOLICY_TRUSTED_PROXIES": "10.0.0.0/24",
    }
    return child_env(**{**base, **strong(), **overrides})


def test_two_installations_have_different_secrets_in_private_files(tmp_path):
    first = settings_of(child_env(EPOLICY_VAR_DIR=str(tmp_path / "a" / "var")))
    second = settings_of(child_env(EPOLICY_VAR_DIR=str(tmp_path / "b" / "var")))
    for name in SECRET_SETTINGS:
        assert first[name] and second[name] and first[name] != second[name], name
    # The same installation reads the same secrets back (its data stays readable).
    assert settings_of(child_env(EPOLICY_VAR_DIR=str(tmp_path / "a" / "var"))) == first
    var = tmp_path / "a" / "var"
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    assert stat.S_IMODE((var / "secrets.json").stat().st_mode) == 0o600
    stored = json.loads((var / "secrets.json").read_text())
    assert stored["django_secret_key"] == first["SECRET_KEY"]


def test_no_secret_is_the_old_path_derived_value():
    def derived(purpose: str) -> str:
        return base64.b64encode(hashlib.sha256(f"epolicy-dev:{purpose}:{ROOT}".encode()).digest()).decode()

    guesses = {
        derived(p) for p in ("django", "blind-index", "signing-keys", "sandbox-payment", "core-system")
    }
    for name in SECRET_SETTINGS:
        assert getattr(settings, name) not in guesses, name


def test_the_default_run_has_no_debug_and_no_testserver_host(tmp_path):
    values = settings_of(child_env(EPOLICY_VAR_DIR=str(tmp_path / "var")))
    assert values["DEBUG"] is False
    assert "testserver" not in values["ALLOWED_HOSTS"]


@pytest.mark.parametrize(
    "value, ok",
    [
        ("", False),
        ("changeme", False),
        ("a" * 200, False),  # long but one symbol
        ("abcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd", False),  # a short pattern repeated
        ("correct horse battery staple", False),  # words: ~150 bits at most
        (base64.b64encode(b"\x00" * 32).decode(), False),  # 32 bytes, all equal
        (secrets.token_hex(16), False),  # 16 bytes: 128 bits
        (secrets.token_hex(32), True),
        (secrets.token_urlsafe(32), True),
        (secrets.token_urlsafe(48), True),
        (base64.b64encode(secrets.token_bytes(32)).decode(), True),
    ],
)
def test_a_production_secret_needs_256_bits(value, ok):
    assert (platform_secrets.strength_problem(value) is None) is ok


def test_data_keys_must_be_32_random_bytes():
    good = base64.b64encode(secrets.token_bytes(32)).decode()
    assert platform_secrets.data_keys_problem(f"2:{good},1:{good}") is None
    assert platform_secrets.data_keys_problem("1:" + base64.b64encode(b"k" * 32).decode())
    assert platform_secrets.data_keys_problem("1:" + base64.b64encode(secrets.token_bytes(16)).decode())
    assert platform_secrets.data_keys_problem("1:not base64!")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"EPOLICY_SECRET_KEY": ""}, "EPOLICY_SECRET_KEY is empty"),
        ({"EPOLICY_SECRET_KEY": "django-insecure-" + "x" * 40}, "EPOLICY_SECRET_KEY carries"),
        ({"EPOLICY_BLIND_INDEX_KEY": "short"}, "EPOLICY_BLIND_INDEX_KEY carries"),
        ({"EPOLICY_SIGNING_KEY_PASSPHRASE": "password1234"}, "EPOLICY_SIGNING_KEY_PASSPHRASE carries"),
        ({"EPOLICY_AUDIT_CHAIN_KEY": ""}, "EPOLICY_AUDIT_CHAIN_KEY is empty"),
        ({"EPOLICY_DATA_KEYS": "1:" + base64.b64encode(b"0" * 32).decode()}, "EPOLICY_DATA_KEYS"),
        # An unset core-system secret no longer takes a development value silently.
        ({"EPOLICY_CORE_SYSTEM_URL": "https://core.insurer.example"}, "EPOLICY_CORE_SYSTEM_SECRET is empty"),
        (
            {"EPOLICY_CORE_SYSTEM_URL": "https://core.insurer.example", "EPOLICY_CORE_SYSTEM_SECRET": "abc"},
            "EPOLICY_CORE_SYSTEM_SECRET carries",
        ),
        ({"EPOLICY_SIGNING_SERVICE_URL": "https://sign.internal"}, "EPOLICY_SIGNING_SERVICE_TOKEN is empty"),
        (
            {"EPOLICY_PAYMENT_PROVIDER": "epolicy.payments.providers.sandbox.SandboxGateway"},
            "sandbox payment",
        ),
        (
            {"EPOLICY_TRANSFER_PROVIDER": "epolicy.servicing.providers.sandbox.SandboxTransfers"},
            "sandbox transfer",
        ),
        (
            {"EPOLICY_WECHAT_OAUTH_PROVIDER": "epolicy.identity.providers.wechat.sandbox.SandboxWeChatOAuth"},
            "sandbox wechat_oauth",
        ),
        # The real web authorization without its account is refused, not discovered at the first sign-in.
        (
            {"EPOLICY_WECHAT_OAUTH_PROVIDER": "epolicy.identity.providers.wechat.official.WeChatWebAuth"},
            "the WeChat web authorization needs",
        ),
        ({"EPOLICY_SITE_URL": "http://epolicy.insurer.example"}, "must be https://"),
        ({"EPOLICY_DEBUG": "1"}, "EPOLICY_DEBUG"),
        ({"EPOLICY_FAILPOINTS": "payment.notify.after_commit=kill"}, "EPOLICY_FAILPOINTS"),
        # Unconfirmed or demo rates are never sold in production: the tables must be confirmed in data.
        ({"EPOLICY_MOTOR_ALLOW_UNCONFIRMED_RATES": "1"}, "EPOLICY_MOTOR_ALLOW_UNCONFIRMED_RATES"),
        # Without the proxies' addresses any client could claim HTTPS (X-Forwarded-Proto).
        ({"EPOLICY_TRUSTED_PROXIES": ""}, "production needs EPOLICY_TRUSTED_PROXIES"),
    ],
)
def test_production_refuses_to_start_with_a_weak_or_missing_secret(tmp_path, overrides, message):
    result = subprocess.run(
        [sys.executable, "-m", "epolicy", "check"],
        env=production_env(tmp_path, **overrides),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
    assert not (tmp_path / "prod-var" / "secrets.json").exists()  # production never writes secrets


def test_production_without_a_proxy_in_front_believes_no_forwarding_header(tmp_path):
    env = production_env(tmp_path, EPOLICY_TRUSTED_PROXIES="none")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.TRUSTED_PROXIES, getattr(settings, 'SECURE_PROXY_SSL_HEADER', None))",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "() None"


def test_production_passes_check_deploy_with_secure_cookies_hsts_and_https(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "epolicy", "check", "--deploy", "--fail-level", "WARNING"],
        env=production_env(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps(["
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_HTTPONLY,"
        " s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, list(s.SECURE_PROXY_SSL_HEADER), s.ALLOWED_HOSTS]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=production_env(tmp_path), cwd=ROOT, capture_output=True, text=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [
        True,
        True,
        True,
        True,
        True,
        31536000,
        ["HTTP_X_FORWARDED_PROTO", "https"],
        ["epolicy.insurer.example"],
    ]


def test_concurrent_first_starts_agree_on_one_set_of_secrets(tmp_path):
    var = tmp_path / "var"
    code = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, '.');"
        "from config.secrets import development_secrets;"
        f"print(json.dumps(development_secrets(Path({str(var)!r}))))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    outputs = {p.communicate(timeout=60)[0] for p in procs}
    assert len(outputs) == 1

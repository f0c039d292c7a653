import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from epolicy.common.models import SCOPES, ApiClient


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.SANDBOX_PAYMENT_DELIVERY = "inline"
    settings.STAFF_OTP_REQUIRED = False  # tests that need it turn it on
    settings.PUBLIC_REQUESTS_PER_MINUTE = 0  # one test client makes thousands; tests/security turns it on
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
        "archive": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "archive")},
        },
        "archive_backup": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "archive-backup")},
        },
        # Pages render without a collectstatic first (tests/ops/test_serving.py runs the manifest storage).
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_verifier_trust():
    """Each test has its own PKI (copied in without signals), so the verifier's kept trust must not
    carry over from another test's (the cache itself is tested in tests/signing/test_trust_cache.py)."""
    from epolicy.signing.verify import clear_trust_cache

    clear_trust_cache()
    yield
    clear_trust_cache()


@pytest.fixture(autouse=True)
def _run_on_commit(request, monkeypatch):
    """Tests run inside a transaction that never commits. A real request commits its own work, and
    on-commit work (tasks) then runs: make each test-client request behave that way."""
    if "django_db" not in {m.name for m in request.node.iter_markers()} or any(
        m.kwargs.get("transaction") for m in request.node.iter_markers("django_db")
    ):
        return
    from django.test.client import Client

    capture = request.getfixturevalue("django_capture_on_commit_callbacks")
    original = Client.request

    def request_then_commit(self, **kwargs):
        with capture(execute=True):
            return original(self, **kwargs)

    monkeypatch.setattr(Client, "request", request_then_commit)


@pytest.fixture
def committed(request):
    """Run a block as if it committed (its on-commit work runs at the end of the block)."""
    return request.getfixturevalue("django_capture_on_commit_callbacks")


@pytest.fixture(scope="session")
def _pki_rows(django_db_setup, django_db_blocker, tmp_path_factory):
    """Key generation is slow: make the development PKI once per session, then copy its rows.

    Its CRLs are copied too: the root CA's key is offline (pki_init exports it, here to a temporary
    directory), so a test's database could not issue the root's CRL itself.
    """
    from django.db import transaction

    from epolicy.signing.models import CertificateRevocationList, SigningCredential
    from epolicy.signing.pki import pki_init

    def rows(model):
        return [
            {k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()}
            for row in model.objects.order_by("id").values()
        ]

    with django_db_blocker.unblock(), transaction.atomic():
        pki_init(offline_dir=tmp_path_factory.mktemp("offline-root"))
        copied = {"credentials": rows(SigningCredential), "crls": rows(CertificateRevocationList)}
        transaction.set_rollback(True)
    return copied


@pytest.fixture
def pki(db, _pki_rows):
    """The development PKI in this test's database: its credentials and the CRLs pki_init issued."""
    from epolicy.signing.models import CertificateRevocationList, SigningCredential

    created = SigningCredential.objects.bulk_create(
        SigningCredential(**row) for row in _pki_rows["credentials"]
    )
    CertificateRevocationList.objects.bulk_create(
        CertificateRevocationList(**row) for row in _pki_rows["crls"]
    )
    return created


@pytest.fixture
def shared_db():
    """Threads need a database whose writers wait for each other: PostgreSQL, or SQLite in a file
    (EPOLICY_TEST_SQLITE=path). Django's in-memory test database is shared between threads through
    SQLite's shared cache, whose table locks fail at once ("database table is locked") instead of
    waiting, so two writers cannot race there; each race is also tested without threads."""
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and (":memory:" in name or "mode=memory" in name):
        pytest.skip("in-memory SQLite: threads share it without waiting for locks; use a file or PostgreSQL")


@pytest.fixture
def api_key(db):
    _client, key = ApiClient.create_with_key("core-system-test", scopes=list(SCOPES))
    return key


@pytest.fixture
def system(client, api_key):
    """A test client speaking for another system of the insurer (X-API-Key)."""

    class System:
        def post(self, path, data=None):
            return client.post(path, data=data or {}, content_type="application/json", HTTP_X_API_KEY=api_key)

        def get(self, path):
            return client.get(path, HTTP_X_API_KEY=api_key)

    return System()


def application_payload(seed=7, **overrides):
    """JSON body of a valid application (demo people with valid check digits)."""
    from epolicy.motor.demo import demo_application_input

    data = demo_application_input(seed)
    body = {
        "applicant": data.applicant.__dict__,
        "vehicle": {
            **data.vehicle.__dict__,
            "displacement_l": str(data.vehicle.displacement_l),
            "registered_on": data.vehicle.registered_on.isoformat(),
        },
        "region_code": data.region_code,
        "floating_code": data.floating_code,
        "period_start": (data.period_start).isoformat(),
        "special_agreements": data.special_agreements,
    }
    for key, value in overrides.items():
        body[key] = value
    return body


@pytest.fixture
def tomorrow():
    from epolicy.common import clock

    return clock.today() + dt.timedelta(days=1)


# Browser tests (tests/e2e, and the offline check of tests/ops/test_serving.py)
CHROMIUM = os.environ.get("EPOLICY_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("EPOLICY_SCREENSHOTS", "var/screenshots"))


@pytest.fixture(scope="module")
def browser():
    """One chromium per test module: Playwright's sync API keeps an event loop running on this thread
    while it is open, and code that calls asyncio.run (pyHanko) must not run in later modules under it."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"chromium not found at {CHROMIUM}: run scripts/setup.sh (installs Debian's chromium)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-quic",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def shot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take

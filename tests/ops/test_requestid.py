"""The request id: in and out of every response, on every log record, and into the work a request asks for."""

import json
import logging
import re

import pytest
from django.core.management import call_command
from django.db import transaction
from django.http import HttpResponse
from django.urls import path

from epolicy.common.jsonlog import JsonFormatter, TextFormatter
from epolicy.common.logredact import RedactSecretsFilter
from epolicy.common.requestid import RequestIdFilter, bound, current_request_id
from epolicy.ops import outbox

pytestmark = pytest.mark.django_db

log = logging.getLogger("tests.requestid")
GENERATED = re.compile(r"[0-9a-f]{32}")


# --- a page that asks for background work, as issuance after a payment does ---------------------------------
def handler(subject: str) -> None:
    log.info("handler ran for job subject %s", subject)


def enqueue_view(request):
    log.info("view ran")
    with transaction.atomic():
        outbox.outbox_enqueue(kind="test.log", subject=7, reference="T-7")
    return HttpResponse("ok")


urlpatterns = [path("enqueue", enqueue_view)]


class Records(logging.Handler):
    """A handler configured like settings.LOGGING's: the request-id and redaction filters."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.addFilter(RedactSecretsFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def records():
    handler_ = Records()
    root = logging.getLogger()
    root.addHandler(handler_)
    old = log.level
    log.setLevel(logging.DEBUG)
    yield handler_.records
    root.removeHandler(handler_)
    log.setLevel(old)


@pytest.fixture
def page(settings, monkeypatch):
    settings.ROOT_URLCONF = __name__
    monkeypatch.setitem(outbox.KINDS, "test.log", outbox.Kind(f"{__name__}.handler", "测试", "重试"))


# --- header in and out --------------------------------------------------------------------------------------
def test_a_plain_incoming_id_is_kept_and_returned(client):
    resp = client.get("/ops/health", HTTP_X_REQUEST_ID="lb-2f9c1e7a.0001")
    assert resp["X-Request-ID"] == "lb-2f9c1e7a.0001"


def test_without_an_id_one_is_made(client):
    first = client.get("/ops/health")["X-Request-ID"]
    second = client.get("/ops/health")["X-Request-ID"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second


@pytest.mark.parametrize(
    "bad",
    [
        "short",
        "x" * 65,
        "has space in it",
        "line\r\nInjected: 1",
        "<script>alert(1)</script>",
        "../../etc/passwd",
        "名字名字名字名字",
        "-starts-with-a-dash",
    ],
)
def test_a_bad_incoming_id_is_replaced(client, bad):
    resp = client.get("/ops/health", HTTP_X_REQUEST_ID=bad)
    assert GENERATED.fullmatch(resp["X-Request-ID"])


def test_refusals_carry_the_id_too(client, settings):
    settings.PUBLIC_REQUESTS_PER_MINUTE = 1
    client.get("/ops/health")
    refused = client.get("/ops/health", HTTP_X_REQUEST_ID="req-refused-0001")
    assert refused.status_code == 429 and refused["X-Request-ID"] == "req-refused-0001"


# --- log records --------------------------------------------------------------------------------------------
def test_records_written_during_a_request_carry_its_id(client, records):
    client.get("/no/such/page", HTTP_X_REQUEST_ID="req-404-abcdef")
    not_found = [r for r in records if r.name == "django.request"]
    assert not_found and all(r.request_id == "req-404-abcdef" for r in not_found)
    # Outside any request: empty, never the last request's.
    log.info("after the request")
    assert records[-1].request_id == "" and current_request_id() == ""


def test_the_outbox_job_runs_under_the_requests_id_immediate_backend(client, page, records):
    resp = client.get("/enqueue", HTTP_X_REQUEST_ID="req-immediate-0001")
    assert resp.status_code == 200
    job = outbox.OutboxJob.objects.get(kind="test.log")
    assert job.request_id == "req-immediate-0001" and job.status == "done"
    ran = [r for r in records if r.getMessage() == "handler ran for job subject 7"]
    assert len(ran) == 1 and ran[0].request_id == "req-immediate-0001"
    assert [r.request_id for r in records if r.getMessage() == "view ran"] == ["req-immediate-0001"]


@pytest.mark.django_db(transaction=True)  # db_worker closes its connections between tasks, as it should
def test_the_task_runs_under_the_requests_id_database_backend(client, page, records, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    resp = client.get("/enqueue", HTTP_X_REQUEST_ID="req-database-0001")
    assert resp.status_code == 200
    assert not [r for r in records if r.getMessage().startswith("handler ran")]  # queued, not run
    from django_tasks_db.models import DBTaskResult

    task = DBTaskResult.objects.get()
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    ran = [r for r in records if r.getMessage() == "handler ran for job subject 7"]
    assert len(ran) == 1
    assert ran[0].request_id == "req-database-0001"
    assert ran[0].task_id == str(task.id)
    assert outbox.OutboxJob.objects.get(kind="test.log").status == "done"
    # After the task, the worker's records carry neither.
    log.info("worker idle")
    assert (records[-1].request_id, records[-1].task_id) == ("", "")


def test_the_sweep_rerun_keeps_the_first_requests_id(page, records):
    with bound("req-sweep-000001"), transaction.atomic():
        job = outbox.outbox_enqueue(kind="test.log", subject=8)
    outbox.OutboxJob.objects.filter(pk=job.pk).update(status="pending", attempts=0)
    outbox.outbox_run(job.pk)  # as the sweep's re-run in another process: no request around it
    ran = [r for r in records if r.getMessage() == "handler ran for job subject 8"]
    assert ran and all(r.request_id == "req-sweep-000001" for r in ran)


# --- formats ------------------------------------------------------------------------------------------------
def _record(message, *args, exc=False):
    try:
        raise ValueError("boom for 13812345678")
    except ValueError:
        import sys

        exc_info = sys.exc_info() if exc else None
    record = logging.LogRecord("epolicy.test", logging.ERROR, __file__, 1, message, args, exc_info)
    with bound("req-format-00001", task_id="task-42"):
        RequestIdFilter().filter(record)
    RedactSecretsFilter().filter(record)
    return record


def test_json_lines_parse_and_carry_every_field():
    line = JsonFormatter().format(_record("policy %s for %s", "PDZA20261207000001", "a@b.example", exc=True))
    assert "\n" not in line
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "logger", "message", "request_id", "task_id", "exception"}
    assert entry["level"] == "ERROR" and entry["logger"] == "epolicy.test"
    assert entry["request_id"] == "req-format-00001" and entry["task_id"] == "task-42"
    assert entry["message"] == "policy PDZA20261207000001 for ***@b.example"
    assert "ValueError" in entry["exception"] and "13812345678" not in entry["exception"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])


def test_json_without_exception_or_request():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain 名字", None, None)
    RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "plain 名字" and entry["request_id"] == "" and "exception" not in entry


def test_text_format_shows_the_request_id():
    line = TextFormatter().format(_record("hello"))
    assert "[req-format-00001]" in line and line.endswith("hello")


def test_settings_choose_the_format(settings):
    assert settings.LOG_FORMAT in {"json", "text"}
    handler_ = settings.LOGGING["handlers"]["console"]
    assert handler_["formatter"] == settings.LOG_FORMAT
    assert handler_["filters"] == ["request_id", "redact"]
    assert settings.MIDDLEWARE[0] == "epolicy.common.requestid.RequestIdMiddleware"


def test_production_defaults_to_json(tmp_path):
    import os
    import subprocess
    import sys

    code = "from config import settings as s; print(s.LOG_FORMAT)"
    env = {k: v for k, v in os.environ.items() if k != "EPOLICY_LOG_FORMAT"}
    dev = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert dev.stdout.strip() == "text", dev.stderr
    bad = subprocess.run(
        [sys.executable, "-c", code], env={**env, "EPOLICY_LOG_FORMAT": "xml"}, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "EPOLICY_LOG_FORMAT" in bad.stderr

"""/ops/metrics: routes by pattern, business counters that move, who may scrape, several processes."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from prometheus_client import REGISTRY

from epolicy.common.proxies import parse_networks
from epolicy.motor.models import Application
from epolicy.payments.models import SandboxTransaction
from epolicy.payments.providers.sandbox import SandboxGateway
from tests.motor.test_api_journey import API, approved, pay, signed_and_verified

pytestmark = pytest.mark.django_db


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client, **extra):
    resp = client.get("/ops/metrics", **extra)
    assert resp.status_code == 200, resp.content
    assert resp["Content-Type"].startswith("text/plain")
    return resp.content.decode()


def test_route_label_is_the_url_pattern_never_the_path(client, system, pki):
    _number, token = approved(system)
    assert client.get(f"{API}/customer/applications/{token}").status_code == 200
    assert client.get(f"{API}/customer/applications/not-a-token-at-all").status_code == 404
    text = scrape(client)
    assert token not in text and "not-a-token-at-all" not in text
    routes = set(re.findall(r'epolicy_http_request_duration_seconds_count\{[^}]*route="([^"]*)"', text))
    customer = [r for r in routes if r.startswith("api/v1/customer/applications/")]
    assert customer and all("<" in r for r in customer), routes
    # The registry is the process's: other tests' requests are in it too; ours is the GET that got 404.
    assert any(
        ln.startswith("epolicy_http_request_duration_seconds_count")
        and 'method="GET"' in ln
        and 'route="api/v1/customer/applications/<token>"' in ln
        and 'status="4xx"' in ln
        for ln in text.splitlines()
    ), text


def test_unknown_paths_share_one_label(client, db):
    client.get("/no/such/page/12345")
    text = scrape(client)
    assert "12345" not in text
    assert 'route="unmatched"' in text


def test_issuance_is_counted_and_timed(client, system, pki):
    issued = value("epolicy_policies_issued_total", product="ctpl")
    runs = value("epolicy_issuance_duration_seconds_count", outcome="issued")
    _number, token = signed_and_verified(client, system)
    pay(client, token)
    assert value("epolicy_policies_issued_total", product="ctpl") == issued + 1
    assert value("epolicy_issuance_duration_seconds_count", outcome="issued") == runs + 1
    assert value("epolicy_issuance_duration_seconds_sum", outcome="issued") > 0


def test_verification_is_counted_by_verdict(client, pki, committed):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from epolicy.archive.services import archive_read
    from epolicy.motor.demo import demo_application_input
    from epolicy.motor.journey import run_journey

    with committed(execute=True):
        policy = run_journey(demo_application_input(43))
    pdf = archive_read(policy.document)
    genuine = value("epolicy_verification_duration_seconds_count", channel="api", verdict="genuine")
    missing = value(
        "epolicy_verification_duration_seconds_count", channel="api", verdict="refused_verify_file_missing"
    )
    resp = client.post(
        f"{API}/public/verify", {"file": SimpleUploadedFile("p.pdf", pdf, content_type="application/pdf")}
    )
    assert resp.status_code == 200 and resp.json()["genuine"] is True
    assert (
        value("epolicy_verification_duration_seconds_count", channel="api", verdict="genuine") == genuine + 1
    )
    assert client.post(f"{API}/public/verify", {}).status_code == 422
    assert (
        value(
            "epolicy_verification_duration_seconds_count",
            channel="api",
            verdict="refused_verify_file_missing",
        )
        == missing + 1
    )
    # The page counts under its own channel.
    page = value("epolicy_verification_duration_seconds_count", channel="page", verdict="genuine")
    resp = client.post("/verify/", {"file": SimpleUploadedFile("p.pdf", pdf, content_type="application/pdf")})
    assert resp.status_code == 200
    assert value("epolicy_verification_duration_seconds_count", channel="page", verdict="genuine") == page + 1


def test_otp_failure_is_counted(client, system, pki):
    from tests.motor.test_api_journey import read_all, sign

    _number, token = approved(system)
    read_all(client, token)
    sign(client, token)
    client.post(f"{API}/customer/applications/{token}/otp")
    before = value("epolicy_otp_failures_total", reason="otp_invalid")
    resp = client.post(
        f"{API}/customer/applications/{token}/otp/verify", {"code": "000000"}, content_type="application/json"
    )
    assert resp.status_code == 422 or resp.json()["code"] == "otp_invalid"
    assert value("epolicy_otp_failures_total", reason="otp_invalid") == before + 1


def test_forged_notification_is_counted(client, system, pki):
    forged_before = value("epolicy_payment_failures_total", reason="forged")
    _number, token = signed_and_verified(client, system)
    order_no = client.post(f"{API}/customer/applications/{token}/payment").json()["order_no"]
    txn = SandboxTransaction.objects.get(merchant_order_no=order_no)
    gateway = SandboxGateway()
    app = Application.objects.get()
    gateway.payer_submits(
        txn, payer_name=app.applicant.name, payer_id_number=app.applicant.id_number, succeed=True
    )
    body, headers = gateway.signed_notification(txn)
    resp = client.post(
        f"{API}/payments/notify/sandbox",
        body.replace(b'"amount_fen"', b'"amount_fen" '),
        content_type="application/json",
        **{"HTTP_X_SANDBOX_SIGNATURE": headers["X-Sandbox-Signature"]},
    )
    assert resp.status_code == 400
    assert value("epolicy_payment_failures_total", reason="forged") == forged_before + 1


def test_refused_payer_is_counted(client, system, pki):
    mismatch_before = value("epolicy_payment_failures_total", reason="payer_mismatch")
    _number, token = signed_and_verified(client, system)
    # Another person pays: refused and refunded, counted by its reason.
    pay(client, token, name="王二小", id_number="11010519491231002X")
    assert value("epolicy_payment_failures_total", reason="payer_mismatch") == mismatch_before + 1


def test_queue_depth_is_read_at_scrape_time(client, settings):
    from epolicy.ops.tasks import outbox_run_task

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    outbox_run_task.enqueue(1)
    outbox_run_task.enqueue(2)
    text = scrape(client)
    assert 'epolicy_task_queue_waiting{backend="database",queue="tasks"} 2.0' in text
    assert re.search(
        r'epolicy_task_queue_oldest_age_seconds\{backend="database",queue="tasks"\} [0-9.e+-]+', text
    )
    assert 'epolicy_task_queue_waiting{backend="database",queue="outbox"} 0.0' in text


# --- who may scrape -----------------------------------------------------------------------------------------
def test_scrape_from_elsewhere_is_refused_with_a_code(client, db, settings):
    settings.OPS_METRICS = {"token": "", "allowed_networks": ["127.0.0.1/32"]}
    resp = client.get("/ops/metrics", REMOTE_ADDR="203.0.113.9")
    assert resp.status_code == 403
    assert resp.json()["code"] == "metrics_forbidden" and re.search(
        r"[\u4e00-\u9fff]", resp.json()["message"]
    )


def test_scrape_with_the_token_or_from_an_allowed_network(client, db, settings):
    settings.OPS_METRICS = {"token": "s3cret-metrics-token-0123456789", "allowed_networks": ["10.0.0.0/8"]}
    assert client.get("/ops/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/ops/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403  # not listed any more
    ok = client.get(
        "/ops/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token-0123456789"
    )
    assert ok.status_code == 200
    wrong = client.get("/ops/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer guess")
    assert wrong.status_code == 403


def test_a_request_relayed_by_the_proxy_needs_the_token(client, db, settings):
    """The TLS proxy on the same machine relays the internet's requests from 127.0.0.1: such a request
    (it carries the proxy's forwarding headers) is not let in by the address, only by the token."""
    token = "s3cret-metrics-token-0123456789"
    settings.OPS_METRICS = {"token": token, "allowed_networks": ["127.0.0.1/32"]}
    assert client.get("/ops/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_REAL_IP", "HTTP_FORWARDED"):
        relayed = client.get("/ops/metrics", REMOTE_ADDR="127.0.0.1", **{header: "203.0.113.9"})
        assert relayed.status_code == 403, header
        assert relayed.json()["code"] == "metrics_forbidden"
    with_token = client.get(
        "/ops/metrics",
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert with_token.status_code == 200


def test_a_request_from_a_trusted_proxy_needs_the_token_whatever_headers_it_carries(client, db, settings):
    """A proxy that adds none of the forwarding headers (X-Forwarded-Host only, PROXY protocol, a CDN's own
    header) still relays the internet: its peer address, one of EPOLICY_TRUSTED_PROXIES, says so."""
    token = "s3cret-metrics-token-0123456789"
    settings.OPS_METRICS = {"token": token, "allowed_networks": ["127.0.0.1/32", "10.0.0.0/8"]}
    settings.TRUSTED_PROXIES = parse_networks("127.0.0.1, 10.0.0.5")
    for peer in ("127.0.0.1", "10.0.0.5", "::ffff:10.0.0.5"):
        for header in ({}, {"HTTP_X_FORWARDED_HOST": "x"}, {"HTTP_TRUE_CLIENT_IP": "203.0.113.9"}):
            resp = Client().get("/ops/metrics", REMOTE_ADDR=peer, **header)
            assert resp.status_code == 403, (peer, header)
    assert Client().get("/ops/metrics", REMOTE_ADDR="10.0.0.6").status_code == 200  # a scraper, not a proxy
    assert Client().get("/ops/metrics", REMOTE_ADDR="::ffff:10.0.0.6").status_code == 200
    ok = Client().get("/ops/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert ok.status_code == 200


def test_a_flood_floor_refusal_has_its_own_route_label(client, db, settings):
    settings.OPS_METRICS = {"token": "", "allowed_networks": ["127.0.0.1/32"]}
    settings.PUBLIC_REQUESTS_PER_MINUTE = 2
    for _ in range(5):  # at least 3 within one minute's window, wherever the minute turns
        client.get("/ops/health", REMOTE_ADDR="203.0.113.77")
    settings.PUBLIC_REQUESTS_PER_MINUTE = 10_000  # the scrape itself (other tests' local requests count too)
    text = client.get("/ops/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert re.search(r'epolicy_http_request_duration_seconds_count\{[^}]*route="refused:public_rate"', text)


# --- several processes --------------------------------------------------------------------------------------
CHILD = """
import django, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from epolicy.ops import metrics
if sys.argv[1] == "count":
    metrics.otp_failed("otp_invalid")
    metrics.payment_failed("forged")
else:
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    sys.stdout.write(generate_latest(registry).decode())
"""


def test_multiprocess_mode_adds_up_every_worker(tmp_path):
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
        "EPOLICY_VAR_DIR": str(Path(django_settings.VAR_DIR)),
    }
    (tmp_path / "prom").mkdir()
    base = Path(django_settings.BASE_DIR)
    for _ in range(2):  # two worker processes, one after the other
        subprocess.run([sys.executable, "-c", CHILD, "count"], env=env, cwd=base, check=True, timeout=120)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, "read"], env=env, cwd=base, check=True, timeout=120, capture_output=True
    ).stdout.decode()
    assert 'epolicy_otp_failures_total{reason="otp_invalid"} 2.0' in out
    assert 'epolicy_payment_failures_total{reason="forged"} 2.0' in out


def test_gunicorn_config_wipes_the_directory_and_marks_dead_workers(tmp_path, monkeypatch):
    import importlib.util

    prom = tmp_path / "prom"
    prom.mkdir()
    (prom / "counter_123.db").write_bytes(b"old")
    (prom / "gauge_livesum_77.db").write_bytes(b"old")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(prom))
    spec = importlib.util.spec_from_file_location(
        "gunicorn_conf", Path(django_settings.BASE_DIR) / "config/gunicorn.conf.py"
    )
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    conf.on_starting(server=None)
    assert list(prom.iterdir()) == []
    dead = []
    monkeypatch.setattr("prometheus_client.multiprocess.mark_process_dead", lambda pid: dead.append(pid))

    class Worker:
        pid = 4242

    conf.child_exit(server=None, worker=Worker())
    assert dead == [4242]
    assert conf.accesslog is None


def test_gunicorn_workers_add_up_in_one_scrape(tmp_path):
    """Two gunicorn workers each answer some requests; every scrape, whichever worker answers it, counts
    all of them."""
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    prom = tmp_path / "prom"
    prom.mkdir()
    (prom / "counter_999999.db").write_bytes(b"from an earlier run")
    base = Path(django_settings.BASE_DIR)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("EPOLICY_", "DJANGO_", "PROMETHEUS_"))},
        "EPOLICY_VAR_DIR": str(tmp_path / "var"),
        "EPOLICY_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(prom),
        "EPOLICY_PUBLIC_REQUESTS_PER_MINUTE": "0",
    }
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = subprocess.Popen(
        [
            gunicorn,
            "--config",
            "config/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "config.wsgi:application",
        ],
        cwd=base,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ops/health", timeout=5) as resp:
                    assert resp.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                assert server.poll() is None, "gunicorn exited"
                time.sleep(0.5)
        assert not (prom / "counter_999999.db").exists()  # wiped at start
        series = 'epolicy_http_request_duration_seconds_count{method="GET",route="ops/health",status="2xx"} '

        def health_count() -> float:
            with urllib.request.urlopen(f"{url}/ops/metrics", timeout=10) as resp:
                text = resp.read().decode()
            return float(next(ln for ln in text.splitlines() if ln.startswith(series)).rsplit(" ", 1)[1])

        before = health_count()
        for _ in range(30):  # answered by both workers
            with urllib.request.urlopen(f"{url}/ops/health", timeout=5) as resp:
                assert resp.headers["X-Request-ID"]
        pids = {p.stem.rsplit("_", 1)[-1] for p in prom.glob("histogram_*.db")}
        assert len(pids) >= 1
        assert [health_count() for _ in range(4)] == [before + 30] * 4
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_gunicorn_keeps_what_the_task_workers_counted_when_the_directory_was_prepared(tmp_path, monkeypatch):
    """scripts/run.sh empties the directory and starts the task worker before gunicorn: gunicorn must not
    delete the worker's files (its issuance counts) when it starts."""
    import importlib.util

    prom = tmp_path / "prom"
    prom.mkdir()
    (prom / "counter_321.db").write_bytes(b"the worker's")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(prom))
    monkeypatch.setenv("EPOLICY_METRICS_DIR_PREPARED", "1")
    spec = importlib.util.spec_from_file_location(
        "gunicorn_conf", Path(django_settings.BASE_DIR) / "config/gunicorn.conf.py"
    )
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    conf.on_starting(server=None)
    assert [p.name for p in prom.iterdir()] == ["counter_321.db"]


def test_the_exporter_serves_the_workers_metrics_on_a_machine_without_web_server(tmp_path):
    """`epolicy metrics_exporter` adds up the task workers' files; with a token set, only the token."""
    import socket
    import time
    import urllib.error
    import urllib.request

    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
        "EPOLICY_VAR_DIR": str(Path(django_settings.VAR_DIR)),
        "EPOLICY_METRICS_TOKEN": "exporter-token-0123456789abcdef",
    }
    (tmp_path / "prom").mkdir()
    base = Path(django_settings.BASE_DIR)
    subprocess.run([sys.executable, "-c", CHILD, "count"], env=env, cwd=base, check=True, timeout=120)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    epolicy = str(Path(sys.executable).parent / "epolicy")
    proc = subprocess.Popen(
        [epolicy, "metrics_exporter", "--bind", f"127.0.0.1:{port}"],
        env=env,
        cwd=base,
        stdout=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=5)
            except urllib.error.HTTPError as exc:
                assert exc.code == 403  # up, and the token is required
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        request = urllib.request.Request(
            url, headers={"Authorization": "Bearer exporter-token-0123456789abcdef"}
        )
        body = urllib.request.urlopen(request, timeout=5).read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert 'epolicy_otp_failures_total{reason="otp_invalid"} 1.0' in body
    missing = subprocess.run(
        [epolicy, "metrics_exporter"], env={**env, "PROMETHEUS_MULTIPROC_DIR": ""}, cwd=base
    )
    assert missing.returncode != 0

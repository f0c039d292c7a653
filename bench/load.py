"""bench.load: the production web tier under a stepped arrival rate, and nothing lost or duplicated after it.

    .venv/bin/python -m bench.load [--database-url postgresql://postgres@127.0.0.1:5432/epolicy_load]
                                   [--steps 25,50,100,200,300,400] [--step-seconds 45] [--json PATH]
    .venv/bin/python -m bench.load --smoke        # seconds, on SQLite; what tests/bench runs

What it does (bench/README.md, "bench.load"):

1. A throw-away installation: its own var directory, a database it creates (PostgreSQL by default, SQLite
   in smoke mode), `epolicy migrate`, `pki_init`, `seed_demo`, an API client for the insurer's systems;
   then, in a child process driving the platform's own services, a pool of issued 交强险 policies (for
   the query, the QR lookup and the verification upload) and of life policies (clones of the demo ones,
   for quotes and changes).
2. The services as they run in production: `bash scripts/serve.sh` (gunicorn), two task workers
   (`epolicy db_worker --interval 0.2`, the database task backend) and `epolicy scheduler`. The per-client
   limits of the public paths are lifted (every locust user comes from 127.0.0.1); the applicant journeys
   each come from their own loopback address (127.1.x.y), so the SMS code's per-address limit, which has
   no setting, applies to each applicant as it would in real use.
3. locust, headless through its library API, with FastHttpUser (gevent) users whose Poisson arrivals
   follow the step's rate: a mix of public queries (captcha + query), the query page, QR verification
   lookups, verification uploads, life quotes and changes (each change sent twice with its
   Idempotency-Key), and applicant journeys up to issuance (create, approve, read every document, sign,
   SMS code, pay on the sandbox cashier whose signed notification the server receives, poll until
   issued). The captcha is answered with challenges the bench writes itself (as the tests fix the
   answer); the SMS code is read from the sandbox outbox in the database, as the demo journey does.
4. Per step and route: requests/s achieved, p50/p95/p99, failures; the CPU used by the server, the
   task workers, PostgreSQL and locust itself; the load average.
5. After the load, the workers drain, then the checks (exit status 1 when one fails): every paid
   application has exactly one policy per product and is issued, every policy's documents and every
   object archived during the run have both copies intact, no outbox job or task is left undone or failed,
   each applied life change exists once, the audit chain verifies.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/epolicy_load"
DEFAULT_STEPS = (25, 50, 100, 200, 300, 400)
# Share of the requests of each kind (the journey's ~18 requests count as 18).
MIX = {
    "query": 0.30,  # POST /api/v1/public/captcha + POST /api/v1/public/policies/query
    "query_page": 0.05,  # GET /query/
    "qr_lookup": 0.25,  # GET /api/v1/public/policies/{number}/verification?c=
    "life_quote": 0.25,  # POST /api/v1/servicing/policies/{number}/changes/quote
    "life_apply": 0.04,  # POST .../changes with an Idempotency-Key, then the same again
    "verify_upload": 0.03,  # POST /api/v1/public/verify (an issued e-policy)
    "journey": 0.08,  # the applicant's journey up to issuance
}
REQUESTS_PER_TASK = {
    "query": 2,
    "query_page": 1,
    "qr_lookup": 1,
    "life_quote": 1,
    "life_apply": 2,
    "verify_upload": 1,
    "journey": 18,
}
# Users per kind (each paces itself to its share of the step's rate; a slow answer delays its next task,
# which is how saturation shows: the rate achieved falls short and latency climbs).
USERS = {
    "query": 40,
    "query_page": 8,
    "qr_lookup": 30,
    "life_quote": 30,
    "life_apply": 8,
    "verify_upload": 8,
    "journey": 24,
}
SMOKE_USERS = {k: 1 for k in USERS} | {"query": 2, "qr_lookup": 2, "life_quote": 2, "journey": 2}
TARGET_ROUTES = ("POST /api/v1/public/policies/query", "POST /api/v1/servicing/.../changes/quote")
TARGET_RATE = 200
TARGET_P99_MS = 100
# The per-client limits of the public paths, lifted: every locust user comes from 127.0.0.1.
LIFTED_LIMITS = {
    "EPOLICY_PUBLIC_REQUESTS_PER_MINUTE": "0",
    "EPOLICY_CAPTCHA_MAX_PER_CLIENT_PER_HOUR": "100000000",
    "EPOLICY_QUERY_MAX_PER_IP_PER_HOUR": "100000000",
    "EPOLICY_POLICY_VERIFICATION_MAX_PER_CLIENT_PER_HOUR": "100000000",
    "EPOLICY_VERIFY_CHECKS_PER_CLIENT": "64",
    "EPOLICY_SIGNATURE_MAX_PER_CLIENT_PER_HOUR": "100000000",
}
# Quoted, never applied (the changes apply 建国路<n>号): a quote of the address a policy already has is
# rightly refused (address_unchanged).
NEW_ADDRESS = {"address": "北京市东城区建国门内大街1号", "postcode": "100005"}


# ---------------------------------------------------------------------------------------------------------
# Options


def set_mix(text: str, parser: argparse.ArgumentParser) -> None:
    """--mix: the kinds named, with their shares scaled to 1; the others send nothing (and get no user)."""
    shares: dict[str, float] = {}
    for part in (x.strip() for x in text.split(",") if x.strip()):
        kind, _, share = part.partition("=")
        if kind not in MIX:
            parser.error(f"--mix: unknown kind {kind!r} (kinds: {', '.join(MIX)})")
        try:
            shares[kind] = float(share)
        except ValueError:
            parser.error(f"--mix: {part!r} is not kind=share")
        if shares[kind] < 0:
            parser.error(f"--mix: {part!r} has a negative share")
    total = sum(shares.values())
    if total <= 0:
        parser.error("--mix: the shares add up to nothing")
    for kind in MIX:
        MIX[kind] = shares.get(kind, 0.0) / total


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Load test of the production web tier (bench/README.md)")
    p.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="a PostgreSQL database to (re)create")
    p.add_argument("--smoke", action="store_true", help="seconds, at a low rate, on SQLite (CI)")
    p.add_argument("--steps", default=",".join(map(str, DEFAULT_STEPS)), help="requests/s of each step")
    p.add_argument("--step-seconds", type=float, default=45.0, help="measured seconds per step")
    p.add_argument("--warmup-seconds", type=float, default=5.0, help="unmeasured seconds before each step")
    p.add_argument("--first-warmup-seconds", type=float, default=20.0, help="unmeasured, before the first")
    p.add_argument("--policies", type=int, default=100, help="issued motor policies in the pool")
    p.add_argument("--life-policies", type=int, default=40, help="life policies in the pool")
    p.add_argument("--web-workers", type=int, default=0, help="EPOLICY_WEB_WORKERS (default: serve.sh's)")
    p.add_argument("--users", type=float, default=1.0, help="multiply the users of each kind")
    p.add_argument(
        "--mix",
        default="",
        help="only these kinds, with these shares (e.g. query=0.5,life_quote=0.5; default the full mix: "
        + ",".join(f"{k}={v}" for k, v in MIX.items())
        + ")",
    )
    p.add_argument("--no-stop", action="store_true", help="run every step even after saturation")
    p.add_argument(
        "--autogroup-nice",
        type=int,
        help="the scheduler priority of this session's autogroup (its services included), e.g. -15 as root: "
        "with autogroups, `nice` alone does not put a session ahead of other sessions' work",
    )
    p.add_argument("--port", type=int, default=0, help="where the server listens (default: a free port)")
    p.add_argument("--json", type=Path, help="write the results to this JSON file")
    p.add_argument("--keep", action="store_true", help="keep the var directory (and the database)")
    p.add_argument("--_pools", nargs=2, help=argparse.SUPPRESS)  # internal: the child that makes the pools
    args = p.parse_args(argv)
    if args.mix:
        set_mix(args.mix, p)
    if args.smoke:
        args.steps = "4,8"
        args.step_seconds = min(args.step_seconds, 5.0)
        args.warmup_seconds = min(args.warmup_seconds, 2.0)
        args.first_warmup_seconds = min(args.first_warmup_seconds, 4.0)
        args.no_stop = True
        args.policies = min(args.policies, 3)
        args.life_policies = min(args.life_policies, 4)
    return args


# ---------------------------------------------------------------------------------------------------------
# The installation


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def recreate_database(url: str) -> None:
    """Drop and create the PostgreSQL database the URL names (connecting to the server's `postgres`)."""
    from urllib.parse import urlparse

    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"database name {name!r}: lower-case letters, digits and _ only")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parts = urlparse(url)
    admin = parts._replace(path="/postgres").geturl()
    with contextlib.suppress(Exception), psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def environment(var: Path, database_url: str, port: int, *, smoke: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EPOLICY_", "DJANGO_", "PROMETHEUS_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "EPOLICY_VAR_DIR": str(var),
            "EPOLICY_DATABASE_URL": database_url,
            "EPOLICY_SITE_URL": f"http://127.0.0.1:{port}",
            "EPOLICY_BIND": f"127.0.0.1:{port}",
            "EPOLICY_LOG_LEVEL": "WARNING",
            "EPOLICY_SANDBOX_PAYMENT_DELIVERY": "http",
            **LIFTED_LIMITS,
        }
    )
    if not smoke and _redis_up():
        # Production shares the cache (the public paths' flood floor, the signing replay memory) in Redis.
        env["EPOLICY_CACHE_URL"] = "redis://127.0.0.1:6379/0"
        env["EPOLICY_CACHE_PREFIX"] = f"epolicy-load-{os.getpid()}"
    return env


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def epolicy(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(BIN / "epolicy"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise SystemExit(
            f"epolicy {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def smoke_static_key() -> Path:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("epolicy/**/static/**/*")):
        if path.is_file():
            st = path.stat()
            digest.update(f"{path}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return Path(tempfile.gettempdir()) / f"epolicy-bench-static-{digest.hexdigest()[:16]}"


def smoke_static(env: dict[str, str], var: Path) -> subprocess.Popen[bytes] | None:
    """Smoke mode's static files: a copy kept in the temporary directory between runs (keyed by the
    static sources), or collected now in the background while the installation is made."""
    cache = smoke_static_key()
    if (cache / "staticfiles.json").exists():
        (var / "static").symlink_to(cache, target_is_directory=True)
        return None
    return subprocess.Popen(
        [str(BIN / "epolicy"), "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0,
    )


def smoke_static_done(proc: subprocess.Popen[bytes] | None, var: Path) -> None:
    if proc is None:
        return
    if proc.wait(timeout=600) != 0:
        raise SystemExit("collectstatic failed")
    static = var / "static"
    cache = Path(tempfile.gettempdir()) / f"epolicy-bench-static-{os.getpid()}.tmp"
    shutil.copytree(static, cache, dirs_exist_ok=True)
    target = smoke_static_key()
    with contextlib.suppress(OSError):
        cache.rename(target)  # another run may have put it there first
    shutil.rmtree(cache, ignore_errors=True)


def install(env: dict[str, str], args: argparse.Namespace, var: Path) -> dict[str, Any]:
    """migrate, pki_init, seed_demo, an API client, then the pools (in a child process: see make_pools)."""
    epolicy(env, "migrate", "--no-input", "-v", "0")
    epolicy(env, "pki_init")
    epolicy(env, "seed_demo")
    out = epolicy(
        env,
        "api_client",
        "create",
        "load-bench",
        *("--scope", "motor:read", "--scope", "motor:write"),
        *("--scope", "servicing:read", "--scope", "servicing:write"),
    )
    match = re.search(r"X-API-Key: (\S+)", out)
    if match is None:
        raise SystemExit(f"no API key in: {out}")
    pools = var / "pools.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--_pools", str(args.policies), str(args.life_policies)],
        cwd=ROOT,
        env={**env, "EPOLICY_BENCH_POOLS": str(pools)},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise SystemExit(f"making the pools failed:\n{done.stdout}\n{done.stderr}")
    data: dict[str, Any] = json.loads(pools.read_text(encoding="utf-8"))
    data["api_key"] = match.group(1)
    return data


def make_pools(policies: int, life_policies: int) -> None:
    """The child process: issued motor policies (the demo journey, through the platform's services) and
    life policies (the demo's states under new numbers), written as JSON to $EPOLICY_BENCH_POOLS."""
    import dataclasses

    import django

    django.setup()
    from epolicy.archive.services import archive_read
    from epolicy.common import clock
    from epolicy.common.identifiers import id_number_check_char
    from epolicy.common.request_meta import ClientInfo
    from epolicy.motor import services
    from epolicy.motor.demo import demo_application_input
    from epolicy.motor.issuance import policy_issue
    from epolicy.motor.journey import drawn_signature_png, latest_sms_code, pay_as
    from epolicy.products.life_tables import load_life_catalogue
    from epolicy.rules.life.demo import demo_policies
    from epolicy.servicing.services import life_policy_create

    var = Path(os.environ["EPOLICY_VAR_DIR"])
    motor = []
    pdf_path = var / "bench-epolicy.pdf"
    actor = "system:bench-load"
    for i in range(policies):
        data = demo_application_input(100_000 + i, email="load@demo.invalid")
        # The demo journey's steps, each applicant from its own address (the SMS code's per-address limit).
        client = ClientInfo(ip=f"127.2.{i // 250}.{i % 250 + 1}", user_agent="epolicy-bench-load")
        app = services.application_create(data=data, actor=actor)
        app, _token = services.application_approve(application_id=app.pk, actor=actor)
        for code, _title in services.required_documents(app):
            services.application_document_served(app=app, code=code, client=client)
        services.application_sign(app_id=app.pk, signature=drawn_signature_png(), client=client)
        app.refresh_from_db()
        masked = services.application_otp_send(app=app, client=client)
        services.application_otp_verify(app_id=app.pk, code=latest_sms_code(masked), client=client)
        app.refresh_from_db()
        pay_as(app, payer_name=app.applicant.name, payer_id_number=app.applicant.id_number)
        policy = policy_issue(application_id=app.pk)
        if i == 0:
            pdf_path.write_bytes(archive_read(policy.document))
        motor.append(
            {
                "number": policy.number,
                "verify_code": policy.verify_code,
                "id_number": data.applicant.id_number,
                "plate": data.vehicle.plate,
            }
        )
    catalogue = load_life_catalogue()
    demo = demo_policies(catalogue, clock.today())
    first17 = "34010419880301003"
    id_number = first17 + id_number_check_char(first17)
    life = []
    for i in range(life_policies):
        base = demo[("endowment_in_force", "whole_life_in_force")[i % 2]]
        number = f"LOAD-L{i:05d}"
        life_policy_create(
            state=dataclasses.replace(base, policy_number=number),
            actor="system:bench-load",
            applicant_id_number=id_number,
            applicant_phone="13800138000",
            applicant_email="load@demo.invalid",
            reason="压测数据",
        )
        life.append(number)
    journeys = []
    for i in range(20_000):
        data = demo_application_input(500_000 + i, email="load@demo.invalid")
        person, vehicle = data.applicant, data.vehicle
        journeys.append(
            {
                "applicant": {
                    "name": person.name,
                    "id_number": person.id_number,
                    # distinct phones, so that the newest SMS to a masked number is this applicant's
                    "phone": f"139{i:08d}",
                    "email": person.email,
                    "address": person.address,
                },
                "vehicle": {
                    "plate": vehicle.plate,
                    "vin": vehicle.vin,
                    "engine_number": vehicle.engine_number,
                    "brand_model": vehicle.brand_model,
                    "seats": vehicle.seats,
                    "displacement_l": str(vehicle.displacement_l),
                    "registered_on": vehicle.registered_on.isoformat(),
                },
                "region_code": data.region_code,
                "floating_code": data.floating_code,
                "period_start": data.period_start.isoformat(),
                "special_agreements": data.special_agreements,
            }
        )
    Path(os.environ["EPOLICY_BENCH_POOLS"]).write_text(
        json.dumps(
            {
                "motor": motor,
                "life": life,
                "pdf": str(pdf_path),
                "journeys": journeys,
                "signature": drawn_signature_png(),
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )


# ---------------------------------------------------------------------------------------------------------
# The services


class Services:
    """scripts/serve.sh, two task workers and the scheduler, each in its own process group (in this
    session, so in its scheduler autogroup)."""

    def __init__(self, env: dict[str, str], var: Path, web_workers: int, *, smoke: bool) -> None:
        self.smoke = smoke
        self.env = env
        self.var = var
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.web_workers = web_workers

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = open(self.var / f"{name}.log", "ab")  # noqa: SIM115 — the child keeps it
        self.procs[name] = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, process_group=0
        )
        log.close()

    def start(self, site: str) -> None:
        tasks = {**self.env, "EPOLICY_TASK_BACKEND": "django_tasks_db.DatabaseBackend"}
        web = dict(tasks)
        if self.web_workers:
            web["EPOLICY_WEB_WORKERS"] = str(self.web_workers)
        if self.smoke:
            # serve.sh's gunicorn command without its collectstatic (~30 s of CPU: WhiteNoise compresses
            # every static file again at each start), which a few seconds of smoke cannot afford; the
            # bench requests no static file.
            argv = [
                str(BIN / "gunicorn"),
                "--config",
                "config/gunicorn.conf.py",
                "--bind",
                web["EPOLICY_BIND"],
            ]
            argv += ["--workers", str(self.web_workers or 2), "--threads", "4", "config.wsgi:application"]
            self._start("web", argv, web)
        else:
            self._start("web", ["bash", "scripts/serve.sh"], web)
        for n in (1, 2):
            self._start(f"worker{n}", [str(BIN / "epolicy"), "db_worker", "--interval", "0.2"], tasks)
        self._start("scheduler", [str(BIN / "epolicy"), "scheduler"], tasks)
        self.wait_ready(site)

    def wait_ready(self, site: str, timeout: float = 900) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise SystemExit(f"{name} exited {proc.returncode}: see {self.var / (name + '.log')}")
            try:
                with urllib.request.urlopen(f"{site}/query/", timeout=5) as resp:  # noqa: S310
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"the server did not answer within {timeout} s: see {self.var / 'web.log'}")

    def groups(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self.procs.items()}

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


class CpuMeter:
    """CPU seconds used by process groups (the services), by PostgreSQL's processes, by this process and
    by the whole machine, between two readings."""

    def __init__(self, groups: dict[str, int], database: str) -> None:
        self.groups = groups
        self.database = database
        self.tick = os.sysconf("SC_CLK_TCK")

    def _read(self) -> tuple[dict[int, tuple[str, float]], dict[str, float]]:
        """CPU seconds of each process that counts (by pid: its group's name or postgres), and totals."""
        by_pgid = {pgid: name for name, pgid in self.groups.items()}
        procs: dict[int, tuple[str, float]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            pgrp = int(fields[2])
            seconds = (int(fields[11]) + int(fields[12])) / self.tick
            if pgrp in by_pgid:
                procs[int(entry.name)] = (by_pgid[pgrp], seconds)
            elif comm == "postgres" and self.database:
                # this database's backends only (other work on the same server is not ours)
                with contextlib.suppress(OSError):
                    if f" {self.database} " in Path(entry.path, "cmdline").read_text():
                        procs[int(entry.name)] = ("postgres", seconds)
        times = os.times()
        cpu = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        totals = {
            "locust": times.user + times.system,
            "machine_busy": (sum(cpu) - cpu[3] - cpu[4]) / self.tick,
            "machine_total": sum(cpu) / self.tick,
        }
        return procs, totals

    @contextlib.contextmanager
    def measure(self, into: dict[str, Any]) -> Iterator[None]:
        (procs0, totals0), t0 = self._read(), time.monotonic()
        yield
        (procs1, totals1), wall = self._read(), time.monotonic() - t0
        used = {name: 0.0 for name in [*self.groups, "postgres"]}
        for pid, (name, seconds) in procs1.items():  # a process gone before the end is not counted
            used[name] += seconds - procs0.get(pid, (name, 0.0))[1]
        used["locust"] = totals1["locust"] - totals0["locust"]
        into["cpu_cores"] = {k: round(v / wall, 2) for k, v in used.items()}
        total = totals1["machine_total"] - totals0["machine_total"]
        busy = totals1["machine_busy"] - totals0["machine_busy"]
        into["cpu_cores"]["machine"] = round(busy / total * (os.cpu_count() or 1), 2) if total else 0.0
        into["load_average_1m"] = round(os.getloadavg()[0], 2)


# ---------------------------------------------------------------------------------------------------------
# The load


class Plan:
    """The rate of the current step, read by every user's pacing (set by the step loop)."""

    rate = 0.0
    users: dict[str, int] = {}
    max_wait = math.inf  # smoke mode: every user acts at least this often
    stopping = False


def build_users(site: str, pools: dict[str, Any], *, django_ready: bool) -> dict[str, Any]:
    """The locust user classes (locust is imported here: its gevent patches come before Django's imports)."""
    import gevent
    from gevent.queue import Queue
    from locust import FastHttpUser, HttpUser, constant, task
    from locust.clients import HttpSession
    from urllib3 import PoolManager

    assert django_ready

    motor = pools["motor"]
    life = pools["life"]
    pdf = Path(pools["pdf"]).read_bytes()
    journeys = iter(pools["journeys"])
    apply_queue: Queue[str] = Queue()
    for number in life:
        apply_queue.put(number)
    api = {"X-API-Key": pools["api_key"]}
    outcomes: dict[str, Any] = {
        "journeys_paid": [],
        "journeys_issued": {},
        "changes": [],
        "journey_errors": [],
    }
    boundary = uuid.uuid4().hex
    upload = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="policy.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf
        + f"\r\n--{boundary}--\r\n".encode()
    )
    # One connection per request, as a proxy in front of the app servers opens them by default: a kept-alive
    # connection that gunicorn closes after 2 idle seconds could be reused at that very moment (HTTP 0).
    CLOSE = {"Connection": "close"}
    upload_addresses = iter(f"127.3.{a}.{b}" for a in range(256) for b in range(1, 255))
    addresses = iter(f"127.1.{a}.{b}" for a in range(256) for b in range(1, 255))

    def own_address_session(user: Any, pool: Iterator[str]) -> Any:
        """A new session whose connections leave from the next loopback address of `pool`, one request
        per connection; reported to locust under `user`. The caller closes it."""
        client = HttpSession(
            site,
            request_event=user.environment.events.request,
            user=user,
            pool_manager=PoolManager(source_address=(next(pool), 0)),
        )
        client.headers.update(CLOSE)
        return client

    def paced(kind: str) -> Any:
        """A task that starts at the arrivals of a Poisson process whose rate is this user's share of the
        step's rate, read again every 0.2 s (a change of step takes effect at once, also for users with
        long intervals). The user waits inside its task; at the end, waiting users leave at once."""

        def wrap(body: Any) -> Any:
            def run(user: Any) -> None:
                need, waited = random.expovariate(1.0), 0.0
                while True:
                    if Plan.stopping:
                        return
                    per_user = (
                        Plan.rate * MIX[kind] / REQUESTS_PER_TASK[kind] / max(1, Plan.users.get(kind, 1))
                    )
                    if per_user > 0 and need / per_user <= 0.2:
                        gevent.sleep(need / per_user)
                        break
                    if waited >= Plan.max_wait:
                        break
                    need -= 0.2 * per_user
                    waited += 0.2
                    gevent.sleep(0.2)
                body(user)

            run.__name__ = body.__name__
            return task(run)

        return wrap

    def check(resp: Any, expected: int, *, want: str | None = None) -> Any:
        if resp.status_code != expected:
            resp.failure(f"HTTP {resp.status_code}: {resp.text[:200] if resp.text else ''}")
            return None
        try:
            body = resp.json() if want is not None else None
        except ValueError:
            resp.failure("not JSON")
            return None
        if want is not None and (not isinstance(body, dict) or want not in body):
            resp.failure(f"no {want!r} in the answer")
            return None
        resp.success()
        return body if want is not None else True

    class Query(FastHttpUser):
        host = site
        fixed_count = 1
        wait_time = constant(0)
        default_headers = CLOSE

        @paced("query")
        def query(self) -> None:
            with self.client.post(
                "/api/v1/public/captcha", name="POST /api/v1/public/captcha", catch_response=True
            ) as resp:
                check(resp, 200, want="captcha_id")
            policy = random.choice(motor)
            token, answer = captcha_take()
            body = {
                "policy_number": policy["number"],
                "id_number": policy["id_number"],
                "plate": policy["plate"],
                "captcha_id": token,
                "captcha_answer": answer,
            }
            with self.client.post(
                "/api/v1/public/policies/query",
                json=body,
                name="POST /api/v1/public/policies/query",
                catch_response=True,
            ) as resp:
                check(resp, 200, want="summary")

    class QueryPage(FastHttpUser):
        host = site
        fixed_count = 1
        wait_time = constant(0)
        default_headers = CLOSE

        @paced("query_page")
        def page(self) -> None:
            with self.client.get("/query/", name="GET /query/", catch_response=True) as resp:
                check(resp, 200)

    class QrLookup(FastHttpUser):
        host = site
        fixed_count = 1
        wait_time = constant(0)
        default_headers = CLOSE

        @paced("qr_lookup")
        def lookup(self) -> None:
            policy = random.choice(motor)
            with self.client.get(
                f"/api/v1/public/policies/{policy['number']}/verification?c={policy['verify_code']}",
                name="GET /api/v1/public/policies/{number}/verification",
                catch_response=True,
            ) as resp:
                check(resp, 200, want="status")

    class VerifyUpload(HttpUser):
        host = site
        fixed_count = 1
        wait_time = constant(0)

        @paced("verify_upload")
        def verify(self) -> None:
            # Each upload from its own address: the hourly limit per address has no setting to lift.
            client = own_address_session(self, upload_addresses)
            try:
                with client.post(
                    "/api/v1/public/verify",
                    data=upload,
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                    name="POST /api/v1/public/verify",
                    catch_response=True,
                ) as resp:
                    body = check(resp, 200, want="genuine")
                    if body is not None and body.get("genuine") is not True:
                        resp.failure(f"not genuine: {body.get('code')}")
            finally:
                client.close()

    class LifeQuote(FastHttpUser):
        host = site
        fixed_count = 1
        wait_time = constant(0)
        default_headers = CLOSE

        @paced("life_quote")
        def quote(self) -> None:
            number = random.choice(life)
            item = (
                {"item": "policy_loan", "params": {"amount": "1000"}}
                if random.random() < 0.5
                else {"item": "address_change", "params": NEW_ADDRESS}
            )
            with self.client.post(
                f"/api/v1/servicing/policies/{number}/changes/quote",
                json=item,
                headers=api,
                name="POST /api/v1/servicing/.../changes/quote",
                catch_response=True,
            ) as resp:
                check(resp, 200, want="lines")

    class LifeApply(FastHttpUser):
        host = site
        fixed_count = 1
        wait_time = constant(0)
        default_headers = CLOSE

        @paced("life_apply")
        def apply(self) -> None:
            number = apply_queue.get()  # one change at a time per policy (another would be a 409)
            try:
                key = uuid.uuid4().hex
                body = {
                    "item": "address_change",
                    "params": {
                        "address": f"北京市朝阳区建国路{random.randint(1, 999)}号",
                        "postcode": "100022",
                    },
                }
                headers = {**api, "Idempotency-Key": key}
                path = f"/api/v1/servicing/policies/{number}/changes"
                with self.client.post(
                    path,
                    json=body,
                    headers=headers,
                    name="POST /api/v1/servicing/.../changes",
                    catch_response=True,
                ) as resp:
                    first = check(resp, 201, want="change_number")
                if first is None:
                    return
                # The client's retry of the same change: answered again, applied once.
                with self.client.post(
                    path,
                    json=body,
                    headers=headers,
                    name="POST /api/v1/servicing/.../changes (replay)",
                    catch_response=True,
                ) as resp:
                    again = check(resp, 200, want="change_number")
                    if again is not None and again["change_number"] != first["change_number"]:
                        resp.failure("the replay answered another change")
                outcomes["changes"].append(first["change_number"])
            finally:
                apply_queue.put(number)

    class Journey(HttpUser):
        host = site
        fixed_count = 1
        wait_time = constant(0)
        default_headers = CLOSE

        @paced("journey")
        def journey(self) -> None:
            # A fresh session from its own loopback address: one applicant, one phone, one network.
            client = own_address_session(self, addresses)
            try:
                self._journey(client, next(journeys))
            except JourneyFailed as exc:
                outcomes["journey_errors"].append(str(exc))
            finally:
                client.close()

        def _journey(self, client: Any, data: dict[str, Any]) -> None:
            def call(method: str, path: str, name: str, expected: int = 200, **kw: Any) -> Any:
                with client.request(
                    method, path, name=f"journey: {name}", catch_response=True, allow_redirects=False, **kw
                ) as resp:
                    if resp.status_code != expected:
                        resp.failure(f"HTTP {resp.status_code}: {resp.text[:200]}")
                        raise JourneyFailed(f"{name}: HTTP {resp.status_code} {resp.text[:200]}")
                    resp.success()
                    return resp

            app = call(
                "POST", "/api/v1/motor/applications", "POST create application", 201, json=data, headers=api
            ).json()
            number = app["number"]
            approved = call(
                "POST", f"/api/v1/motor/applications/{number}/approve", "POST approve", headers=api
            ).json()
            token = approved["customer_url"].rstrip("/").rsplit("/", 1)[-1]
            base = f"/api/v1/customer/applications/{token}"
            summary = call("GET", base, "GET application").json()
            for doc in summary["documents"]:
                call("GET", f"{base}/documents/{doc['code']}", "GET document")
            call("POST", f"{base}/signature", "POST signature", json={"signature": pools["signature"]})
            sent = call("POST", f"{base}/otp", "POST otp").json()
            code = sms_code(sent["phone_masked"], data["applicant"]["phone"])
            call("POST", f"{base}/otp/verify", "POST otp/verify", json={"code": code})
            pay = call("POST", f"{base}/payment", "POST payment").json()
            cashier = call("GET", pay["pay_url"], "GET sandbox cashier").text
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', cashier)
            if csrf is None:
                raise JourneyFailed("no CSRF token on the cashier page")
            call(
                "POST",
                pay["pay_url"],
                "POST sandbox cashier (pays; the gateway notifies)",
                302,
                data={
                    "csrfmiddlewaretoken": csrf.group(1),
                    "payer_name": data["applicant"]["name"],
                    "payer_id_number": data["applicant"]["id_number"],
                    "outcome": "success",
                },
                headers={"Referer": pay["pay_url"]},
            )
            outcomes["journeys_paid"].append(number)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                state = call("GET", f"{base}/payment/{pay['order_no']}", "GET payment status (poll)").json()
                if state.get("policy_number"):
                    outcomes["journeys_issued"][number] = state["policy_numbers"]
                    return
                gevent.sleep(0.3)
            raise JourneyFailed(f"{number}: paid, not issued within 120 s")

    return {
        "classes": {
            "query": Query,
            "query_page": QueryPage,
            "qr_lookup": QrLookup,
            "life_quote": LifeQuote,
            "life_apply": LifeApply,
            "verify_upload": VerifyUpload,
            "journey": Journey,
        },
        "outcomes": outcomes,
    }


class JourneyFailed(Exception):
    pass


def step_rows(stats: Any, seconds: float) -> list[dict[str, Any]]:
    rows = []
    for entry in sorted(stats.entries.values(), key=lambda e: e.name):
        rows.append(_row(entry, f"{entry.name}", seconds))
    rows.append(_row(stats.total, "all", seconds))
    return rows


def _row(entry: Any, name: str, seconds: float) -> dict[str, Any]:
    n = entry.num_requests
    return {
        "route": name,
        "requests": n,
        "rps": round(n / seconds, 1) if seconds else 0.0,
        "p50_ms": entry.get_response_time_percentile(0.5) if n else None,
        "p95_ms": entry.get_response_time_percentile(0.95) if n else None,
        "p99_ms": entry.get_response_time_percentile(0.99) if n else None,
        "max_ms": round(entry.max_response_time) if n else None,
        "failures": entry.num_failures,
    }


def run_load(
    args: argparse.Namespace, site: str, pools: dict[str, Any], meter: CpuMeter, services: Services
) -> dict[str, Any]:
    import gevent
    from locust.env import Environment

    built = build_users(site, pools, django_ready=True)
    counts = SMOKE_USERS if args.smoke else {k: max(1, round(v * args.users)) for k, v in USERS.items()}
    counts = {k: v for k, v in counts.items() if MIX[k] > 0}  # --mix: kinds left out get no user
    Plan.users = dict(counts)
    classes = []
    for kind, cls in built["classes"].items():
        if kind not in counts:
            continue
        cls.fixed_count = counts[kind]
        classes.append(cls)
    # A user stopped at the end finishes the task it is in (a journey that paid waits for its policy).
    env = Environment(user_classes=classes, stop_timeout=180)
    runner = env.create_local_runner()
    steps = [float(s) for s in str(args.steps).split(",") if s.strip()]
    results: list[dict[str, Any]] = []
    saturated_at: float | None = None
    Plan.rate = steps[0]
    Plan.max_wait = 2.0 if args.smoke else math.inf
    first = args.first_warmup_seconds + args.warmup_seconds + args.step_seconds
    captcha_prepare(_captchas_for(steps[0], first))
    runner.start(sum(counts.values()), spawn_rate=100)
    # Every gunicorn worker imports and builds what it needs on its first requests: not measured.
    gevent.sleep(args.first_warmup_seconds)
    try:
        for rate in steps:
            Plan.rate = rate
            gevent.sleep(args.warmup_seconds)
            env.stats.reset_all()
            step: dict[str, Any] = {"target_rps": rate}
            with meter.measure(step):
                t0 = time.monotonic()
                gevent.sleep(args.step_seconds)
                seconds = time.monotonic() - t0
            step["seconds"] = round(seconds, 1)
            step["routes"] = step_rows(env.stats, seconds)
            step["errors"] = [
                {"route": e.name, "error": str(e.error)[:300], "occurrences": e.occurrences}
                for e in env.stats.errors.values()
            ]
            total = step["routes"][-1]
            step["saturated"] = bool(
                total["requests"] == 0
                or total["failures"] > 0.01 * total["requests"]
                or total["rps"] < 0.85 * rate
                or (total["p99_ms"] or 0) > 1000
            )
            step["services_alive"] = services.alive()
            results.append(step)
            print(_step_line(step), flush=True)
            if step["saturated"] and saturated_at is None:
                saturated_at = rate
                if not args.no_stop:
                    break
            nxt = steps[steps.index(rate) + 1] if rate != steps[-1] else None
            if nxt is not None:
                captcha_prepare(_captchas_for(nxt, args.warmup_seconds + args.step_seconds + 10))
    finally:
        Plan.stopping = True  # waiting users leave; a journey under way finishes (stop_timeout)
        runner.quit()
        Plan.rate, Plan.max_wait, Plan.stopping = 0.0, math.inf, False
    return {"steps": results, "saturated_at": saturated_at, "users": counts, "outcomes": built["outcomes"]}


def _captchas_for(rate: float, seconds: float) -> int:
    tasks_per_s = rate * MIX["query"] / REQUESTS_PER_TASK["query"]
    return math.ceil(tasks_per_s * seconds * 1.5) + 50


def _step_line(step: dict[str, Any]) -> str:
    total = step["routes"][-1]
    cpu = step["cpu_cores"]
    return (
        f"step {step['target_rps']:g}/s: {total['rps']} req/s, p50 {total['p50_ms']} p95 {total['p95_ms']} "
        f"p99 {total['p99_ms']} ms, {total['failures']} failures of {total['requests']}; cores: web "
        f"{cpu.get('web')}, workers {round(cpu.get('worker1', 0) + cpu.get('worker2', 0), 2)}, postgres "
        f"{cpu.get('postgres')}, locust {cpu.get('locust')}, machine {cpu.get('machine')}; load "
        f"{step['load_average_1m']}" + ("  SATURATED" if step["saturated"] else "")
    )


# ---------------------------------------------------------------------------------------------------------
# What the bench reads and checks in the database (Django is set up in this process after locust's import)

_CAPTCHAS: list[tuple[str, str]] = []


def captcha_prepare(count: int) -> None:
    """Challenges whose answers the bench knows, written as `captcha_create` writes them (the tests fix the
    answer the same way; no client can read a captcha's answer, which is the point of it)."""
    import datetime as dt
    import secrets

    from django.conf import settings

    from epolicy.common import clock
    from epolicy.identity import captcha
    from epolicy.identity.models import Captcha

    now = clock.now()
    rows, made = [], []
    for _ in range(count):
        token, answer = secrets.token_urlsafe(32), captcha.new_answer()
        rows.append(
            Captcha(
                token=token,
                answer_hash=captcha._answer_hash(token, answer),
                created_at=now,
                expires_at=now + dt.timedelta(seconds=settings.CAPTCHA_TTL_SECONDS),
            )
        )
        made.append((token, answer))
    Captcha.objects.bulk_create(rows, batch_size=1000)
    _CAPTCHAS[:] = made


def captcha_take() -> tuple[str, str]:
    if not _CAPTCHAS:
        captcha_prepare(200)
    return _CAPTCHAS.pop()


def sms_code(phone_masked: str, phone: str, timeout: float = 30.0) -> str:
    """The code the sandbox SMS gateway sent to this applicant (its outbox, as the demo journey reads it)."""
    import gevent

    from epolicy.notifications.models import SmsMessage

    deadline = time.monotonic() + timeout
    while True:
        for msg in SmsMessage.objects.filter(phone_masked=phone_masked).order_by("-id")[:3]:
            match = re.search(r"验证码 (\d{6})", msg.text)
            if msg.phone == phone and match:
                return match.group(1)
        if time.monotonic() > deadline:
            raise JourneyFailed(f"no SMS code for {phone_masked} within {timeout} s")
        gevent.sleep(0.2)


def drain(timeout: float) -> dict[str, Any]:
    """Wait until the task workers have done every outbox job and due task."""
    from django.db import close_old_connections
    from django_tasks_db.models import DBTaskResult

    from epolicy.ops.models import OutboxJob

    t0 = time.monotonic()
    while True:
        close_old_connections()
        open_jobs = OutboxJob.objects.exclude(status=OutboxJob.Status.DONE).count()
        due = DBTaskResult.objects.ready().count() + DBTaskResult.objects.running().count()
        if (open_jobs == 0 and due == 0) or time.monotonic() - t0 > timeout:
            return {"seconds": round(time.monotonic() - t0, 1), "outbox_open": open_jobs, "tasks_due": due}
        time.sleep(1.0)


def invariants(outcomes: dict[str, Any]) -> dict[str, Any]:
    """Nothing lost or duplicated (each check: ok and a detail)."""
    from collections import Counter

    from django.db import connections
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    from epolicy.archive.models import ArchivedObject
    from epolicy.archive.replication import archive_check_object
    from epolicy.audit.selectors import audit_verify_chain
    from epolicy.motor.models import Application
    from epolicy.ops.models import OutboxJob
    from epolicy.payments.models import PaymentOrder
    from epolicy.policies.models import Policy
    from epolicy.servicing.models import PolicyChange

    connections.close_all()
    checks: dict[str, dict[str, Any]] = {}

    # Every paid application: issued, exactly one policy per product bought.
    paid = set(
        PaymentOrder.objects.filter(status=PaymentOrder.Status.PAID, payable_kind="application").values_list(
            "application_id", flat=True
        )
    )
    wrong = []
    for app in Application.objects.filter(pk__in=paid).prefetch_related("policies"):
        products = Counter(p.product for p in app.policies.all())
        if app.status != Application.Status.ISSUED or products != Counter(app.products):
            wrong.append(f"{app.number}: {app.status}, policies {dict(products)}, bought {app.products}")
    checks["paid applications issued once"] = {
        "ok": not wrong,
        "detail": f"{len(paid)} paid applications" + (f"; wrong: {wrong[:5]}" if wrong else ""),
    }
    numbers = set(outcomes["journeys_paid"])
    issued = dict(outcomes["journeys_issued"])
    known = set(Application.objects.filter(number__in=numbers, pk__in=paid).values_list("number", flat=True))
    checks["journeys paid -> issued"] = {
        "ok": known == numbers and not outcomes["journey_errors"] and set(issued) == numbers,
        "detail": f"{len(numbers)} journeys paid, {len(issued)} seen issued, {len(known)} recorded paid; "
        f"{len(outcomes['journey_errors'])} journeys failed"
        + (f": {outcomes['journey_errors'][:3]}" if outcomes["journey_errors"] else ""),
    }
    dup = Policy.objects.values("application_id", "product").annotate(n=Count("id")).filter(n__gt=1).count()
    checks["no duplicated policy"] = {"ok": dup == 0, "detail": f"{dup} (application, product) pairs twice"}

    # Every archived object (every policy's e-policy and its application's form, signed form, evidence;
    # the life endorsements): both copies present and intact.
    missing_docs = Policy.objects.filter(document__isnull=True).count()
    problems, lost, checked = 0, 0, 0
    for pk in ArchivedObject.objects.filter(deleted_at__isnull=True).values_list("pk", flat=True).iterator():
        report = archive_check_object(object_id=pk, repair=False)
        checked += 1
        problems += report.problems_found
        lost += len(report.lost)
    checks["archived in both copies"] = {
        "ok": problems == 0 and missing_docs == 0 and checked > 0,
        "detail": f"{checked} objects, {problems} copies missing or altered ({lost} lost), "
        f"{missing_docs} policies without a document",
    }

    open_jobs = list(
        OutboxJob.objects.exclude(status=OutboxJob.Status.DONE).values_list(
            "kind", "subject", "status", "attempts"
        )
    )
    retried = OutboxJob.objects.filter(attempts__gt=1).count()
    failed_tasks = DBTaskResult.objects.failed().count()
    due_tasks = DBTaskResult.objects.ready().count() + DBTaskResult.objects.running().count()
    checks["outbox drained, no failed task"] = {
        "ok": not open_jobs and failed_tasks == 0 and due_tasks == 0,
        "detail": f"{len(open_jobs)} outbox jobs not done {open_jobs[:5]}, {retried} done after a retry, "
        f"{failed_tasks} failed tasks, {due_tasks} tasks still due",
    }

    changes = outcomes["changes"]
    found = PolicyChange.objects.filter(change_number__in=changes).count()
    by_bench = PolicyChange.objects.filter(policy__number__startswith="LOAD-L").count()
    checks["life changes applied once"] = {
        "ok": found == len(changes) == by_bench and len(set(changes)) == len(changes),
        "detail": f"{len(changes)} changes answered 201 (each replayed with its key), {found} found, "
        f"{by_bench} on the pool's policies",
    }

    chain = audit_verify_chain()
    checks["audit chain verifies"] = {"ok": chain.ok, "detail": chain.message}
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}


# ---------------------------------------------------------------------------------------------------------
# Main


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args._pools:
        make_pools(int(args._pools[0]), int(args._pools[1]))
        return 0
    if args.autogroup_nice is not None:
        Path("/proc/self/autogroup").write_text(f"{args.autogroup_nice}\n")
    # locust patches the standard library with gevent when imported: before anything else touches it.
    import locust  # noqa: F401

    from bench import _common

    info_before = _common.machine()
    var = Path(tempfile.mkdtemp(prefix="epolicy-load-"))
    port = args.port or free_port()
    site = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{var / 'load.sqlite3'}" if args.smoke else args.database_url
    print(f"bench.load: var {var}, database {database_url}, server {site}", flush=True)
    if not args.smoke:
        recreate_database(database_url)
    env = environment(var, database_url, port, smoke=args.smoke)
    services = Services(env, var, args.web_workers, smoke=args.smoke)
    result: dict[str, Any] = {"machine": info_before, "params": _params(args, env)}
    ok = False
    try:
        t0 = time.monotonic()
        static = smoke_static(env, var) if args.smoke else None
        pools = install(env, args, var)
        smoke_static_done(static, var)
        result["setup_s"] = round(time.monotonic() - t0, 1)
        print(
            f"installed in {result['setup_s']} s: {len(pools['motor'])} motor policies, "
            f"{len(pools['life'])} life policies",
            flush=True,
        )
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        services.start(site)
        meter = CpuMeter(services.groups(), "" if args.smoke else database_url.rsplit("/", 1)[-1])
        load = run_load(args, site, pools, meter, services)
        result.update({k: v for k, v in load.items() if k != "outcomes"})
        outcomes = load["outcomes"]
        result["drain"] = drain(timeout=300 if not args.smoke else 90)
        services.stop()
        result["invariants"] = invariants(outcomes)
        result["targets"] = targets(result["steps"])
        result["machine_after"] = _common.machine()
        ok = result["invariants"]["ok"]
        if args.smoke:
            # Smoke: every kind of request ran, none failed, a journey reached its policy.
            seen = {r["route"] for s in result["steps"] for r in s["routes"] if r["requests"]}
            result["smoke"] = {
                "failures": sum(s["routes"][-1]["failures"] for s in result["steps"]),
                "journeys_issued": len(outcomes["journeys_issued"]),
                "routes_seen": sorted(seen),
            }
            ok = ok and result["smoke"]["failures"] == 0 and result["smoke"]["journeys_issued"] > 0
            ok = ok and len(seen) >= 8
        result["ok"] = ok
        print()
        print(report(result))
    finally:
        services.stop()
        _common.write_json(args.json, result)
        if args.keep:
            print(f"kept: {var} (database {database_url})")
        else:
            shutil.rmtree(var, ignore_errors=True)
            if not args.smoke:
                with contextlib.suppress(Exception):
                    from django.db import connections

                    connections.close_all()
                drop_database(database_url)
    return 0 if ok else 1


def _params(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    return {
        "smoke": args.smoke,
        "database": "sqlite" if args.smoke else "postgresql",
        "steps": args.steps,
        "step_seconds": args.step_seconds,
        "warmup_seconds": args.warmup_seconds,
        "policies": args.policies,
        "life_policies": args.life_policies,
        "mix": MIX,
        "web_workers": env.get("EPOLICY_WEB_WORKERS")
        or args.web_workers
        or "serve.sh default (2 × cores + 1)",
        "web_threads": "serve.sh default (4)",
        "lifted_limits": LIFTED_LIMITS,
        "cache": env.get("EPOLICY_CACHE_URL", "per process (locmem)"),
        "niceness": os.nice(0),
        "autogroup": _autogroup(),
    }


def _autogroup() -> str:
    try:
        return Path("/proc/self/autogroup").read_text().strip()
    except OSError:
        return ""


def targets(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Public query and life quote p99 < 100 ms at 200 requests/s; no error at that rate."""
    at = next((s for s in steps if s["target_rps"] == TARGET_RATE), None)
    if at is None:
        return {"measured": False}
    routes = {r["route"]: r for r in at["routes"]}
    out: dict[str, Any] = {"measured": True, "rate": TARGET_RATE}
    for name in TARGET_ROUTES:
        row = routes.get(name)
        p99 = row["p99_ms"] if row else None
        out[name] = {"p99_ms": p99, "met": p99 is not None and p99 < TARGET_P99_MS}
    out["no_error"] = {"failures": routes["all"]["failures"], "met": routes["all"]["failures"] == 0}
    return out


def report(result: dict[str, Any]) -> str:
    from bench._common import table

    lines = []
    for step in result["steps"]:
        cpu = step["cpu_cores"]
        lines.append(
            f"== {step['target_rps']:g} requests/s for {step['seconds']} s (load {step['load_average_1m']}; "
            f"cores used: web {cpu.get('web')}, task workers "
            f"{round(cpu.get('worker1', 0) + cpu.get('worker2', 0), 2)}, scheduler {cpu.get('scheduler')}, "
            f"postgres {cpu.get('postgres')}, locust {cpu.get('locust')}, whole machine {cpu.get('machine')})"
            + (" SATURATED" if step["saturated"] else "")
        )
        lines.append(
            table(
                ["route", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "failures"],
                [
                    [r["route"], r["rps"], r["p50_ms"], r["p95_ms"], r["p99_ms"], r["max_ms"], r["failures"]]
                    for r in step["routes"]
                ],
            )
        )
        for err in step["errors"][:8]:
            lines.append(f"  error x{err['occurrences']}: {err['route']}: {err['error']}")
        lines.append("")
    lines.append(f"saturated at: {result.get('saturated_at') or 'not within the steps'}")
    lines.append(f"targets: {json.dumps(result.get('targets'), ensure_ascii=False)}")
    inv = result["invariants"]
    lines.append(f"drain: {json.dumps(result.get('drain'), ensure_ascii=False)}")
    lines.append("checks: " + ("all passed" if inv["ok"] else "FAILED"))
    for name, check in inv["checks"].items():
        lines.append(f"  {'ok  ' if check['ok'] else 'FAIL'} {name}: {check['detail']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

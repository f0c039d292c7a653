"""Latency of finding one policy among millions through the platform's selectors, with a baseline.

    EPOLICY_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/epolicy_scale \\
        .venv/bin/python -m bench.lookup --lookups 10000 --json var/bench/lookup.json

Runs against the database EPOLICY_DATABASE_URL names (filled by bench.datagen), read-only. The inputs are
drawn first, outside the timing: random policies by key, their number, their applicant's ID number and
their plate decrypted through the models. Then, per lookup, in random order:

- `public_query`: `policies.selectors.policy_find` (number + ID number + plate: the public query);
- `console_id_number`: the console's policy list searched by an ID number (`backoffice.search.listing`,
  as the page calls it: the count, the page of 50 and its display rows);
- `life_by_id_number`: `servicing.selectors.policies_of_applicant` (a life applicant's policies).

Baselines, in the same run, on `--baseline` of the same inputs (each reads the whole table, so few):

- `public_query` with PostgreSQL's index scans switched off for the lookup (`SET LOCAL enable_indexscan`,
  `enable_bitmapscan`, `enable_indexonlyscan` = off): what the same selector costs without the indexes;
- `console_id_number` through the list's query as it was before docs/performance.md "Scale": a
  subquery of the person's Customer rows in each arm of an OR (the form PostgreSQL cannot serve from the
  indexes).

`hot_paths` is shared with tests/scale/test_query_plans.py, which checks the plans of the same calls.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One generated policy as a customer or a staff member would look it up."""

    number: str
    id_number: str
    plate: str
    confirmed_on: dt.date
    life_id_number: str


def draw_samples(count: int, *, seed: int = 1) -> list[Sample]:
    """Random motor policies (by key, so every part of the table is drawn) and life applicants."""
    from django.db import connection

    from epolicy.policies.models import Policy
    from epolicy.servicing.models import LifePolicy

    rng = random.Random(seed)
    with connection.cursor() as cur:
        cur.execute("SELECT MIN(id), MAX(id) FROM policies_policy")
        low, high = cur.fetchone()
        cur.execute("SELECT MIN(id), MAX(id) FROM servicing_lifepolicy")
        life_low, life_high = cur.fetchone()
    if low is None:
        raise SystemExit("no policies: fill the database with bench.datagen first")
    samples: list[Sample] = []
    while len(samples) < count:
        keys = sorted({rng.randint(low, high) for _ in range(min(500, 2 * (count - len(samples))))})
        found = Policy.objects.filter(pk__in=keys).select_related("applicant").order_by()
        for policy in found:
            life_id = ""
            if life_low is not None:
                holder = LifePolicy.objects.filter(pk__gte=rng.randint(life_low, life_high)).order_by("pk")
                life_id = _life_id_number(holder.first())
            samples.append(
                Sample(
                    number=policy.number,
                    id_number=policy.applicant.id_number,
                    plate=policy.plate,
                    confirmed_on=policy.confirmed_at.date(),
                    life_id_number=life_id,
                )
            )
    rng.shuffle(samples)
    return samples[:count]


def _life_id_number(policy: Any) -> str:
    """The ID number of a life policy's applicant: the clear number is not kept with the policy, so
    it is found through a Customer row with the same blind index (the generator gives half the life
    applicants motor policies too); '' when the applicant has none."""
    if policy is None or not policy.applicant_id_index:
        return ""
    from epolicy.parties.models import Customer

    person = Customer.objects.filter(id_number_index=policy.applicant_id_index).order_by().first()
    return person.id_number if person else ""


def hot_paths(sample: Sample) -> dict[str, Callable[[], Any]]:
    """The platform's hot look-ups and lists for one sample, as the pages and the API call them."""
    from epolicy.backoffice import search
    from epolicy.motor.models import Application
    from epolicy.policies.models import Policy
    from epolicy.policies.selectors import policy_find
    from epolicy.servicing.selectors import policies_of_applicant

    def policies(params: dict[str, str]) -> Callable[[], Any]:
        return lambda: search.listing(
            params, statuses=Policy.Status.choices, rows=search.policy_rows, shown=search.policy_rows_shown
        )

    def applications(params: dict[str, str]) -> Callable[[], Any]:
        return lambda: search.listing(
            params,
            statuses=Application.Status.choices,
            rows=search.application_rows,
            shown=search.application_rows_shown,
        )

    day = sample.confirmed_on.isoformat()
    return {
        "public_query": lambda: policy_find(
            policy_number=sample.number, id_number=sample.id_number, plate=sample.plate
        ),
        "console_id_number": policies({"q": sample.id_number}),
        "console_policy_number": policies({"q": sample.number}),
        "console_plate": policies({"q": sample.plate}),
        "console_recent": policies({}),
        "console_recent_page_7": policies({"page": "7"}),
        "console_last_page": policies({"page": "999999"}),
        "console_status": policies({"status": "cancelled", "page": "3"}),
        "console_confirmed_day": policies({"date_from": day, "date_to": day}),
        "console_start_day": policies({"date_field": "period_start", "date_from": day, "date_to": day}),
        "dashboard_recent": applications({}),
        "dashboard_status": applications({"status": "approved"}),  # rare: every generated one is issued
        "dashboard_id_number": applications({"q": sample.id_number}),
        "dashboard_created_day": applications({"date_from": day, "date_to": day}),
        "life_by_id_number": lambda: list(policies_of_applicant(sample.life_id_number or sample.id_number)),
    }


def old_console_id_query(id_number: str) -> Any:
    """The console's policy list searched by ID number as it was before the scale work (baseline)."""
    from django.db.models import Q

    from epolicy.backoffice import search
    from epolicy.parties.models import Customer
    from epolicy.policies.models import Policy

    people = Customer.objects.filter(id_number_index=Customer.id_index(id_number))
    rows = Policy.objects.select_related("applicant", "application").filter(
        Q(applicant__in=people) | Q(application__insured__in=people) | Q(application__owner__in=people)
    )
    rows = rows.order_by("-id")
    return search.policy_rows_shown(list(rows[: search.PAGE_SIZE])), rows.count()


def _no_index_scans(fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        from django.db import connection, transaction

        with transaction.atomic(), connection.cursor() as cur:
            for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
                cur.execute(f"SET LOCAL {setting} = off")
            return fn()

    return run


def explain_hot_paths(sample: Sample) -> dict[str, list[dict[str, Any]]]:
    """Each hot path's statements as run (EXPLAIN (ANALYZE, BUFFERS)): scans, indexes, time, buffers."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    out: dict[str, list[dict[str, Any]]] = {}
    for name, call in hot_paths(sample).items():
        with CaptureQueriesContext(connection) as captured:
            call()
        out[name] = []
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
                raw = cur.fetchone()[0]
            top = (json.loads(raw) if isinstance(raw, str) else raw)[0]
            scans = sorted(
                {
                    f"{node['Node Type']} {node.get('Index Name') or node.get('Relation Name')}"
                    for node in _plan_nodes(top["Plan"])
                    if "Scan" in node["Node Type"]
                }
            )
            out[name].append(
                {
                    "sql": sql[:160],
                    "scans": scans,
                    "execution_ms": round(top["Execution Time"], 3),
                    "buffers": top["Plan"].get("Shared Hit Blocks", 0)
                    + top["Plan"].get("Shared Read Blocks", 0),
                }
            )
    return out


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


def _percentiles(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": len(ordered),
        "p50_ms": round(at(0.50), 3),
        "p95_ms": round(at(0.95), 3),
        "p99_ms": round(at(0.99), 3),
        "max_ms": round(ordered[-1], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


class _DatabaseClock:
    """Time spent inside the database calls (execute and fetch of the rows) of a lookup."""

    def __init__(self) -> None:
        self.ms = 0.0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.ms += (time.perf_counter() - started) * 1000


def _timed(fn: Callable[[], Any], db_ms: list[float] | None = None) -> float:
    from django.db import connection

    clock = _DatabaseClock()
    with connection.execute_wrapper(clock):
        started = time.perf_counter()
        fn()
        elapsed = (time.perf_counter() - started) * 1000
    if db_ms is not None:
        db_ms.append(clock.ms)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=5, help="lookups of each baseline (full scans)")
    parser.add_argument("--json", default="", help="write the figures here too")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--explain", action="store_true", help="first print each hot path's plans (ANALYZE)")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from epolicy.policies.selectors import policy_find

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM policies_policy")
        policies = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM servicing_lifepolicy")
        life = cur.fetchone()[0]
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cur.fetchone()[0]
    print(
        f"{connection.settings_dict['NAME']}: {policies:,} motor, {life:,} life policies, {size}", flush=True
    )
    started = time.monotonic()
    samples = draw_samples(args.lookups, seed=args.seed)
    print(f"drew {len(samples):,} samples in {time.monotonic() - started:.0f} s", flush=True)

    if args.explain:
        plans = explain_hot_paths(samples[0])
        for name, statements in plans.items():
            print(f"{name}:")
            for st in statements:
                print(
                    f"    {st['execution_ms']:9.3f} ms  {st['buffers']:>7} buffers  {'; '.join(st['scans'])}"
                )
                print(f"        {st['sql']}")
    else:
        plans = {}

    timings: dict[str, list[float]] = {"public_query": [], "console_id_number": [], "life_by_id_number": []}
    # The same lookups' time in database calls only (the rest is Python: decryption, model rows, pages).
    db_timings: dict[str, list[float]] = {name: [] for name in timings}
    # One uncounted round (connections, imports, first plans).
    for name, fn in hot_paths(samples[0]).items():
        if name in timings:
            fn()
    started = time.monotonic()
    for n, sample in enumerate(samples, start=1):
        paths = hot_paths(sample)
        for name in random.Random(n).sample(list(timings), len(timings)):
            timings[name].append(_timed(paths[name], db_timings[name]))
        if n % 1000 == 0:
            print(f"  {n:,} lookups, {time.monotonic() - started:.0f} s", flush=True)
    results: dict[str, Any] = {name: _percentiles(ms) for name, ms in timings.items()}
    results |= {f"{name} (database calls only)": _percentiles(ms) for name, ms in db_timings.items()}

    base = samples[: args.baseline]

    def find(s: Sample) -> Callable[[], Any]:
        return lambda: policy_find(policy_number=s.number, id_number=s.id_number, plate=s.plate)

    results["baseline: public_query, index scans off"] = _percentiles(
        [_timed(_no_index_scans(find(s))) for s in base]
    )
    results["baseline: console_id_number, the former query"] = _percentiles(
        [_timed(functools.partial(old_console_id_query, s.id_number)) for s in base]
    )
    report = {
        "database": connection.settings_dict["NAME"],
        "motor_policies": policies,
        "life_policies": life,
        "database_size": size,
        "lookups": len(samples),
        "results": results,
        "plans": plans,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    for name, figures in results.items():
        print(
            f"{name:50s} n={figures['n']:>6}  p50 {figures['p50_ms']:9.2f}  p95 {figures['p95_ms']:9.2f}  "
            f"p99 {figures['p99_ms']:9.2f}  max {figures['max_ms']:9.2f} ms"
        )
    print(f"load average {report['machine']['load_average']}")
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

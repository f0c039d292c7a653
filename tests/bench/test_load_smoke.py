"""bench.load runs end to end in smoke mode: the services start, every kind of request is answered, a
journey reaches its policy, and the checks that nothing was lost or duplicated pass.

No timing is asserted (the bench measures; docs/performance.md, "Load test"). This only keeps the bench
from rotting: a renamed route, a changed answer or a new per-client limit shows here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_load_bench_smoke(tmp_path):
    out = tmp_path / "load.json"
    # The bench makes its own installation: none of this run's settings may leak into it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EPOLICY_", "DJANGO_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bench.load", "--smoke", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"bench.load exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["ok"] is True
    assert data["params"]["smoke"] is True and data["params"]["database"] == "sqlite"
    assert [s["target_rps"] for s in data["steps"]] == [4.0, 8.0]
    for step in data["steps"]:
        assert step["routes"][-1]["route"] == "all"
        assert {"rps", "p50_ms", "p95_ms", "p99_ms", "failures"} <= set(step["routes"][-1])
        assert {"web", "worker1", "worker2", "scheduler", "locust", "machine"} <= set(step["cpu_cores"])
        assert all(step["services_alive"].values())
    assert data["smoke"]["failures"] == 0 and data["smoke"]["journeys_issued"] >= 1
    seen = set(data["smoke"]["routes_seen"])
    assert {
        "POST /api/v1/public/policies/query",
        "GET /api/v1/public/policies/{number}/verification",
        "POST /api/v1/servicing/.../changes/quote",
        "journey: POST sandbox cashier (pays; the gateway notifies)",
    } <= seen
    checks = data["invariants"]["checks"]
    assert all(c["ok"] for c in checks.values()), checks
    assert set(checks) >= {
        "paid applications issued once",
        "archived in both copies",
        "outbox drained, no failed task",
        "life changes applied once",
        "audit chain verifies",
    }

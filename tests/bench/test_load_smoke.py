"""bench.load runs end to end in smoke mode: the services start, every kind of request is answered, a
journey reaches its policy, and the checks that nothing was lost or duplicated pass.

No timing is asserted (the bench measures; docs/performance.md, "Load test"). This only keeps the bench
from rotting: a renamed route, a changed answer or a new per-client limit shows here.
"""

from __future__ import annotations

from .smoke import run_bench_smoke


def test_load_bench_smoke(tmp_path):
    data = run_bench_smoke("bench.load", tmp_path / "load.json", timeout=300)
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

"""bench.startup runs end to end in smoke mode and reports what it should. No timing is asserted: the
bench itself compares the commands with pdfsig in the same run (docs/performance.md, "Start-up")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_startup_bench_smoke(tmp_path):
    out = tmp_path / "startup.json"
    # The bench makes its own throw-away environment: none of this run's settings may leak into it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EPOLICY_", "DJANGO_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bench.startup", "--smoke", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["bench"] == "startup" and report["verified"] is True
    labels = [run["label"] for run in report["runs"]]
    assert labels[:3] == ["epolicy help", "epolicy verify_pdf, 1 file", "epolicy verify_pdf, folder of 5"]
    if report["params"]["pdfsig"]:
        jobs = report["params"]["jobs"]
        assert labels[3:] == [
            "pdfsig, 1 file",
            "pdfsig, 5 files one after another",
            f"pdfsig, 5 files {jobs} at a time",
        ]
    for run in report["runs"]:
        assert run["ok"] and run["runs"] == 2
        assert set(run["wall_ms"]) == {"median", "p95", "mean", "min", "max"}
    assert report["tampered"]["exit_status"] == 1
    assert "target" in report and "machine" in report

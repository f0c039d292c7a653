"""Running a bench in smoke mode as its own process, for the tests of the benches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench_smoke(module: str, out: Path, *args: str, timeout: float = 600) -> dict:
    """`python -m <module> --smoke --json <out> [args]`; its report, once it exited 0.

    The bench makes its own installation or throw-away environment: none of this run's settings (a
    PostgreSQL URL, a settings module) may leak into it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EPOLICY_", "DJANGO_"))}
    result = subprocess.run(
        [sys.executable, "-m", module, "--smoke", "--json", str(out), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{module} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return json.loads(out.read_text(encoding="utf-8"))

"""bench.startup runs end to end in smoke mode and reports what it should. No timing is asserted: the
bench itself compares the commands with pdfsig in the same run (docs/performance.md, "Start-up")."""

from __future__ import annotations

from tests.bench.smoke import run_bench_smoke


def test_startup_bench_smoke(tmp_path):
    report = run_bench_smoke("bench.startup", tmp_path / "startup.json", timeout=900)
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

"""The benchmarks run end to end in smoke mode, report what they should, and what they produce verifies.

No timing is asserted here: speed is measured by the benches themselves, against their baselines in the
same run (bench/README.md). These tests only keep the benches from rotting.
"""

from __future__ import annotations

import pytest

from .smoke import run_bench_smoke

STAGES = ("render", "sign", "archive", "total", "cpu")
STATS = ("median", "p90", "mean", "min", "max")


@pytest.fixture(scope="module")
def issuance(tmp_path_factory):
    return run_bench_smoke("bench.issuance", tmp_path_factory.mktemp("bench") / "issuance.json")


@pytest.fixture(scope="module")
def verification(tmp_path_factory):
    return run_bench_smoke("bench.verify", tmp_path_factory.mktemp("bench") / "verify.json")


@pytest.fixture(scope="module")
def verification_lta(tmp_path_factory):
    return run_bench_smoke("bench.verify", tmp_path_factory.mktemp("bench") / "verify-lta.json", "--lta")


def _assert_machine(machine: dict) -> None:
    for key in ("cpus", "cpu_model", "memory_gib", "python", "load_average"):
        assert key in machine
    for dist in ("pyHanko", "reportlab"):
        assert machine["versions"][dist]


def test_issuance_runs_recipe_ours_and_ours_in_parallel(issuance):
    assert issuance["bench"] == "issuance"
    assert issuance["params"]["smoke"] is True
    _assert_machine(issuance["machine"])
    runs = [(r["pipeline"], r["workers"], r["library_fixes"]) for r in issuance["runs"]]
    # The baseline runs with the libraries as shipped; ours, and an informative recipe run, with the fixes.
    assert runs == [("recipe", 1, False), ("ours", 1, True), ("recipe", 1, True), ("ours", 2, True)]
    for run in issuance["runs"]:
        assert run["docs"] == issuance["params"]["docs"]
        assert run["wall_s"] > 0 and run["docs_per_s"] > 0 and run["vs_recipe"] > 0
        for stage in STAGES:
            assert set(STATS) <= set(run["stages_ms"][stage])
    assert "sign.load" in issuance["runs"][0]["stages_ms"]  # the recipe's per-document key loading
    assert set(issuance["ratio"]) == {
        "ours_vs_recipe",
        "parallel_vs_recipe",
        "ours_vs_recipe_with_library_fixes",
    }
    targets = issuance["targets"]
    assert {"ratio", "ratio_met", "docs_per_s", "docs_per_s_measured", "docs_per_s_met"} <= set(targets)


def test_issued_documents_are_archived_and_verify_genuine(issuance):
    assert issuance["verified"] is True
    for run in issuance["runs"]:
        check = run["check"]
        assert check["produced"] == check["registered"] == run["docs"]
        assert check["checked"] == check["genuine"] == run["docs"]  # smoke mode checks every document
        assert check["failures"] == []


def test_verify_bench_compares_with_pyhanko_default(verification):
    assert verification["bench"] == "verify"
    _assert_machine(verification["machine"])
    labels = [r["label"] for r in verification["runs"]]
    assert labels == ["pyHanko default", "ours (verify_pdf)", "pyHanko default + library fixes"]
    for run in verification["runs"]:
        assert run["docs"] == verification["params"]["docs"]
        assert run["per_s"] > 0
        assert set(STATS) <= set(run["ms"])
    assert verification["ratio"]["ours_vs_pyhanko"] > 0
    assert verification["ratio"]["ours_vs_pyhanko_with_library_fixes"] > 0


def test_verify_bench_documents_pass_and_a_changed_copy_fails_both(verification):
    assert verification["verified"] is True
    for run in verification["runs"]:
        assert run["passed"] == run["docs"]
    assert verification["runs"][1]["outcomes"] == {"genuine": verification["params"]["docs"]}
    assert not any(outcome["passed"] for outcome in verification["tampered"].values())


def test_verify_bench_checks_e_policies_as_handed_out_with_lta(verification, verification_lta):
    assert verification["params"]["lta"] is False and verification_lta["params"]["lta"] is True
    assert verification_lta["verified"] is True
    assert verification_lta["runs"][1]["outcomes"] == {"genuine": verification_lta["params"]["docs"]}
    assert not any(outcome["passed"] for outcome in verification_lta["tampered"].values())

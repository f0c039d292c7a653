"""The import contracts of pyproject.toml hold, and they are not decorative: a lower app importing a
higher one, or the rules importing Django, breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = str(Path(sys.executable).with_name("lint-imports"))


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([LINT, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    """The package and its contracts in a scratch directory, to break on purpose."""
    target = tmp_path_factory.mktemp("contracts")
    shutil.copytree(ROOT / "epolicy", target / "epolicy", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def test_the_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "words"),
    [
        # the archive (lower) reaching for motor (higher): what the cycle was made of
        (
            "epolicy/archive/_probe.py",
            "import epolicy.motor.models\n",
            "epolicy.archive._probe -> epolicy.motor",
        ),
        # payments calling motor directly instead of through its payable hook
        ("epolicy/payments/_probe.py", "from epolicy.motor import services\n", "epolicy.payments._probe"),
        # a pure rule importing Django
        ("epolicy/rules/_probe.py", "import django.db\n", "epolicy.rules._probe -> django (l.1)"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(copy, module, source, words):
    probe = copy / module
    probe.write_text(source)
    try:
        result = lint(copy)
    finally:
        probe.unlink()
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and words in result.stdout, result.stdout

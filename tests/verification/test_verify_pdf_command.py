"""`epolicy verify_pdf` at a terminal: the report or one plain Chinese error, never a library's traceback.

Run as a person runs it (a new process with its own database, PKI and fork server), because what is
tested is what reaches the terminal: the worker's and pyHanko's logging included.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Printed by every `epolicy` command while Django starts (pyHanko imports cryptography's DSA), before
# verify_pdf runs: not this command's output (see the report of issue 11).
STARTUP_WARNING = ("CryptographyDeprecationWarning: DSA is deprecated", "from cryptography.hazmat")


ROOT = Path(__file__).resolve().parents[2]


def _env(var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPOLICY_")}
    env.update(
        EPOLICY_VAR_DIR=str(var),
        EPOLICY_DATABASE_URL=f"sqlite:///{var / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONWARNINGS="",
    )
    return env


def epolicy(var: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "epolicy", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(var),
        cwd=ROOT,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def noise(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return [line for line in lines if not any(w in line for w in STARTUP_WARNING)]


def installation(var: Path) -> Path:
    """A database with the development PKI and one issued e-policy, sealed and B-LTA (var/sealed.pdf)."""
    epolicy(var, "migrate", "-v0", check=True)
    epolicy(var, "pki_init", check=True)
    epolicy(var, "issue_demo_policy", "--out", str(var / "sealed.pdf"), check=True)
    return var


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Path:
    return installation(tmp_path_factory.mktemp("verify-cli"))


def _malformed() -> bytes:
    # Claims an xref at an offset past the end: pyHanko logs and gives up.
    return (
        b"%PDF-1.7\n1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\nxref\n0 2\n"
        b"trailer <</Size 3/Root 1 0 R>>\nstartxref\n9999\n%%EOF\n"
    )


def _truncated() -> bytes:
    from tests.signing.conftest import make_pdf

    return make_pdf()[:3000]


@pytest.mark.parametrize("make", [_malformed, _truncated], ids=["malformed", "truncated"])
def test_a_broken_file_gets_the_report_and_nothing_else(platform, tmp_path, make):
    path = tmp_path / "upload.pdf"
    path.write_bytes(make())
    result = epolicy(platform, "verify_pdf", str(path))
    assert result.returncode == 1
    assert result.stdout.startswith("验真未通过（malformed）：该文件已损坏或结构异常"), result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert noise(result.stderr) == [], result.stderr
    # The libraries' log is there for whoever asks for it.
    verbose = epolicy(platform, "verify_pdf", str(path), "-v", "2")
    assert verbose.returncode == 1 and "verify_pdf:" in verbose.stderr


def test_a_genuine_document_and_a_forgery_get_the_report_and_nothing_else(platform, tmp_path):
    """pyHanko logs each incremental update it cannot explain as a warning with a traceback."""
    from tests.signing.conftest import swap_page_content

    genuine = epolicy(platform, "verify_pdf", str(platform / "sealed.pdf"))
    assert genuine.returncode == 0 and genuine.stdout.startswith("验真通过（genuine）"), genuine.stdout
    assert noise(genuine.stderr) == [], genuine.stderr

    forged = tmp_path / "forged.pdf"
    forged.write_bytes(swap_page_content((platform / "sealed.pdf").read_bytes()))
    result = epolicy(platform, "verify_pdf", str(forged))
    assert result.returncode == 1
    assert result.stdout.startswith("验真未通过（modified_after_signing）"), result.stdout
    assert "! 未经签章的追加内容：签章后的第 2 次增量更新添加或修改了对象" in result.stdout
    assert noise(result.stderr) == [], result.stderr
    assert "Traceback" in epolicy(platform, "verify_pdf", str(forged), "-v", "2").stderr


def test_a_missing_file_is_a_chinese_error(platform, tmp_path):
    result = epolicy(platform, "verify_pdf", str(tmp_path / "nope.pdf"))
    assert result.returncode == 1
    assert noise(result.stderr) == [f"CommandError: 找不到文件：{tmp_path / 'nope.pdf'}"]


def test_without_a_pki_the_error_is_plain_chinese(tmp_path):
    var = tmp_path / "no-pki"
    var.mkdir()
    epolicy(var, "migrate", "-v0", check=True)
    path = tmp_path / "upload.pdf"
    path.write_bytes(_malformed())
    result = epolicy(var, "verify_pdf", str(path))
    assert result.returncode == 1
    (line,) = noise(result.stderr)
    assert line.startswith("CommandError: ") and "Traceback" not in result.stderr
    assert any("\u4e00" <= ch <= "\u9fff" for ch in line), line

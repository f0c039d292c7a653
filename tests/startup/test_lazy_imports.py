"""Start-up stays lazy: a command imports what it needs when it needs it.

`epolicy help` (Django set up, every app ready) and the `verify_pdf` command's module must not import
the API modules (config/api.py and each app's api module, which the URLconf and Django's system checks
bring in), pyHanko (its signers with the aiohttp timestamp client, its PDF layer), or ReportLab's page
layout: seconds of
start-up for every command when an app's ready() or a models module imports them at its top. Nor, even
once the command has imported the verifier it runs, django-ninja and pydantic (not an installed app:
config/settings.py), ReportLab (the document kinds live in documents/model.py) or the life-policy engine
(servicing's models need only its vocabulary). Checked in a fresh interpreter, whatever this test process
has imported already. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Modules no command may import just by starting (prefixes: a package and everything under it).
HEAVY = (
    "aiohttp",
    "pyhanko",  # its signers, its aiohttp timestamp client, even its PDF layer (signing/apps.py)
    "reportlab.platypus",
    "config.api",
    "config.urls",
)

# Not even once the command has imported the verifier it runs (the service's imports: pyHanko is expected).
NOT_FOR_VERIFICATION = (
    "ninja",  # the API's framework: imported with the URLconf, which these commands never load
    "pydantic",
    "reportlab",  # the renderers: a verification draws nothing
)
# The life engine; servicing's models import its vocabulary (vocab) and error codes (errors) alone.
LIFE_LIGHT = {"epolicy.rules.life", "epolicy.rules.life.vocab", "epolicy.rules.life.errors"}

_PROBE = """
import contextlib, io, json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
what = sys.argv[1]
if what == "help":
    from django.core.management import execute_from_command_line
    with contextlib.redirect_stdout(io.StringIO()) as out:
        execute_from_command_line(["epolicy", "help"])
    assert "verify_pdf" in out.getvalue(), out.getvalue()
else:
    import django
    django.setup()
    import epolicy.verification.management.commands.verify_pdf as command
    command.Command()
    if what == "verify_pdf_run":  # what the command imports to check a file (its _prepare)
        import epolicy.signing.verify, epolicy.verification.services, epolicy.verification.worker
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(what: str, tmp_path: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPOLICY_")}
    env.update(
        EPOLICY_VAR_DIR=str(tmp_path),
        EPOLICY_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONWARNINGS="ignore",
    )
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, what],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    found = [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    # The API modules of the apps (epolicy.<app>.api, epolicy.<app>.<part>.api).
    found += [m for m in modules if m.startswith("epolicy.") and m.rsplit(".", 1)[-1] == "api"]
    return sorted(found)


@pytest.mark.parametrize("what", ["help", "verify_pdf"])
def test_starting_a_command_imports_no_api_nor_signer(what, tmp_path):
    modules = _modules_after(what, tmp_path)
    assert "django.apps" in modules  # the probe did run
    assert _heavy(modules) == []


def _not_for_verification(modules: set[str]) -> list[str]:
    found = [m for m in modules if any(m == h or m.startswith(h + ".") for h in NOT_FOR_VERIFICATION)]
    found += [m for m in modules if m.startswith("epolicy.rules.life.") and m not in LIFE_LIGHT]
    return sorted(found)


@pytest.mark.parametrize("what", ["help", "verify_pdf", "verify_pdf_run"])
def test_no_api_framework_renderer_or_life_engine(what, tmp_path):
    modules = _modules_after(what, tmp_path)
    if what == "verify_pdf_run":
        assert "epolicy.verification.services" in modules and "pyhanko.sign.validation" in modules
    assert _not_for_verification(modules) == []


def test_the_probe_would_see_them(tmp_path):
    """The check can fail: the URLconf (what Django's system checks import) brings all of them in."""
    probe = _PROBE.replace("command.Command()", "import config.urls")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPOLICY_")}
    env.update(
        EPOLICY_VAR_DIR=str(tmp_path),
        EPOLICY_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PYTHONWARNINGS="ignore",
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, "verify_pdf"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    heavy = _heavy(set(json.loads(result.stdout.strip().splitlines()[-1])))
    assert "config.api" in heavy and "pyhanko.sign.timestamps.aiohttp_client" in heavy
    assert "epolicy.verification.api" in heavy
    light = _not_for_verification(set(json.loads(result.stdout.strip().splitlines()[-1])))
    assert "ninja.main" in light and "pydantic" in light and "reportlab.platypus" in light
    assert "epolicy.rules.life.engine" in light


def test_verify_pdf_skips_the_system_checks():
    """They import the URLconf; `epolicy check` (and every other command) still runs them."""
    from django.core.management import get_commands, load_command_class

    assert load_command_class(get_commands()["verify_pdf"], "verify_pdf").requires_system_checks == []
    assert load_command_class(get_commands()["migrate"], "migrate").requires_system_checks

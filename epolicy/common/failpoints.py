"""Named crash points for the crash tests (tests/reliability): kill -9 or fail at an exact step.

`failpoint("payment.notify.after_commit")` does nothing unless the environment variable
EPOLICY_FAILPOINTS names that point: "name=kill" ends the process at once with SIGKILL (no cleanup,
no rollback, no response: what a power cut or the OOM killer does), "name=raise" raises OSError there
(a storage or network failure). With EPOLICY_FAILPOINT_DIR set, each point fires once across every
process and restart (a marker file records it), so a supervisor can restart the victim with the same
environment. Production refuses to start with EPOLICY_FAILPOINTS set (config/settings.py).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

ENV = "EPOLICY_FAILPOINTS"


class InjectedFailure(OSError):
    """A failure injected by a test at a named point."""


def _action(name: str) -> str | None:
    spec = os.environ.get(ENV)
    if not spec:
        return None
    for item in spec.split(","):
        point, _, action = item.strip().partition("=")
        if point == name:
            return action or "kill"
    return None


def _first_time(name: str) -> bool:
    directory = os.environ.get("EPOLICY_FAILPOINT_DIR")
    if not directory:
        return True
    try:
        fd = os.open(Path(directory) / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.fsync(fd)
    os.close(fd)
    return True


def failpoint(name: str) -> None:
    """Crash or fail here if a test asked for it (see the module docstring); otherwise nothing."""
    action = _action(name)
    if action is None or not _first_time(name):
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise InjectedFailure(f"failure injected at {name}")

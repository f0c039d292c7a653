"""The `epolicy` console script: Django's management commands with the project's settings."""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
import warnings
from typing import Any


def main() -> None:
    # pyHanko still imports cryptography's DSA types, which warn on import; the platform never uses DSA,
    # and the warning on every command's first line only hides what the command says.
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Setting Django up allocates hundreds of thousands of objects that all live on: the cyclic collector
    # would walk them again and again meanwhile. It is paused until the command is fetched (_Utility).
    gc.disable()
    from django.core.management import ManagementUtility

    class _Utility(ManagementUtility):
        def fetch_command(self, subcommand: str) -> Any:
            gc.enable()  # Django and the apps are set up: the command runs with the collector on
            return super().fetch_command(subcommand)

    try:
        _Utility(["epolicy", *sys.argv[1:]]).execute()
    except SystemExit as exc:
        _exit(exc.code)
    except BrokenPipeError:  # the reader has gone (`epolicy verify_pdf FILE | head -1`): nothing to add
        _exit(1)
    _exit(0)


def _exit(code: str | int | None) -> None:
    """End the process once the command is done, without tearing the interpreter down.

    Python's own exit clears every module and collects the whole heap before the process ends: with
    Django, its apps, pydantic (ninja) and pyHanko loaded that is ~0.2–0.3 s of CPU for every command,
    spent on memory the kernel frees at once anyway. So, as the interpreter would: when no other
    non-daemon thread is running (else the normal exit waits for them), run the atexit functions
    (logging's flush among them), close the database connections, flush standard output and error, and
    end with the same status.
    """
    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    status = 0
    if isinstance(code, int):
        status = code
    elif code is not None:  # sys.exit("message"): on standard error, status 1 (as the interpreter)
        print(code, file=sys.stderr)
        status = 1
    try:
        atexit._run_exitfuncs()
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
    finally:
        for stream in (sys.stdout, sys.stderr):
            # A closed pipe (`| head`) or stream: nothing to flush to.
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(status)


if __name__ == "__main__":
    main()

"""A small fork server for verification workers: one per web process, started on its first check.

The server is a separate interpreter (`python -m epolicy.verification.forkserver FD`) that imports
Django and the verifier once, then waits on a control socket for a socket of the web process, forks a
worker for it and goes back to waiting. Forking that warm process costs milliseconds; a new interpreter
would spend most of a second importing Django and pyHanko for every check.

It exists instead of `multiprocessing`'s fork server because that one re-runs the web process's main
script in every worker (gunicorn's, pytest's, ...) and talks pickle; this one runs nothing but the
worker and carries only JSON and bytes. The server ends when its web process goes (the control socket
closes); the kernel reaps its workers (SIGCHLD ignored), and each worker ends itself at its deadline.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import subprocess
import sys
import threading

logger = logging.getLogger(__name__)

# The web process waits this long for a new server to take its warm-up (it imports Django and the
# verifier first, ~1 s); a server that has not by then is stopped and started again.
WARM_UP_SEND_SECONDS = 30.0


class ForkServer:
    """The web-process side: starts the server and hands it one socket per check."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._control: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._owner = 0

    def hand_over(self, worker_end: socket.socket) -> None:
        """Give the server a socket to fork a worker for; (re)starts the server when it is not running."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    if not self._running():
                        self._start()
                    assert self._control is not None
                    socket.send_fds(self._control, [b"F"], [worker_end.fileno()])
                    return
                except OSError:  # a server gone (or stalled at its start): one more, then the check fails
                    self._stop()
                    if attempt == 2:
                        raise

    def address_space_bytes(self) -> int | None:
        """The server's address space (VmSize): where every worker starts, below its memory limit."""
        process = self._process
        if process is None or not self._running():
            return None
        return address_space(process.pid)

    def _running(self) -> bool:
        return (
            self._process is not None
            and self._owner == os.getpid()  # a forked copy of the web process starts its own server
            and self._process.poll() is None
        )

    def _start(self) -> None:
        if self._control is not None:
            # A dead server's socket, or the copy a forked web process inherited: the parent's server
            # must see its own web process go, not wait for this copy.
            self._control.close()
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        # The server imports exactly what this process would (the project may run from a checkout).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        try:
            self._process = subprocess.Popen(  # noqa: S603 — our own interpreter and module, no shell
                [sys.executable, "-m", "epolicy.verification.forkserver", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=env,
                close_fds=True,
            )
        finally:
            theirs.close()
        self._control = ours
        self._owner = os.getpid()
        logger.debug("verification: fork server %s started", self._process.pid)
        # First on the socket: what the server prepares before its first fork. A server that does not
        # take it within the start-up time is given up (socket.timeout is an OSError: hand_over retries).
        from . import worker

        warm_up = worker.WarmUp.gather()
        ours.settimeout(WARM_UP_SEND_SECONDS)
        try:
            warm_up.send(ours)
        finally:
            ours.settimeout(None)

    def _stop(self) -> None:
        if self._control is not None:
            self._control.close()
        if self._process is not None and self._owner == os.getpid():
            self._process.kill()
            self._process.wait()
        self._control, self._process = None, None


def _serve_forever(control: socket.socket) -> None:
    from epolicy.verification import worker

    worker.ensure_django()
    import epolicy.signing.verify  # noqa: F401 — in memory before the first fork

    # Prepared once here rather than in every worker: the web process sends it first (worker.WarmUp).
    try:
        warm_up = worker.WarmUp.receive(control)
    except (EOFError, OSError, ValueError):
        return  # the web process went, or the socket is out of step: it starts another server
    parsed, sample = warm_up.apply()
    # The sample is an e-policy of a customer's: no worker (each checks a stranger's upload) inherits it.
    del warm_up
    logger.debug("verification fork server: %s certificates parsed, warm-up check: %s", parsed, sample)

    # Objects that exist now are shared with every worker; keeping the collector off them saves
    # copying those pages into each worker.
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C in a dev server is for the web process
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(control, 1, 1)
        except InterruptedError:
            continue
        except OSError:
            return
        if not message:
            return  # the web process has gone
        for fd in fds[1:]:
            os.close(fd)
        if not fds:
            continue
        try:
            pid = os.fork()
        except OSError:
            logger.exception("verification fork server: fork failed")
            os.close(fds[0])  # the web process reads EOF: a failed check
            continue
        if pid == 0:
            code = 0
            try:
                control.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                with socket.socket(fileno=fds[0]) as sock:
                    worker.serve(sock)
            except (EOFError, ConnectionError, TimeoutError):
                code = 1  # the web process gave up on this check
            except Exception:
                logger.exception("verification worker failed")
                code = 1
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(fds[0])


def address_space(pid: int) -> int | None:
    """A process's address space (VmSize) in bytes, None off Linux or when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def main(argv: list[str]) -> None:
    control = socket.socket(fileno=int(argv[1]))
    try:
        _serve_forever(control)
    except KeyboardInterrupt:
        pass
    finally:
        control.close()


if __name__ == "__main__":
    main(sys.argv)

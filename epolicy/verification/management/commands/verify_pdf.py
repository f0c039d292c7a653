"""`epolicy verify_pdf PATH... [--json] [--jobs N]`: the public verification of files, for a person at a
terminal or a script.

One file: the report (or one plain Chinese error) and nothing else, exit 1 when it is not genuine.
Several paths, or a folder (walked, every regular file that is not hidden): one line per file, in the
order given (a folder's files sorted by path), then a summary; exit 0 only when every file is genuine.

The check runs in a worker process whose libraries log freely — pyHanko logs a warning with a traceback
for every file its difference analysis rejects, the verifier notes every unreadable file — which is right
for a server's log but noise here: while the checks run, this process's standard error (inherited by its
workers) goes to a temporary file, shown only with `-v 2` or higher.

Start-up is what a person waits for, so this module imports nothing heavy at its top (the test in
tests/startup keeps it so), skips Django's system checks (they import the URLconf and with it every API
module; `epolicy check` still runs them) and does not start the verification service's fork server,
a second interpreter that would import Django and pyHanko again: once this process has imported the
verifier and loaded the trust anchors, it forks its own small fork server (`_ForkedServer`) and every
check still runs in a worker forked from it, with the service's time and memory limits. Several files
are checked `--jobs` at a time (default: the service's `VERIFY_CHECK_SLOTS`).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError

from epolicy.verification.forkserver import address_space as _address_space  # stdlib only: cheap

if TYPE_CHECKING:
    from epolicy.verification.services import VerificationResult


@contextlib.contextmanager
def _stderr_captured(captured: list[str]) -> Iterator[None]:
    """Redirect file descriptor 2 (this process and the processes it starts) to a temporary file; what
    was written to it is appended to `captured` when the block ends."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode("utf-8", "replace"))


def _before_fork() -> None:
    """Output flushed (a child would write it again), and no database connection handed down: a worker
    checks a stranger's file and needs none (this process opens a new one when it next asks)."""
    from django.db import connections

    connections.close_all()
    sys.stdout.flush()
    sys.stderr.flush()


class _ForkedServer:
    """The verification fork server (epolicy.verification.forkserver), forked from this process instead
    of started as a new interpreter: this process has Django set up and the verifier imported already,
    so a fork costs milliseconds where a new interpreter costs a second.

    It is forked before any thread starts (a fork copies only the calling thread, and a lock another
    thread held would stay locked in the copy); the checks' threads then hand it their sockets, and it
    forks one worker per check exactly as the service's fork server does. It has the interface of
    `ForkServer` that `sandbox.run_bounded` uses, and ends when this process closes its control socket.
    """

    def __init__(self) -> None:
        from epolicy.verification import forkserver

        self._lock = threading.Lock()
        ours, theirs = socket.socketpair()
        _before_fork()
        pid = os.fork()
        if pid == 0:  # the server
            code = 0
            try:
                ours.close()
                forkserver._serve_forever(theirs)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        theirs.close()
        self._pid = pid
        self._control = ours
        # What the server prepares before its first fork, as the service's is sent (worker.WarmUp).
        from epolicy.verification import worker

        worker.WarmUp.gather().send(ours)

    def hand_over(self, worker_end: socket.socket) -> None:
        with self._lock:
            socket.send_fds(self._control, [b"F"], [worker_end.fileno()])

    def address_space_bytes(self) -> int | None:
        return _address_space(self._pid)

    def close(self) -> None:
        self._control.close()  # the server reads EOF and ends; its workers end by their own deadline
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self._pid, 0)


class _DirectWorkers:
    """For one file: its worker forked straight from this process (which runs no other thread then), as
    the fork server would fork it, without the fork server in between (one fork less, and no collection
    of this process's heap before forking: the server does that to share more pages with many workers)."""

    def __init__(self) -> None:
        self._pids: list[int] = []

    def hand_over(self, worker_end: socket.socket) -> None:
        from epolicy.verification import worker

        _before_fork()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                worker.serve(worker_end)
            except BaseException:  # the answer sent (or not) is what counts
                code = 1
            finally:
                os._exit(code)
        self._pids.append(pid)

    def address_space_bytes(self) -> int | None:
        return _address_space(os.getpid())

    def close(self) -> None:
        for pid in self._pids:  # each has answered, or ends at its deadline
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _small_and_alone() -> bool:
    """Whether workers may be forked from this process: no other thread runs, and its address space
    leaves a worker at least half of the memory limit for the check (a command process does)."""
    import threading

    from epolicy.verification import sandbox

    size = _address_space(os.getpid())
    limit = sandbox.Limits.from_settings().memory_bytes
    return threading.active_count() == 1 and size is not None and (limit <= 0 or size < limit // 2)


@contextlib.contextmanager
def _own_fork_server(*, one: bool = False) -> Iterator[None]:
    """Bounded checks in this block go to a fork server forked from this process (see _ForkedServer),
    or with `one`, to workers forked straight from it (_DirectWorkers: only while no thread runs)."""
    from epolicy.verification import sandbox

    if not _small_and_alone():
        # Called inside a larger process (call_command in a long-lived one, a test run): a child forked
        # from it would start above the workers' memory limit, or copy a lock another thread holds. The
        # service's own fork server (a fresh interpreter) forks the workers instead.
        yield
        return
    server: _ForkedServer | _DirectWorkers = _DirectWorkers() if one else _ForkedServer()
    previous = sandbox._server
    sandbox._server = server  # type: ignore[assignment]
    try:
        yield
    finally:
        sandbox._server = previous
        server.close()


@dataclass
class _Outcome:
    """One file's result: a verification, or why the file could not be read."""

    path: Path
    result: VerificationResult | None = None
    error: str | None = None

    @property
    def genuine(self) -> bool:
        return self.result is not None and self.result.genuine


def _read(path: Path) -> bytes:
    """The file's bytes, or CommandError with one plain Chinese sentence."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CommandError(f"找不到文件：{path}") from None
    except IsADirectoryError:
        raise CommandError(f"{path} 是目录，不是文件。") from None
    except OSError as exc:
        raise CommandError(f"无法读取文件 {path}：{exc.strerror or exc}") from None


def _walk(folder: Path) -> list[Path]:
    """Every regular file under `folder`, sorted; hidden files and folders (".name") are left out."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / name for name in files if not name.startswith("."))
    return sorted(found)


def _prepare() -> None:
    """Import the verifier and load the trust anchors in this process, before any fork or thread.

    The imports (pyHanko, the verifier, the look-ups) allocate hundreds of thousands of objects that all
    live on: the cyclic collector, which would walk them again and again meanwhile, is paused for them
    (~10% of the command's CPU).
    """
    gc.disable()
    try:
        from epolicy.signing import verify  # noqa: F401 — in memory before the fork server is forked
        from epolicy.verification import services, worker  # noqa: F401
    finally:
        gc.enable()
    worker.current_trust()  # may raise ApplicationError('pki_missing')


class Command(BaseCommand):
    help = (
        "Verify e-policy PDFs (each in a worker process with the same time and memory limits as the public "
        "service). One file: print its report, exit 1 when it is not genuine. Several files or folders "
        "(walked): one line per file and a summary, exit 1 unless every file is genuine. -v 2 also prints "
        "what the libraries logged during the checks."
    )
    # Django's system checks import the URLconf and every API module behind it: seconds of start-up for
    # nothing this command uses. `epolicy check` runs them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="PDF files, or folders to walk")
        parser.add_argument("--json", action="store_true", help="print the report as JSON (as the API)")
        parser.add_argument(
            "--jobs",
            type=int,
            default=0,
            help="files checked at once (default: the service's VERIFY_CHECK_SLOTS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths = [Path(p) for p in options["paths"]]
        if len(paths) == 1 and not paths[0].is_dir():
            self._one(paths[0], options)
        else:
            self._many(paths, options)

    # -----------------------------------------------------------------------------------------------------
    # One file: the report

    def _one(self, path: Path, options: dict[str, Any]) -> None:
        from epolicy.common.errors import ApplicationError

        data = _read(path)
        log: list[str] = []
        try:
            with _stderr_captured(log):
                _prepare()
                from epolicy.verification.services import verify_document

                with _own_fork_server(one=True):
                    result = verify_document(data)
        except ApplicationError as exc:
            raise CommandError(exc.message_zh) from None
        finally:
            self._show_log(log, options)
        report = result.as_json()
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        else:
            self._print(report)
        if not result.genuine:
            sys.exit(1)

    def _print(self, report: dict[str, Any]) -> None:
        verdict = "验真通过" if report["genuine"] else "验真未通过"
        self.stdout.write(f"{verdict}（{report['code']}）：{report['message']}")
        document = report["document"] or {}
        identical = "是" if report["byte_identical_to_archive"] else "否"
        self.stdout.write(
            f"SHA-256 {report['document_sha256']}；{document.get('kind') or '文件'} "
            f"{document.get('number') or '—'}；与存档正本一致：{identical}"
        )
        if report["archive"]:
            self.stdout.write(f"存档：{report['archive']['summary']}")
        endorsement = report.get("endorsement")
        if endorsement:
            self.stdout.write(
                f"批单 {endorsement['number']}：保单 {endorsement['policy_number']} 的{endorsement['change']}"
                + (f"，{endorsement['effective_on']} 零时起生效" if endorsement.get("effective_on") else "")
                + (f"；保单现状态 {endorsement['policy_status']}" if endorsement.get("policy_status") else "")
            )
        if report.get("notice"):
            self.stdout.write(f"! {report['notice']}")
        for addition in report.get("unsigned_additions") or ():
            self.stdout.write(f"! 未经签章的追加内容：{addition}")
        for s in report["signatures"]:
            self.stdout.write(
                f"- {s['signer_role']}: {s['signer']} 签名时间 {s['signing_time']} "
                f"时间戳 {s['timestamp_time'] or '无'} {'有效' if s['valid'] else '无效'}"
            )
            for check in s["checks"]:
                self.stdout.write(f"    {'✔' if check['ok'] else '✘'} {check['name']}：{check['message']}")
        for t in report.get("document_timestamps") or ():
            if isinstance(t, dict) and t.get("message_zh"):
                self.stdout.write(f"- 存档时间戳：{t['message_zh']}")

    def _show_log(self, log: list[str], options: dict[str, Any]) -> None:
        if options.get("verbosity", 1) >= 2 and "".join(log).strip():
            self.stderr.write("".join(log).rstrip("\n"))

    # -----------------------------------------------------------------------------------------------------
    # Several files: a line each and a summary

    def _many(self, paths: list[Path], options: dict[str, Any]) -> None:
        from django.conf import settings

        from epolicy.common.errors import ApplicationError

        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                files.extend(_walk(path))
            elif path.exists():
                files.append(path)
            else:
                raise CommandError(f"找不到文件：{path}")
        jobs = options["jobs"] or int(getattr(settings, "VERIFY_CHECK_SLOTS", os.cpu_count() or 2))
        jobs = max(1, min(jobs, len(files) or 1))
        log: list[str] = []
        outcomes: list[_Outcome | None] = [None] * len(files)
        started = time.perf_counter()
        try:
            with _stderr_captured(log):
                if files:
                    _prepare()
                    started = time.perf_counter()  # the checks' time: start-up is the same for any number
                    with _own_fork_server():
                        self._check_all(files, outcomes, jobs, options)
        except ApplicationError as exc:
            raise CommandError(exc.message_zh) from None
        finally:
            self._show_log(log, options)
        seconds = time.perf_counter() - started
        done = [o for o in outcomes if o is not None]
        genuine = sum(o.genuine for o in done)
        unreadable = sum(o.error is not None for o in done)
        summary = {
            "files": len(done),
            "genuine": genuine,
            "not_genuine": len(done) - genuine - unreadable,
            "unreadable": unreadable,
            "seconds": round(seconds, 3),
        }
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {"files": [self._json(o) for o in done], "summary": summary},
                    ensure_ascii=False,
                    indent=2,
                    default=str,
                )
            )
        else:
            rate = f"，每秒 {len(done) / seconds:.1f} 个" if done and seconds > 0 else ""
            self.stdout.write(
                f"共 {len(done)} 个文件：验真通过 {genuine} 个，未通过 {summary['not_genuine']} 个，"
                f"无法读取 {unreadable} 个（用时 {seconds:.2f} 秒{rate}）。"
            )
        if genuine != len(done) or not done:
            sys.exit(1)

    def _check_all(
        self, files: list[Path], outcomes: list[_Outcome | None], jobs: int, options: dict[str, Any]
    ) -> None:
        """Check `files` in `jobs` threads (each check in its own worker process); print each file's line
        in the order given as soon as it and those before it are done."""
        from django.db import connections

        from epolicy.common.errors import ApplicationError
        from epolicy.verification.services import verify_document

        lock = threading.Condition()
        next_index = 0
        fatal: list[BaseException] = []

        def run() -> None:
            nonlocal next_index
            try:
                while True:
                    with lock:
                        if fatal or next_index >= len(files):
                            return
                        index = next_index
                        next_index += 1
                    path = files[index]
                    try:
                        outcome = _Outcome(path, result=verify_document(_read(path)))
                    except CommandError as exc:
                        outcome = _Outcome(path, error=str(exc))
                    except ApplicationError as exc:
                        if exc.code == "pki_missing":
                            raise
                        outcome = _Outcome(path, error=exc.message_zh)
                    with lock:
                        outcomes[index] = outcome
                        lock.notify_all()
            except BaseException as exc:
                with lock:
                    fatal.append(exc)
                    lock.notify_all()
            finally:
                connections.close_all()  # this thread's own connections

        threads = [threading.Thread(target=run, name=f"verify_pdf-{n}", daemon=True) for n in range(jobs)]
        for thread in threads:
            thread.start()
        try:
            for index in range(len(files)):
                with lock:
                    while outcomes[index] is None and not fatal:
                        lock.wait()
                    if fatal:
                        raise fatal[0]
                    outcome = outcomes[index]
                assert outcome is not None
                if not options["json"]:
                    self.stdout.write(self._line(outcome))
                    self.stdout.flush()
        finally:
            with lock:
                if len(fatal) == 0 and any(o is None for o in outcomes):
                    fatal.append(KeyboardInterrupt())  # stop the threads: nobody waits for them
            for thread in threads:
                thread.join()

    def _line(self, outcome: _Outcome) -> str:
        if outcome.result is None:
            return f"✘ 无法读取：{outcome.error}"
        r = outcome.result
        verdict = "✔ 验真通过" if r.genuine else "✘ 验真未通过"
        document = r.document or {}
        identical = "是" if r.byte_identical else "否"
        return (
            f"{verdict}（{r.code}） {outcome.path}：{document.get('kind') or '文件'} "
            f"{document.get('number') or '—'}；与存档正本一致：{identical}"
        )

    def _json(self, outcome: _Outcome) -> dict[str, Any]:
        if outcome.result is None:
            return {"path": str(outcome.path), "genuine": False, "code": "unreadable", "error": outcome.error}
        return {
            "path": str(outcome.path),
            "genuine": outcome.result.genuine,
            "code": outcome.result.code,
            "report": outcome.result.as_json(),
        }

"""Start-up: whole ``epolicy`` processes, as a person or a script runs them, next to poppler's ``pdfsig``.

    .venv/bin/python -m bench.startup [--runs N] [--docs N] [--jobs N] [--smoke] [--json PATH]

In a fresh environment (temporary SQLite database and development PKI, bench/_common.py) the bench issues
a few e-policies through the whole journey (``run_journey``, as ``epolicy issue_demo_policy`` does: on
record, sealed, B-LTA), fills a folder with ``--docs`` copies of them (default 100), and then times, in
the same run and interleaved (one round runs every command once), ``--runs`` times each (default 10):

- ``epolicy help``: Django set up, every app ready, the list of commands;
- ``epolicy verify_pdf <one file>``: the whole process, from the interpreter's start to its exit;
- ``epolicy verify_pdf <folder>``: every file of the folder in one process (``--jobs`` at a time);
- the baseline, ``pdfsig <one file>``, and ``pdfsig`` on each file of the folder: one process a file, one
  after another, and ``--jobs`` at a time.

Each command's wall time and CPU time (user + system of the process and its children) are reported as
median and p95 in ms. Checks (exit status 1 when one fails): every ``verify_pdf`` run exits 0 and says
genuine (every file of the folder), ``pdfsig`` finds the signatures, and a copy with one byte changed is
not genuine for ``verify_pdf``.
"""

from __future__ import annotations

import concurrent.futures
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from bench import _common

# verify_pdf of one file, as a whole process, should take less than this (reported, not enforced).
TARGET_ONE_FILE_MS = 500.0


def issue_policies(count: int, out: Path) -> list[Path]:
    """`count` e-policies issued through the whole journey, written to `out`."""
    from epolicy.archive.services import archive_read
    from epolicy.motor.demo import demo_application_input
    from epolicy.motor.journey import run_journey

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        policy = run_journey(demo_application_input(1000 + index))
        path = out / f"{policy.number}.pdf"
        path.write_bytes(archive_read(policy.document))
        paths.append(path)
    return paths


def epolicy_command() -> list[str]:
    """The console script next to this interpreter (what a person runs), else `python -m epolicy`."""
    script = Path(sys.executable).with_name("epolicy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "epolicy"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(commands: list[list[str]], parallel: int = 1) -> dict[str, Any]:
    """Run `commands` (`parallel` at a time) and time them together: wall, CPU, the exit codes, the output."""
    cpu = _children_cpu()
    started = time.perf_counter()
    if parallel <= 1:
        done = [subprocess.run(c, capture_output=True, text=True, check=False) for c in commands]
    else:
        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            done = list(
                pool.map(lambda c: subprocess.run(c, capture_output=True, text=True, check=False), commands)
            )
    wall = time.perf_counter() - started
    return {
        "wall": wall,
        "cpu": _children_cpu() - cpu,
        "codes": [d.returncode for d in done],
        "stdout": [d.stdout for d in done],
        "stderr": [d.stderr for d in done],
    }


def stats(values: list[float]) -> dict[str, float]:
    """median, p95, mean, min, max of durations in seconds, in milliseconds."""
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return {"median": 0.0, "p95": 0.0, "mean": 0.0, "min": 0.0, "max": 0.0}
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {
        "median": round(statistics.median(ms), 1),
        "p95": round(p95, 1),
        "mean": round(statistics.fmean(ms), 1),
        "min": round(ms[0], 1),
        "max": round(ms[-1], 1),
    }


class Case:
    """One timed command line (or a batch of them) and how to tell that a run of it did its job."""

    def __init__(
        self, label: str, commands: list[list[str]], files: int, check: Any, parallel: int = 1
    ) -> None:
        self.label = label
        self.commands = commands
        self.files = files
        self.check = check
        self.parallel = parallel
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self.failures: list[str] = []

    def run(self) -> None:
        result = run_once(self.commands, self.parallel)
        self.walls.append(result["wall"])
        self.cpus.append(result["cpu"])
        problem = self.check(result)
        if problem:
            self.failures.append(problem)

    def as_json(self) -> dict[str, Any]:
        shown = " ".join(Path(a).name if os.sep in a else a for a in self.commands[0])
        if len(self.commands) > 1:
            shown += f" (× {len(self.commands)} files, {self.parallel} at a time)"
        wall = stats(self.walls)
        return {
            "label": self.label,
            "command": shown,
            "files": self.files,
            "runs": len(self.walls),
            "wall_ms": wall,
            "cpu_ms": stats(self.cpus),
            "files_per_s": round(self.files / (wall["median"] / 1000), 1) if wall["median"] else None,
            "failures": self.failures[:3],
            "ok": not self.failures,
        }


def _all_zero(result: dict[str, Any]) -> str | None:
    bad = [code for code in result["codes"] if code != 0]
    return f"exit status {bad[0]}: {result['stderr'][0][-300:]}" if bad else None


def _genuine_one(result: dict[str, Any]) -> str | None:
    if problem := _all_zero(result):
        return problem
    first = result["stdout"][0]
    return None if first.startswith("验真通过（genuine）") else f"not genuine: {first[:200]}"


def _genuine_all(files: int) -> Any:
    def check(result: dict[str, Any]) -> str | None:
        if problem := _all_zero(result):
            return problem
        summary = f"共 {files} 个文件：验真通过 {files} 个，"
        return None if summary in result["stdout"][0] else f"not all genuine: {result['stdout'][0][-300:]}"

    return check


def _pdfsig_found(result: dict[str, Any]) -> str | None:
    if problem := _all_zero(result):
        return problem
    missing = [out for out in result["stdout"] if "Signature #1" not in out]
    return f"pdfsig found no signature: {missing[0][:200]}" if missing else None


def _help_lists(result: dict[str, Any]) -> str | None:
    if problem := _all_zero(result):
        return problem
    return None if "verify_pdf" in result["stdout"][0] else "verify_pdf is not among the commands"


def main(argv: list[str] | None = None) -> int:
    parser = _common.base_parser(__doc__.splitlines()[0], default_docs=100)
    parser.add_argument("--runs", type=int, default=10, help="runs of each command (default 10)")
    parser.add_argument("--distinct", type=int, default=4, help="distinct e-policies issued (default 4)")
    parser.add_argument("--jobs", type=int, default=0, help="files at once (default: verify_pdf's)")
    args = parser.parse_args(argv)
    # pyHanko still imports cryptography's DSA types, which warn (as in epolicy/__main__.py).
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    if args.smoke:
        args.docs, args.runs, args.distinct = 5, 2, 1
    if args.docs < 1 or args.runs < 1 or args.distinct < 1:
        parser.error("--docs, --runs and --distinct must be at least 1")

    info = _common.machine()  # before the set-up below adds to the load average
    base = _common.prepare_environment(keep=args.keep)
    print(f"startup bench: {args.runs} runs; {_common.describe_machine(info)}", flush=True)
    if warning := _common.load_warning(info):
        print(warning, flush=True)

    from django.conf import settings
    from django.db import connections

    jobs = args.jobs or int(settings.VERIFY_CHECK_SLOTS)
    issued = issue_policies(args.distinct, base / "issued")
    folder = base / "folder"
    folder.mkdir()
    files = []
    for index in range(args.docs):
        path = folder / f"policy-{index:04d}.pdf"
        shutil.copyfile(issued[index % len(issued)], path)
        files.append(path)
    one = issued[0]
    tampered = base / "tampered.pdf"
    data = one.read_bytes()
    at = len(data) // 3
    tampered.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :])
    connections.close_all()  # the commands below open the SQLite file themselves

    epolicy = epolicy_command()
    jobs_option = ["--jobs", str(jobs)] if args.jobs else []
    cases = [
        Case("epolicy help", [[*epolicy, "help"]], 0, _help_lists),
        Case("epolicy verify_pdf, 1 file", [[*epolicy, "verify_pdf", str(one)]], 1, _genuine_one),
        Case(
            f"epolicy verify_pdf, folder of {len(files)}",
            [[*epolicy, "verify_pdf", str(folder), *jobs_option]],
            len(files),
            _genuine_all(len(files)),
        ),
    ]
    pdfsig = shutil.which("pdfsig")
    if pdfsig:
        cases += [
            Case("pdfsig, 1 file", [[pdfsig, str(one)]], 1, _pdfsig_found),
            Case(
                f"pdfsig, {len(files)} files one after another",
                [[pdfsig, str(f)] for f in files],
                len(files),
                _pdfsig_found,
            ),
            Case(
                f"pdfsig, {len(files)} files {jobs} at a time",
                [[pdfsig, str(f)] for f in files],
                len(files),
                _pdfsig_found,
                parallel=jobs,
            ),
        ]
    else:
        print("pdfsig (poppler-utils) is not installed: no baseline", flush=True)

    for case in cases:  # one uncounted run each: the files in the page cache, the .pyc files written
        run_once(case.commands, case.parallel)
    for _ in range(args.runs):
        for case in cases:  # interleaved: a burst of other load falls on every command alike
            case.run()

    refused = run_once([[*epolicy, "verify_pdf", str(tampered)]])
    runs = [case.as_json() for case in cases]
    one_file = runs[1]["wall_ms"]["median"]
    result = {
        "bench": "startup",
        "machine": {**info, "load_average_after": _common.machine()["load_average"]},
        "params": {
            "runs": args.runs,
            "docs": len(files),
            "distinct": len(issued),
            "jobs": jobs,
            "smoke": args.smoke,
            "pdfsig": pdfsig is not None,
        },
        "runs": runs,
        "target": {
            "verify_pdf_one_file_ms": TARGET_ONE_FILE_MS,
            "met": one_file < TARGET_ONE_FILE_MS,
        },
        "tampered": {
            "exit_status": refused["codes"][0],
            "first_line": refused["stdout"][0].split("\n", 1)[0],
        },
        "verified": all(r["ok"] for r in runs) and refused["codes"][0] == 1,
    }
    if pdfsig:
        pdfsig_one = runs[3]["wall_ms"]["median"]
        result["ratio"] = {
            "verify_pdf_one_file_vs_pdfsig": round(one_file / pdfsig_one, 1) if pdfsig_one else None,
            "verify_pdf_folder_vs_pdfsig_parallel": (
                round(runs[2]["wall_ms"]["median"] / runs[5]["wall_ms"]["median"], 1)
                if runs[5]["wall_ms"]["median"]
                else None
            ),
        }
    _common.write_json(args.json, result)
    print(_report(result))
    if args.keep:
        print(f"kept {base}")
    return 0 if result["verified"] else 1


def _report(result: dict[str, Any]) -> str:
    header = ["command (whole processes)", "median ms", "p95 ms", "cpu ms (median)", "files/s", "ok"]
    rows = [
        [
            run["label"],
            run["wall_ms"]["median"],
            run["wall_ms"]["p95"],
            run["cpu_ms"]["median"],
            run["files_per_s"] if run["files"] else "-",
            "yes" if run["ok"] else f"NO: {run['failures'][0]}",
        ]
        for run in result["runs"]
    ]
    target = result["target"]
    lines = [
        _common.table(header, rows),
        "",
        f"verify_pdf of one file: {result['runs'][1]['wall_ms']['median']} ms median "
        f"(target < {target['verify_pdf_one_file_ms']:.0f} ms: {'met' if target['met'] else 'NOT met'})",
        f"one byte changed: exit status {result['tampered']['exit_status']}, "
        f"{result['tampered']['first_line']}",
    ]
    if not result["verified"]:
        lines.append("FAILED: a command did not do its job, or the changed copy was accepted")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""`epolicy verify_pdf FILE [--json]`: the public verification of one file, for a person at a terminal.

The output is the report (or one plain Chinese error) and nothing else. The check runs in a worker
process whose libraries log freely — pyHanko logs a warning with a traceback for every file its
difference analysis rejects, the verifier notes every unreadable file — which is right for a server's
log but noise here: while the check runs, this process's standard error (inherited by the fork server and
its workers) goes to a temporary file, shown only with `-v 2` or higher.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from epolicy.common.errors import ApplicationError
from epolicy.verification.services import verify_document


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


class Command(BaseCommand):
    help = (
        "Verify an e-policy PDF (in a worker process with the same time and memory limits as the public "
        "service); print the report and exit non-zero when it is not genuine. -v 2 also prints what the "
        "libraries logged during the check."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        parser.add_argument("--json", action="store_true", help="print the report as JSON (as the API)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CommandError(f"找不到文件：{path}") from None
        except IsADirectoryError:
            raise CommandError(f"{path} 是目录，不是文件。") from None
        except OSError as exc:
            raise CommandError(f"无法读取文件 {path}：{exc.strerror or exc}") from None
        log: list[str] = []
        try:
            with _stderr_captured(log):
                result = verify_document(data)
        except ApplicationError as exc:
            raise CommandError(exc.message_zh) from None
        finally:
            if options.get("verbosity", 1) >= 2 and "".join(log).strip():
                self.stderr.write("".join(log).rstrip("\n"))
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

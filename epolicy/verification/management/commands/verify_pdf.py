from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from epolicy.verification.services import verify_document


class Command(BaseCommand):
    help = (
        "Verify an e-policy PDF (in a worker process with the same time and memory limits as the public "
        "service); print the report and exit non-zero when it is not genuine."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        parser.add_argument("--json", action="store_true", help="print the report as JSON (as the API)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        result = verify_document(path.read_bytes())
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
        for s in report["signatures"]:
            self.stdout.write(
                f"- {s['signer_role']}: {s['signer']} 签名时间 {s['signing_time']} "
                f"时间戳 {s['timestamp_time'] or '无'} {'有效' if s['valid'] else '无效'}"
            )
            for check in s["checks"]:
                self.stdout.write(f"    {'✔' if check['ok'] else '✘'} {check['name']}：{check['message']}")

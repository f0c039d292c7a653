from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from epolicy.verification.services import verify_document


class Command(BaseCommand):
    help = "Verify an e-policy PDF; print the report and exit non-zero when it is not genuine."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        report = verify_document(path.read_bytes()).as_json()
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        else:
            self.stdout.write(("验真通过" if report["genuine"] else "验真未通过") + f"：{report['message']}")
            self.stdout.write(
                f"SHA-256 {report['document_sha256']}；单号 {report['document_number'] or '—'}；"
                f"与存档正本一致：{'是' if report['byte_identical_to_archive'] else '否'}"
            )
            for s in report["signatures"]:  # type: ignore[attr-defined]
                self.stdout.write(
                    f"- {s['signer_role']}: {s['signer']} 签名时间 {s['signing_time']} "
                    f"完整 {s['intact']} 可信 {s['trusted']} 覆盖全文 {s['covers_whole_file']}"
                )
        if not report["genuine"]:
            sys.exit(1)

"""The archive summary of a file that is not byte-identical to an archived version says only what the
verifier proved: never "only timestamps or validation data were added" unless that was checked."""

from __future__ import annotations

import pytest

from epolicy.verification.report import CheckReport
from epolicy.verification.services import ArchiveMatch

from .conftest import upload

NO_MATCH = ArchiveMatch(versions=2, matched_version=None, matched_is_current=False, matched_archived_at=None)


def report(code: str, updates: int | None) -> CheckReport:
    return CheckReport(
        code=code, message_zh="…", document_sha256="0" * 64, updates_after_last_signature=updates
    )


@pytest.mark.parametrize(
    ("genuine", "code", "updates", "says", "never"),
    [
        (True, "genuine", 2, "签章后的 2 次追加经核实都是验证数据或存档时间戳", "例如"),
        (True, "genuine", 0, "文件只含签章时的内容", "追加经核实"),
        (True, "genuine", None, "但文件字节与存档不同", "验证数据"),
        (False, "unsigned_additions", 1, "追加了未经签章的内容", "签章验证通过"),
        (False, "modified_after_signing", 1, "被改动过", "签章验证通过"),
    ],
)
def test_summary_says_only_what_is_proven(genuine, code, updates, says, never):
    summary = NO_MATCH.as_json(genuine=genuine, report=report(code, updates))["summary"]
    assert says in summary and never not in summary, summary


@pytest.mark.django_db
def test_through_the_api(client, genuine_pdf):
    appended = upload(client, genuine_pdf + b"(payload)\n").json()
    assert appended["code"] == "unsigned_additions"
    assert "追加了未经签章的内容" in appended["archive"]["summary"]
    # The sealed revision alone (before the archive timestamp): genuine, and the summary says why it
    # differs from the archived file.
    eofs = [i for i in range(len(genuine_pdf)) if genuine_pdf.startswith(b"%%EOF", i)]
    sealed_only = upload(client, genuine_pdf[: eofs[-2] + len(b"%%EOF\n")]).json()
    assert sealed_only["genuine"] is True and sealed_only["unsigned_additions"] == []
    assert "文件只含签章时的内容" in sealed_only["archive"]["summary"]

"""A document's PDF dates are when it came into being, in Shanghai time with its offset — not the fixed
2000-01-01 of ReportLab's invariant mode — while the same data still gives the same bytes."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import subprocess

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from epolicy.common import clock
from epolicy.documents.application_form import render_application_form
from epolicy.documents.epolicy_form import render_epolicy
from epolicy.documents.model import Field, InsurerInfo, Section
from epolicy.servicing.documents import EndorsementData, render_endorsement
from tests.documents import application_form_data, epolicy_data, require_tool


def info_of(pdf: bytes, revision: int = 0) -> dict[str, str]:
    """/Info of a revision (0: the document as rendered, before any signature)."""
    reader = PdfFileReader(io.BytesIO(pdf))
    handler = reader.get_historical_resolver(revision)
    info = handler.trailer_view.raw_get("/Info")
    if isinstance(info, generic.IndirectObject):
        info = handler.get_object(info.reference)
    return {str(k): str(info[k]) for k in info}


def life_endorsement(issued_at: str) -> EndorsementData:
    insurer = InsurerInfo(
        name="示例人寿保险股份有限公司",
        short_name="示例人寿",
        uscc="91110108551385082Q",
        address="北京市海淀区示例路 1 号",
        postcode="100080",
        hotline="400-000-0000",
        website="https://life.example.cn",
    )
    return EndorsementData(
        endorsement_number="PQ202611050001",
        title="个人寿险保全批单",
        issued_at=issued_at,
        insurer=insurer,
        sections=(Section("变更内容", (Field("联系电话", "138****0000"),)),),
        lines=("本次变更自批改时间起生效。",),
        amount_label="收付金额",
        amount="¥0.00",
        amount_upper="零元整",
    )


@pytest.mark.parametrize(
    ("render", "expected"),
    [
        (lambda: render_epolicy(epolicy_data()), "D:20261105094127+08'00'"),
        (lambda: render_application_form(application_form_data()), "D:20261104150000+08'00'"),
        (lambda: render_endorsement(life_endorsement("2026-11-05 10:20:30")), "D:20261105102030+08'00'"),
    ],
    ids=["e-policy (confirmation time)", "e-application (generation time)", "life endorsement (issue time)"],
)
def test_each_form_carries_its_own_time(render, expected):
    first = render().pdf
    info = info_of(first)
    assert info["/CreationDate"] == expected and info["/ModDate"] == expected
    assert b"D:2000" not in first
    assert render().pdf == first  # still invariant: same data, same bytes


def test_a_time_the_form_does_not_show_keeps_the_fixed_date():
    data = dataclasses.replace(epolicy_data(), confirmed_at="（待确认）")
    assert info_of(render_epolicy(data).pdf)["/CreationDate"].startswith("D:20000101000000")


def test_an_issued_e_policy_was_created_when_it_was_confirmed(issued, genuine_pdf, tmp_path):
    confirmed = clock.local(issued.confirmed_at)
    expected = confirmed.strftime("D:%Y%m%d%H%M%S+08'00'")
    assert info_of(genuine_pdf)["/CreationDate"] == expected
    # What a person sees: pdfinfo of the archived (sealed, B-LTA) file, in ISO form and in Shanghai time.
    pdfinfo = require_tool("pdfinfo")
    path = tmp_path / "policy.pdf"
    path.write_bytes(genuine_pdf)
    out = subprocess.run(
        [pdfinfo, "-isodates", str(path)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    (created,) = re.findall(r"^CreationDate:\s+(\S+)$", out, re.M)
    assert created == confirmed.strftime("%Y-%m-%dT%H:%M:%S+08")
    local = subprocess.run(
        [pdfinfo, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "TZ": "Asia/Shanghai"},
    ).stdout
    assert re.search(rf"^CreationDate:.*{confirmed:%H:%M:%S} {confirmed.year} CST$", local, re.M), local

"""The electronic 交强险 mark (条例 第十二条): issued, sealed and archived with every 交强险 policy, never
with a 商业险 one; mailed with the policy, downloadable from the query, and verified as a mark of it."""

from __future__ import annotations

import subprocess

import pytest
from django.core import mail

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_read
from epolicy.verification.services import verify_document
from tests.motor.test_products import BOTH, journey, payload, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(client, system, pki, committed):
    with committed(execute=True):
        return journey(client, system, payload(products=BOTH))


def test_a_ctpl_policy_gets_its_sealed_mark_and_a_commercial_one_none(issued, tmp_path):
    ctpl, commercial = issued
    assert commercial.mark_document is None
    mark = ctpl.mark_document
    assert mark.kind == ArchivedObject.Kind.MARK
    assert (mark.subject_type, mark.subject_id) == ("policies.policy", ctpl.pk)
    data = archive_read(mark)
    text = pdf_text(data, tmp_path).replace(" ", "")
    for words in (
        "机动车交通事故责任强制保险标志（电子）",
        ctpl.number,
        ctpl.plate,
        "保险期间",
        "理赔及查询电话",
    ):
        assert words.replace(" ", "") in text, words
    path = tmp_path / "mark.pdf"
    path.write_bytes(data)
    assert subprocess.run(["qpdf", "--check", str(path)], capture_output=True).returncode == 0
    result = verify_document(data, bounded=False).as_json()
    assert result["genuine"] is True and result["document_kind"] == "mark"
    assert result["document_number"] == ctpl.number and result["byte_identical_to_archive"] is True
    assert result["policy"]["policy_number"] == ctpl.number


def test_the_mark_is_mailed_with_the_ctpl_policy(issued):
    ctpl, commercial = issued
    by_number = {m.extra_headers["Message-ID"]: m for m in mail.outbox}
    names = {
        number: [a[0] for a in message.attachments]
        for number in (ctpl.number, commercial.number)
        for key, message in by_number.items()
        if number in key
    }
    assert names[ctpl.number] == [f"{ctpl.number}.pdf", f"{ctpl.number}-mark.pdf"]
    assert names[commercial.number] == [f"{commercial.number}.pdf"]


def test_the_query_offers_the_mark(client, issued, monkeypatch):
    from epolicy.verification import api as verification_api

    ctpl, commercial = issued
    monkeypatch.setattr(verification_api, "captcha_check", lambda **kwargs: None)
    body = {
        "policy_number": ctpl.number,
        "id_number": ctpl.applicant.id_number,
        "plate": ctpl.plate,
        "captcha_id": "x",
        "captcha_answer": "x",
    }
    resp = client.post("/api/v1/public/policies/query", body, content_type="application/json")
    assert resp.status_code == 200, resp.content
    url = resp.json()["mark_download_url"]
    got = client.get(url.replace("http://127.0.0.1:8000", ""))
    assert got.status_code == 200 and bytes(got.content) == archive_read(ctpl.mark_document)
    resp = client.post(
        "/api/v1/public/policies/query",
        {**body, "policy_number": commercial.number},
        content_type="application/json",
    )
    assert resp.json()["mark_download_url"] is None
    token_url = resp.json()["download_url"].replace("http://127.0.0.1:8000", "")
    assert client.get(f"{token_url}?doc=mark").json()["code"] == "not_found"

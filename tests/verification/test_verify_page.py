"""The verification page: a clear verdict at the top, then the same report as the API in plain Chinese."""

import re

import pytest

from . import hostile
from .conftest import flip_inside_a_stream, upload

pytestmark = pytest.mark.django_db


def page(client, data):
    resp = upload(client, data, path="/verify/")
    return resp, resp.content.decode()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_genuine_policy_page(client, issued, genuine_pdf):
    resp, html = page(client, genuine_pdf)
    assert resp.status_code == 200
    assert 'data-genuine="true"' in html and 'data-code="genuine"' in html
    text = _text(html)
    # The verdict comes first, before any detail.
    assert text.index("验真通过") < text.index("文件信息") < text.index("保险公司电子签章")
    assert f"保单号 {issued.number}" in text
    assert "与保险公司存档的正本逐字节一致" in text
    for label in ("完整性：通过", "证书链：通过", "时间戳：通过", "签后修改：通过"):
        assert label in text
    assert "未通过" not in text
    assert "对应保单信息" in text


def test_tampered_policy_page(client, issued, genuine_pdf):
    resp, html = page(client, flip_inside_a_stream(genuine_pdf))
    assert resp.status_code == 200 and 'data-genuine="false"' in html
    text = _text(html)
    assert text.index("验真未通过") < text.index("文件信息")
    assert "完整性：未通过" in text
    assert f"文件所称保单号 {issued.number}" in text  # only what the file claims
    assert "请勿凭此文件办理业务" in text
    assert "对应保单信息" not in text


def test_timed_out_check_page(client, pki, settings):
    settings.VERIFY_CHECK_TIMEOUT_SECONDS = 0.3
    resp, html = page(client, hostile.many_revisions(60_000))
    assert resp.status_code == 200
    assert 'data-code="check_timeout"' in html and 'data-completed="false"' in html
    text = _text(html)
    assert "未能完成验证" in text and "文件过于复杂，无法在规定时间内完成验证" in text


def test_not_a_pdf_page(client, pki):
    resp, html = page(client, hostile.random_bytes())
    assert resp.status_code == 200 and 'data-code="not_pdf"' in html
    assert "该文件不是 PDF 文件" in _text(html)


def test_page_is_laid_out_for_a_phone(client, db):
    html = client.get("/verify/").content.decode()
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    assert 'accept="application/pdf,.pdf"' in html and 'id="do-verify"' in html

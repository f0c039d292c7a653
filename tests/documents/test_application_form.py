"""The e-application form PDF (motor standard 4.2.3 b), checked with independent tools where installed."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from epolicy.documents.application_form import SIGNATURE_HEIGHT, SIGNATURE_WIDTH, render_application_form
from epolicy.documents.pdf import MARGIN_BOTTOM, PAGE_HEIGHT, PAGE_WIDTH
from tests.documents import (
    APPLICATION_NUMBER,
    HOLDER_NAME,
    PREMIUM_TOTAL,
    application_form_data,
    body_text,
    compact,
    long_special_agreement,
    pdf_fonts,
    pdf_info,
    pdf_text,
    pdf_words,
    run_tool,
)

PARTS = ("投保提示", "保险人偿付能力告知", "投保单详情", "投保人声明", "投保人签名", "组合文件阅读记录")


@pytest.fixture(scope="module")
def rendered():
    return render_application_form(application_form_data())


def test_pdf_basics_and_reproducible(rendered):
    assert rendered.pdf.startswith(b"%PDF-")
    assert rendered.page_count >= 2
    assert render_application_form(application_form_data()).pdf == rendered.pdf


def test_keywords_metadata_carry_kind_and_number(rendered):
    info = PdfFileReader(io.BytesIO(rendered.pdf)).trailer["/Info"]
    assert str(info["/Keywords"]) == f"epolicy-kind=application; epolicy-number={APPLICATION_NUMBER}"
    assert str(info["/Author"]) == application_form_data().insurer.name


def test_signature_box_is_the_empty_frame_inside_the_page(rendered):
    box = rendered.signature_box
    assert 0 <= box.page < rendered.page_count
    assert box.x2 - box.x1 == pytest.approx(SIGNATURE_WIDTH)
    assert box.y2 - box.y1 == pytest.approx(SIGNATURE_HEIGHT)
    assert 30 < box.x1 < box.x2 < PAGE_WIDTH - 30
    assert MARGIN_BOTTOM <= box.y1 < box.y2 < PAGE_HEIGHT - 30


@pytest.mark.crosscheck
def test_page_count_and_metadata_match_pdfinfo(rendered, tmp_path):
    info = pdf_info(rendered.pdf, tmp_path)
    assert int(info["Pages"]) == rendered.page_count
    assert info["Keywords"] == f"epolicy-kind=application; epolicy-number={APPLICATION_NUMBER}"
    assert info["Author"] == application_form_data().insurer.name


@pytest.mark.crosscheck
def test_every_font_is_embedded_and_subset(rendered, tmp_path):
    fonts = pdf_fonts(rendered.pdf, tmp_path)
    assert fonts
    for font in fonts:
        assert (font["emb"], font["sub"]) == ("yes", "yes"), font


@pytest.mark.crosscheck
def test_qpdf_finds_no_errors(rendered, tmp_path):
    assert "No syntax or stream encoding errors" in run_tool(
        "qpdf", "--check", pdf=rendered.pdf, tmp_path=tmp_path
    )


@pytest.mark.crosscheck
def test_text_shows_the_six_parts_every_section_and_the_bundle(rendered, tmp_path):
    text = compact(pdf_text(rendered.pdf, tmp_path))
    data = application_form_data()
    expected = [
        APPLICATION_NUMBER,
        HOLDER_NAME,
        PREMIUM_TOTAL,
        "车船税",
        data.product_title,
        data.insurer.short_name,
        *PARTS,
        *(section.title for section in data.sections),
        *(f.label for f in data.bundle),
        *(f.value for f in data.bundle),
        f"第1页/共{rendered.page_count}页",
    ]
    for item in expected:
        assert compact(item) in text, item
    assert compact(data.declaration) in text
    assert compact(data.solvency_notice) in text


@pytest.mark.crosscheck
def test_no_word_inside_the_signature_box_and_its_label_nearby(rendered, tmp_path):
    box = rendered.signature_box
    words = pdf_words(rendered.pdf, tmp_path)
    on_page = [w for w in words if w[0] == box.page]
    inside = [w for w in on_page if w[1] < box.x2 and w[3] > box.x1 and w[2] < box.y2 and w[4] > box.y1]
    assert inside == []
    # The "投保人签名" title is on the same page, above the frame.
    titles = [w for w in on_page if "投保人签名" in w[5]]
    assert titles and all(w[2] > box.y2 for w in titles)


def furniture(data) -> tuple[str, ...]:
    return (
        f"{data.product_title}　投保单号：{data.application_number}",
        f"{data.insurer.name}　客服电话 {data.insurer.hotline}",
        f"投保单号 {data.application_number}",
        data.insurer.short_name,
        "特别约定",  # the title bar repeated on a continuation page (the sample text uses the word too)
    )


@pytest.mark.crosscheck
def test_long_special_agreement_flows_to_more_pages_without_losing_text(tmp_path):
    agreement = long_special_agreement(60)
    short = render_application_form(application_form_data())
    data = application_form_data(special_agreement=agreement)
    rendered = render_application_form(data)
    assert rendered.page_count > short.page_count
    assert int(pdf_info(rendered.pdf, tmp_path)["Pages"]) == rendered.page_count
    text = body_text(rendered.pdf, tmp_path, furniture=furniture(data))
    expected = compact("".join(agreement)).replace("特别约定", "")
    assert expected in text


@pytest.mark.crosscheck
def test_one_paragraph_longer_than_a_page_is_split_not_cut(tmp_path):
    huge = "".join(f"第{i:03d}句：本条约定的内容很长，需要跨页完整显示。" for i in range(1, 221))
    data = application_form_data(special_agreement=(huge,))
    rendered = render_application_form(data)
    assert rendered.page_count >= 4
    text = body_text(rendered.pdf, tmp_path, furniture=furniture(data))
    assert compact(huge) in text

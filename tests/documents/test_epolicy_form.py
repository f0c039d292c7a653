"""The e-policy PDF (motor standard 4.3.3 b), checked with independent tools where they are installed."""

from __future__ import annotations

import io
import subprocess

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from epolicy.documents.epolicy_form import QR_SIZE, QR_X, QR_Y, SEAL_SIZE, render_epolicy
from epolicy.documents.pdf import PAGE_HEIGHT, PAGE_WIDTH
from epolicy.documents.qr import qr_matrix
from tests.documents import (
    HOLDER_NAME,
    POLICY_NUMBER,
    PREMIUM_TOTAL,
    PREMIUM_UPPER,
    VERIFY_URL,
    body_text,
    compact,
    epolicy_data,
    long_special_agreement,
    pdf_fonts,
    pdf_info,
    pdf_text,
    pdf_words,
    require_tool,
    run_tool,
)


@pytest.fixture(scope="module")
def rendered():
    return render_epolicy(epolicy_data())


def test_pdf_basics_and_reproducible(rendered):
    assert rendered.pdf.startswith(b"%PDF-")
    assert rendered.page_count == 2
    assert render_epolicy(epolicy_data()).pdf == rendered.pdf  # invariant output: same data, same bytes


def test_the_font_face_keeping_its_tables_writes_the_same_bytes(rendered, monkeypatch):
    """fonts._TableKeepingFace only avoids copying tables again: ReportLab's own face gives the same file."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFontFace

    from epolicy.documents import fonts

    face = pdfmetrics.getFont(fonts.FONT_NAME).face
    assert isinstance(face, fonts._TableKeepingFace)
    assert face.get_table("glyf") is face.get_table("glyf")  # kept, not copied again
    monkeypatch.setattr(face, "__class__", TTFontFace)
    assert render_epolicy(epolicy_data()).pdf == rendered.pdf


def test_keywords_metadata_carry_kind_and_number(rendered):
    info = PdfFileReader(io.BytesIO(rendered.pdf)).trailer["/Info"]
    assert str(info["/Keywords"]) == f"epolicy-kind=policy; epolicy-number={POLICY_NUMBER}"
    assert str(info["/Author"]) == epolicy_data().insurer.name
    assert POLICY_NUMBER in str(info["/Title"])


def test_seal_box_is_on_the_last_page_inside_the_margins(rendered):
    box = rendered.signature_box
    assert box.page == rendered.page_count - 1
    assert box.x2 - box.x1 == pytest.approx(SEAL_SIZE)
    assert box.y2 - box.y1 == pytest.approx(SEAL_SIZE)
    assert 30 < box.x1 < box.x2 < PAGE_WIDTH - 30
    assert 50 < box.y1 < box.y2 < PAGE_HEIGHT - 30


@pytest.mark.crosscheck
def test_page_count_and_metadata_match_pdfinfo(rendered, tmp_path):
    info = pdf_info(rendered.pdf, tmp_path)
    assert int(info["Pages"]) == rendered.page_count
    assert info["Keywords"] == f"epolicy-kind=policy; epolicy-number={POLICY_NUMBER}"
    assert info["Author"] == epolicy_data().insurer.name
    assert info["Page size"].startswith("595.276 x 841.89")


@pytest.mark.crosscheck
def test_every_font_is_embedded_and_subset(rendered, tmp_path):
    fonts = pdf_fonts(rendered.pdf, tmp_path)
    assert fonts, "no fonts listed"
    for font in fonts:
        assert font["emb"] == "yes", font
        assert font["sub"] == "yes", font
        assert "Helvetica" not in font["name"] and "STSong" not in font["name"], font


@pytest.mark.crosscheck
def test_qpdf_finds_no_errors(rendered, tmp_path):
    out = run_tool("qpdf", "--check", pdf=rendered.pdf, tmp_path=tmp_path)
    assert "No syntax or stream encoding errors" in out


@pytest.mark.crosscheck
def test_text_shows_number_name_premium_tax_and_every_section(rendered, tmp_path):
    text = compact(pdf_text(rendered.pdf, tmp_path))
    data = epolicy_data()
    for expected in (
        POLICY_NUMBER,
        HOLDER_NAME,
        PREMIUM_TOTAL,
        PREMIUM_UPPER,
        "车船税",
        "扫码验真",
        "重要提示",
        data.confirmed_at.replace(" ", ""),
        data.insurer.hotline,
        "第1页/共2页",
        "第2页/共2页",
        *(section.title for section in data.sections),
    ):
        assert compact(expected) in text, expected
    for notice in data.important_notices:
        assert compact(notice)[:20] in text


@pytest.mark.crosscheck
def test_no_word_inside_the_seal_box(rendered, tmp_path):
    box = rendered.signature_box
    words = pdf_words(rendered.pdf, tmp_path)
    assert any(page == box.page for page, *_ in words)
    inside = [
        w
        for w in words
        if w[0] == box.page and w[1] < box.x2 and w[3] > box.x1 and w[2] < box.y2 and w[4] > box.y1
    ]
    assert inside == []


@pytest.mark.crosscheck
def test_qr_drawn_is_the_symbol_of_the_verify_url(rendered, tmp_path):
    """No QR decoder is installed, so sample the rendered page at every module centre instead."""
    from PIL import Image

    tool = require_tool("pdftoppm")
    target = tmp_path / "p.pdf"
    target.write_bytes(rendered.pdf)
    scale = 8  # pixels per point (576 dpi)
    subprocess.run(
        [
            tool,
            "-r",
            str(72 * scale),
            "-f",
            "1",
            "-l",
            "1",
            "-gray",
            "-png",
            str(target),
            str(tmp_path / "page"),
        ],
        check=True,
        timeout=60,
    )
    image = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    matrix = qr_matrix(VERIFY_URL)
    count = len(matrix)
    module = QR_SIZE / count
    top = PAGE_HEIGHT - (QR_Y + QR_SIZE)

    def dark(row: int, col: int) -> bool:
        x = (QR_X + (col + 0.5) * module) * scale
        y = (top + (row + 0.5) * module) * scale
        return image.getpixel((round(x), round(y))) < 128

    drawn = tuple(tuple(dark(r, c) for c in range(count)) for r in range(count))
    assert drawn == matrix
    # A quiet zone of four modules around the symbol stays light, or phones cannot find it.
    ring = [(-r, c) for r in range(1, 5) for c in range(-4, count + 4)]
    ring += [(count - 1 + r, c) for r in range(1, 5) for c in range(-4, count + 4)]
    ring += [(r, -c) for r in range(count) for c in range(1, 5)]
    ring += [(r, count - 1 + c) for r in range(count) for c in range(1, 5)]
    assert not any(dark(r, c) for r, c in ring)


@pytest.mark.crosscheck
def test_long_special_agreement_flows_to_more_pages_without_losing_text(tmp_path):
    agreement = long_special_agreement(40)
    data = epolicy_data(special_agreement=agreement)
    rendered = render_epolicy(data)
    assert rendered.page_count > 2
    assert int(pdf_info(rendered.pdf, tmp_path)["Pages"]) == rendered.page_count
    text = body_text(
        rendered.pdf,
        tmp_path,
        furniture=(
            f"{data.product_title}　保单号：{data.policy_number}",
            f"{data.insurer.name}　客服电话 {data.insurer.hotline}",
            f"保单号 {data.policy_number}",
            data.insurer.short_name,
            "特别约定",
        ),
    )
    assert compact("".join(agreement)).replace("特别约定", "") in text
    assert rendered.signature_box.page == rendered.page_count - 1


def test_text_that_looks_like_markup_is_printed_as_is():
    data = epolicy_data(special_agreement=("约定 <b>不是标签</b> & 不是实体 &amp;",))
    assert render_epolicy(data).pdf.startswith(b"%PDF-")


@pytest.mark.crosscheck
def test_unusual_content_still_renders_completely(tmp_path):
    from epolicy.documents.model import Field, Section, Table

    long_address = "广东省深圳市南山区" + "科技园示例大道示例大厦" * 12 + "一座 1208 室"
    data = epolicy_data()
    data = type(data)(
        **{
            **data.__dict__,
            "sections": (
                Section(title="空白部分"),
                Section(
                    title="投保人信息",
                    fields=(
                        Field("一个非常非常长的字段标签名称", "值 <甲> & 乙"),
                        Field("住址", long_address),
                        Field("多行", "第一行\n第二行"),
                    ),
                ),
                Section(
                    title="保险责任信息",
                    table=Table(
                        header=("险种", "保险金额/责任限额", "免赔", "保险费", "说明"),
                        rows=(
                            (
                                "机动车损失保险",
                                "85,000.00 元",
                                "0",
                                "1,020.00 元",
                                "含" + "玻璃、自燃、涉水、" * 8,
                            ),
                        ),
                    ),
                ),
            ),
        }
    )
    rendered = render_epolicy(data)
    text = compact(pdf_text(rendered.pdf, tmp_path))
    for expected in (
        "空白部分",
        "值<甲>&乙",
        compact(long_address),
        "第一行",
        "第二行",
        "1,020.00元",
        "一个非常非常长",
    ):
        assert expected in text, expected


def test_font_subsets_are_reportlabs_byte_for_byte():
    """fonts._TableKeepingFace.makeSubset reads each glyph once per process; the subset it writes is the
    one ReportLab writes, composite glyphs (most of the font's CJK glyphs) and unknown characters included."""
    import random

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFontFace

    from epolicy.documents import fonts

    fonts.register_fonts()
    face = pdfmetrics.getFont(fonts.FONT_NAME).face
    assert isinstance(face, fonts._TableKeepingFace)
    rng = random.Random(20261207)
    known = sorted(face.charToGlyph)
    subsets = [sorted(rng.sample(known, rng.randint(1, 256))) for _ in range(60)]
    subsets += [
        [32, 0x4E2D, 0x10FFFF, 65],
        [0xE000],
        list(range(32, 127)),
        [ord(c) for c in "机动车交通事故责任强制保险"],
    ]
    composites = 0
    for subset in subsets:
        assert face.makeSubset(subset) == TTFontFace.makeSubset(face, subset), subset[:8]
        composites += sum(1 for code in subset if face._glyph(face.charToGlyph.get(code, 0)).components)
    assert composites > 100  # the composite path was taken

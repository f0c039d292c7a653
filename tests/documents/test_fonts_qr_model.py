"""The document font, QR codes, the data model and the shared drawing helpers."""

from __future__ import annotations

import io

import pytest
import segno
from PIL import Image
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from epolicy.documents import fonts, pdf, qr
from epolicy.documents.model import InsurerInfo, Table

URL = "https://epolicy.example.cn/v/PDZA202611050000012345?c=7f3a9c21"


def test_font_path_follows_the_setting(settings):
    settings.DOCUMENT_FONT_PATH = "/opt/fonts/custom.ttf"
    assert fonts.font_path() == "/opt/fonts/custom.ttf"
    del settings.DOCUMENT_FONT_PATH
    assert fonts.font_path() == fonts.DEBIAN_FONT_PATH


def test_missing_font_names_the_debian_package(tmp_path):
    with pytest.raises(fonts.FontNotFoundError, match="fonts-wqy-microhei"):
        fonts.load_font(str(tmp_path / "absent.ttc"))


def test_registration_is_idempotent():
    assert fonts.register_fonts() == fonts.FONT_NAME
    assert fonts.register_fonts() == fonts.FONT_NAME


def test_labels_of_the_forms_are_in_the_font():
    text = (
        "投保提示保险人偿付能力告知投保单详情投保人声明签名组合文件阅读记录"
        "扫码验真保险人电子签章重要提示第页共¥·（）：，。、“”—"
    )
    assert fonts.missing_glyphs(text) == frozenset()
    assert fonts.missing_glyphs("\U0001f600") == frozenset({"\U0001f600"})


def test_qr_uses_error_correction_m_or_higher():
    symbol = qr.make_qr(URL)
    assert symbol.error in {"M", "Q", "H"}
    assert not symbol.is_micro


def test_qr_matrix_is_segnos():
    expected = segno.make(URL, error="m", micro=False, boost_error=True).matrix
    assert qr.qr_matrix(URL) == tuple(tuple(bool(v) for v in row) for row in expected)


def test_qr_png_is_the_symbol_with_a_quiet_zone():
    png = qr.qr_png(URL, scale=4, border=4)
    image = Image.open(io.BytesIO(png)).convert("L")
    matrix = qr.qr_matrix(URL)
    size = len(matrix)
    assert image.size == ((size + 8) * 4, (size + 8) * 4)
    for r in range(size):
        for c in range(size):
            dark = image.getpixel(((c + 4) * 4 + 2, (r + 4) * 4 + 2)) < 128
            assert dark == matrix[r][c]


def test_draw_qr_writes_one_rectangle_per_run():
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pageCompression=0, initialFontName=fonts.register_fonts())
    qr.draw_qr(canvas, URL, 100, 100, 72)
    runs = sum(
        1 for row in qr.qr_matrix(URL) for c, dark in enumerate(row) if dark and (c == 0 or not row[c - 1])
    )
    assert canvas.getpdfdata().count(b" re") == runs


def test_table_rows_must_match_the_header():
    Table(header=("a", "b"), rows=(("1", "2"),))
    with pytest.raises(ValueError):
        Table(header=("a", "b"), rows=(("1",),))


def test_insurer_from_settings(settings):
    settings.INSURER = {
        "name": "测试财产保险股份有限公司",
        "short_name": "测试财险",
        "uscc": "91110000000000000X",
        "address": "上海市示例区示例路 2 号",
        "postcode": "200000",
        "hotline": "400-111-2222",
        "website": "https://insurer.example",
    }
    insurer = InsurerInfo.from_settings()
    assert insurer.name == "测试财产保险股份有限公司"
    assert insurer.hotline == "400-111-2222"


def test_chinese_punctuation_never_starts_a_line():
    pdf.prepare()
    text = "因履行本合同发生争议的，由当事人协商解决；协商不成的，提交保险单载明的仲裁机构仲裁。" * 6
    for width in range(120, 400, 7):
        paragraph = Paragraph(pdf.markup(text), pdf.styles().body)
        paragraph.wrap(width, 10_000)
        assert paragraph.blPara.kind == 0  # one style: lines are (extra space, [words])
        starts = ["".join(words)[:1] for _extra, words in paragraph.blPara.lines]
        assert len(starts) > 1
        assert not set(starts) & set("，。；："), (width, starts)


def test_markup_escapes_and_keeps_line_breaks():
    assert pdf.markup("a<b>&c\nd") == "a&lt;b&gt;&amp;c<br/>d"


def test_keywords_round_trip():
    from epolicy.documents.model import document_keywords, parse_document_keywords

    assert document_keywords("policy", "PDZA1") == "epolicy-kind=policy; epolicy-number=PDZA1"
    assert parse_document_keywords("epolicy-kind=policy; epolicy-number=PDZA1") == ("policy", "PDZA1")
    assert parse_document_keywords("epolicy-kind=application;epolicy-number=T9 ") == ("application", "T9")
    assert parse_document_keywords("invoice, 2026") is None


def test_the_document_font_keeps_its_tables_when_another_font_of_the_file_came_first(monkeypatch):
    """ReportLab makes a font whose face is already registered an alias of the earlier font (the seal's
    appearance font, when a process seals before it renders): its face keeps its tables all the same."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    fonts.register_fonts()
    monkeypatch.setattr(pdfmetrics, "_fonts", dict(pdfmetrics._fonts))
    monkeypatch.setattr(pdfmetrics, "_dynFaceNames", dict(pdfmetrics._dynFaceNames))
    del pdfmetrics._fonts[fonts.FONT_NAME]
    for name, font in list(pdfmetrics._dynFaceNames.items()):
        if getattr(font, "fontName", None) == fonts.FONT_NAME:
            del pdfmetrics._dynFaceNames[name]
    pdfmetrics.registerFont(TTFont("EarlierSameFile", fonts.font_path(), subfontIndex=0))
    assert fonts.register_fonts() == fonts.FONT_NAME
    assert isinstance(pdfmetrics.getFont(fonts.FONT_NAME).face, fonts._TableKeepingFace)

"""Page templates (documents.template): an e-policy drawn from its layout's template looks and reads the
same as the same e-policy drawn in full by ReportLab."""

from __future__ import annotations

import dataclasses
import io
import subprocess

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from epolicy.documents import template
from epolicy.documents.epolicy_form import render_epolicy
from epolicy.documents.model import Field, Section
from tests.documents import (
    INSURER,
    epolicy_data,
    long_special_agreement,
    pdf_fonts,
    pdf_text,
    require_tool,
    run_tool,
)


def _variant(index: int, **changes):
    """The sample e-policy with other values (names, numbers, dates, QR) in the same layout."""
    data = epolicy_data()
    sections = tuple(
        dataclasses.replace(
            s,
            fields=tuple(
                Field(
                    f.label,
                    f.value.replace("张伟明", ["李娜", "王建国", "赵子涵"][index % 3]).replace(
                        "5678", f"{index:04d}"
                    ),
                )
                for f in s.fields
            ),
        )
        for s in data.sections
    )
    return dataclasses.replace(
        data,
        policy_number=f"PDZA2026110500000{index:05d}",
        confirmed_at=f"2026-11-05 10:{index % 60:02d}:27",
        verify_url=f"https://epolicy.example.cn/v/PDZA2026110500000{index:05d}?c={index:08x}",
        sections=sections,
        **changes,
    )


def _png_pages(pdf: bytes, tmp_path, name: str) -> list[bytes]:
    tool = require_tool("pdftoppm")
    target = tmp_path / f"{name}.pdf"
    target.write_bytes(pdf)
    subprocess.run([tool, "-r", "80", "-png", str(target), str(tmp_path / name)], check=True, timeout=60)
    return [p.read_bytes() for p in sorted(tmp_path.glob(f"{name}-*.png"))]


def _pixels(png: bytes) -> bytes:
    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGB").tobytes()


@pytest.fixture
def fresh_cache():
    template.clear()
    yield
    template.clear()


def _same_document(cached, full, tmp_path):
    assert cached.page_count == full.page_count
    assert cached.signature_box == full.signature_box
    # The same text, in the same reading order and in the content streams' own order.
    assert pdf_text(cached.pdf, tmp_path) == pdf_text(full.pdf, tmp_path)
    layout_cached = run_tool(
        "pdftotext", "-enc", "UTF-8", "-layout", pdf=cached.pdf, tmp_path=tmp_path, after=("-",)
    )
    layout_full = run_tool(
        "pdftotext", "-enc", "UTF-8", "-layout", pdf=full.pdf, tmp_path=tmp_path, after=("-",)
    )
    assert layout_cached == layout_full
    # The same pixels on every page.
    cached_pages = _png_pages(cached.pdf, tmp_path, "cached")
    full_pages = _png_pages(full.pdf, tmp_path, "full")
    assert len(cached_pages) == len(full_pages) == full.page_count
    for a, b in zip(cached_pages, full_pages, strict=True):
        assert _pixels(a) == _pixels(b)


@pytest.mark.crosscheck
def test_a_document_from_the_template_looks_and_reads_as_drawn_in_full(fresh_cache, tmp_path):
    render_epolicy(_variant(1))  # makes the layout's template
    data = _variant(2)
    cached = render_epolicy(data)
    assert template.stats() == {"templates": 1, "unusable": 0, "builds": 1}
    full = render_epolicy(data, use_template=False)
    assert cached.pdf != full.pdf  # really drawn another way
    _same_document(cached, full, tmp_path)


@pytest.mark.crosscheck
def test_every_font_is_embedded_and_subset_and_qpdf_is_content(fresh_cache, tmp_path):
    render_epolicy(_variant(1))
    cached = render_epolicy(_variant(3))
    fonts = pdf_fonts(cached.pdf, tmp_path)
    assert len(fonts) >= 3  # the fixed text's subsets and the values' own
    for font in fonts:
        assert font["emb"] == "yes" and font["sub"] == "yes" and font["uni"] == "yes", font
        assert "WenQuanYi" in font["name"]
    run_tool("qpdf", "--check", pdf=cached.pdf, tmp_path=tmp_path)


def test_the_same_data_gives_the_same_bytes_with_or_without_a_template_there(fresh_cache):
    first = render_epolicy(_variant(4))  # builds the template, then draws from it
    assert render_epolicy(_variant(4)).pdf == first.pdf
    template.clear()
    assert render_epolicy(_variant(4)).pdf == first.pdf


def test_one_template_per_layout(fresh_cache):
    for i in range(5):
        render_epolicy(_variant(i))
    assert template.stats()["builds"] == 1
    # Another number of special agreements is another layout.
    one = epolicy_data(special_agreement=("只有一条特别约定。",)).sections
    render_epolicy(dataclasses.replace(_variant(5), sections=one))
    assert template.stats()["builds"] == 2


@pytest.mark.crosscheck
def test_a_value_wrapping_to_more_lines_gets_its_own_template(fresh_cache, tmp_path):
    render_epolicy(_variant(1))
    longer = epolicy_data(special_agreement=(long_special_agreement(1)[0] * 2, "第二条。"))
    cached = render_epolicy(longer)
    assert template.stats()["builds"] == 2
    _same_document(cached, render_epolicy(longer, use_template=False), tmp_path)


@pytest.mark.crosscheck
def test_a_long_agreement_over_several_pages(fresh_cache, tmp_path):
    data = epolicy_data(special_agreement=long_special_agreement(40))
    cached = render_epolicy(data)
    full = render_epolicy(data, use_template=False)
    assert cached.page_count > 2
    _same_document(cached, full, tmp_path)


@pytest.mark.crosscheck
def test_the_fixed_text_is_part_of_the_key(fresh_cache, tmp_path):
    """Another insurer (name, hotline) or another product title never reuses a template."""
    render_epolicy(_variant(1))
    other = dataclasses.replace(INSURER, name="另一家财产保险股份有限公司", hotline="400-111-2222")
    data = _variant(2, insurer=other, product_title="机动车商业保险单（电子保单）")
    text = pdf_text(render_epolicy(data).pdf, tmp_path)
    assert "另一家财产保险股份有限公司 客服电话 400-111-2222" in text  # the footer (the template's part)
    assert "机动车商业保险单" in text
    assert "示例财产保险股份有限公司（演示） 客服电话" not in text
    assert template.stats()["builds"] == 2


def test_a_field_too_long_for_half_a_row_changes_the_layout(fresh_cache):
    render_epolicy(_variant(1))
    data = _variant(2)
    holder = data.sections[0]
    long_phone = Section(
        title=holder.title,
        fields=tuple(
            Field(f.label, "广东省深圳市南山区科技园示例大道" * 3 if f.label == "联系电话" else f.value)
            for f in holder.fields
        ),
    )
    data = dataclasses.replace(data, sections=(long_phone, *data.sections[1:]))
    cached = render_epolicy(data)
    assert template.stats()["builds"] == 2
    assert cached.page_count == render_epolicy(data, use_template=False).page_count


def test_keywords_and_dates_are_the_documents_own(fresh_cache):
    render_epolicy(_variant(1))
    cached = render_epolicy(_variant(7))
    info = PdfFileReader(io.BytesIO(cached.pdf)).trailer["/Info"]
    assert str(info["/Keywords"]) == "epolicy-kind=policy; epolicy-number=PDZA202611050000000007"
    assert str(info["/CreationDate"]).startswith("D:20261105100727")

"""The e-policy (电子保单), motor standard 4.3.3 b.

Four parts: the logo area, the QR code (top right, leading to public verification), the header (保单号,
确认时间, 提示语) and the body (the sections, the premium, 重要提示). The empty place of the insurer's seal is
returned so the signer can put the seal signature there.
"""

from __future__ import annotations

from collections.abc import Callable

from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Spacer

from epolicy.documents import pdf, template
from epolicy.documents.fonts import FONT_NAME
from epolicy.documents.model import MARK_KIND, EPolicyData, InsurerInfo, RenderedDocument, document_keywords
from epolicy.documents.model import POLICY_KIND as KIND
from epolicy.documents.qr import draw_qr

DOCUMENT_LABEL = "电子保单"
DOCUMENT_LABELS = {KIND: DOCUMENT_LABEL, MARK_KIND: "电子交强险标志"}
NUMBER_LABEL = "保单号"
HEADER_HEIGHT = 106.0
SEAL_SIZE = 120.0

# The QR code's square on the first page (x, y of its lower-left corner and side, in points).
QR_SIZE = 72.0
QR_X = pdf.PAGE_WIDTH - pdf.MARGIN_X - QR_SIZE
QR_Y = pdf.PAGE_HEIGHT - pdf.MARGIN_TOP - QR_SIZE
QR_CAPTION = "扫码验真"


def keywords(policy_number: str, kind: str = KIND) -> str:
    """The PDF keywords from which other code reads the kind and number back."""
    return document_keywords(kind, policy_number)


def qr_header(insurer: InsurerInfo, title: str, verify_url: str) -> Callable[[Canvas], None]:
    """The first page's header of a document that is verified by its QR code (the e-policy, the mark,
    the motor e-endorsement): the brand, the QR code top right with its caption, the title, two rules."""

    def draw(canv: Canvas) -> None:
        top = pdf.PAGE_HEIGHT - pdf.MARGIN_TOP
        fixed = pdf.draws_static(canv)  # all but the QR code belongs to the form (documents.template)
        if fixed:
            pdf.draw_brand(canv, insurer, pdf.MARGIN_X, top)
        if pdf.draws_variable(canv):
            draw_qr(canv, verify_url, QR_X, QR_Y, QR_SIZE)
        if not fixed:
            return
        canv.saveState()
        canv.setFont(FONT_NAME, 7.5)
        canv.setFillColor(pdf.MUTED)
        # Below the quiet zone (four modules, under 8 pt at this size).
        canv.drawCentredString(QR_X + QR_SIZE / 2, QR_Y - 17, QR_CAPTION)
        # The title stays clear of the QR's quiet zone (about four modules, under 12 pt).
        room = 2 * (QR_X - 14 - pdf.PAGE_WIDTH / 2)
        size = pdf.fit_font_size(title, 17, room)
        pdf.fake_bold_string(canv, pdf.PAGE_WIDTH / 2, top - 68, title, size, pdf.BRAND, anchor="center")
        right = pdf.PAGE_WIDTH - pdf.MARGIN_X
        canv.setStrokeColor(pdf.BRAND)
        canv.setLineWidth(1.4)
        canv.line(pdf.MARGIN_X, top - 96, right, top - 96)
        canv.setLineWidth(0.4)
        canv.line(pdf.MARGIN_X, top - 98.5, right, top - 98.5)
        canv.restoreState()

    return draw


def _header_table(data: EPolicyData) -> pdf.FormTable:
    st = pdf.styles()
    value_width = pdf.CONTENT_WIDTH - 2 * pdf.LABEL_WIDTH
    return pdf.pair_row(
        [
            pdf.para("保险单号", st.label),
            pdf.var_para(data.policy_number, st.value_strong),
            pdf.para("确认时间", st.label),
            pdf.var_para(data.confirmed_at, st.value),
        ],
        [pdf.LABEL_WIDTH, value_width * 0.55, pdf.LABEL_WIDTH, value_width * 0.45],
    )


def _premium_row(data: EPolicyData) -> pdf.FormTable:
    st = pdf.styles()
    label_width = 132.0
    total_label = 56.0
    total_width = 112.0
    return pdf.pair_row(
        [
            pdf.para("保险费合计（人民币大写）", st.label),
            pdf.var_para(data.premium_upper, st.value_strong),
            pdf.para("（小写）", st.label),
            pdf.var_para(data.premium_total, st.value_strong),
        ],
        [
            label_width,
            pdf.CONTENT_WIDTH - label_width - total_label - total_width,
            total_label,
            total_width,
        ],
    )


def _seal_block(data: EPolicyData, record: pdf.RenderRecord) -> pdf.FormTable:
    st = pdf.styles()
    left: list[Flowable] = [
        pdf.para("保险人（签章）", st.section_title),
        Spacer(1, 6),
        pdf.para(data.insurer.name, st.value),
        Spacer(1, 3),
        pdf.var_para(f"确认时间：{data.confirmed_at}", st.small),
        Spacer(1, 8),
        pdf.para(
            "本保险单由保险人以可靠电子签名签发，与纸质保险单具有同等法律效力。"
            "扫描首页右上角二维码，或登录保险人官方网站，可查询、下载并验证本保险单。"
            if data.kind == KIND
            else "本标志由保险人以可靠电子签名签发。扫描右上角二维码，或登录保险人官方网站，可查询并验证。",
            st.small,
        ),
    ]
    return pdf.seal_block(left, record, seal_size=SEAL_SIZE)


def _story(data: EPolicyData, record: pdf.RenderRecord) -> list[Flowable]:
    story: list[Flowable] = [
        _header_table(data),
        Spacer(1, 5),
        pdf.text_box(None, pdf.paragraphs_of(data.prompt)),
        Spacer(1, 9),
    ]
    premium_placed = not data.show_premium
    for section in data.sections:
        story += pdf.section_table(section)
        if section.table is not None and not premium_placed:
            story.append(_premium_row(data))
            premium_placed = True
        story.append(Spacer(1, 6))
    if not premium_placed:
        story += [_premium_row(data), Spacer(1, 6)]
    if data.important_notices:
        story += [
            Spacer(1, 2),
            pdf.text_box("重要提示", data.important_notices, numbered=True),
            Spacer(1, 12),
        ]
    story.append(_seal_block(data, record))
    return story


def _form_key(data: EPolicyData) -> tuple[object, ...]:
    """Everything of `data` the form prints as fixed text or that shapes its layout, but no value:
    documents with the same key and the same values' layout share one page template."""
    return (
        KIND,
        data.kind,
        data.show_premium,
        data.product_title,
        data.prompt,
        data.insurer,
        data.important_notices,
        tuple((s.title, tuple(f.label for f in s.fields), len(s.paragraphs), s.table) for s in data.sections),
    )


def render_epolicy(data: EPolicyData, *, use_template: bool = True) -> RenderedDocument:
    """Render the e-policy as an A4 PDF (motor standard 4.3.3 b).

    The form's fixed parts are drawn once per layout and process and only the values per document
    (`documents.template`); ``use_template=False`` draws everything, as the first documents of a layout
    are drawn (the result looks the same: tests/documents/test_template.py).
    """
    pdf.prepare()
    furniture = pdf.PageFurniture(
        insurer=data.insurer,
        document_title=data.product_title,
        number_label=NUMBER_LABEL,
        number=data.policy_number,
    )
    metadata = pdf.PdfMetadata(
        title=f"{data.product_title} {data.policy_number}",
        author=data.insurer.name,
        subject=f"{DOCUMENT_LABELS.get(data.kind, DOCUMENT_LABEL)} {NUMBER_LABEL} {data.policy_number}",
        keywords=keywords(data.policy_number, data.kind),
        created=pdf.shown_time(data.confirmed_at),
    )
    page = template.PageSetup(
        furniture=furniture,
        metadata=metadata,
        first_header_height=HEADER_HEIGHT,
        draw_first_header=qr_header(data.insurer, data.product_title, data.verify_url),
    )
    if not use_template:
        record = pdf.RenderRecord()
        return template.render_in_full(_story(data, record), record, page)
    return template.render(lambda record: _story(data, record), form_key=_form_key(data), page=page)


__all__ = ["QR_SIZE", "QR_X", "QR_Y", "keywords", "qr_header", "render_epolicy"]

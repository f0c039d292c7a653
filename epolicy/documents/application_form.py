"""The e-application form (电子投保单), motor standard 4.2.3 b.

Six parts: the logo area, 投保提示, 保险人偿付能力告知, 投保单详情, 投保人声明 and 投保人签名, plus the
record of the bundle documents read before signing (4.2.4 b). The empty signature frame is returned so
the signer can place the policyholder's drawn signature and the PAdES signature there.
"""

from __future__ import annotations

from collections.abc import Callable

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Spacer

from epolicy.documents import pdf
from epolicy.documents.fonts import FONT_NAME
from epolicy.documents.model import APPLICATION_KIND as KIND
from epolicy.documents.model import ApplicationFormData, RenderedDocument, Table, document_keywords

DOCUMENT_LABEL = "电子投保单"
NUMBER_LABEL = "投保单号"
HEADER_HEIGHT = 84.0
SIGNATURE_WIDTH = 220.0
SIGNATURE_HEIGHT = 80.0


def keywords(application_number: str) -> str:
    """The PDF keywords from which other code reads the kind and number back."""
    return document_keywords(KIND, application_number)


def _first_header(data: ApplicationFormData) -> Callable[[Canvas], None]:
    def draw(canv: Canvas) -> None:
        top = pdf.PAGE_HEIGHT - pdf.MARGIN_TOP
        right = pdf.PAGE_WIDTH - pdf.MARGIN_X
        pdf.draw_brand(canv, data.insurer, pdf.MARGIN_X, top)
        canv.saveState()
        canv.setFont(FONT_NAME, 7.5)
        canv.setFillColor(pdf.MUTED)
        canv.drawRightString(right, top - 8, NUMBER_LABEL)
        canv.setFont(FONT_NAME, 11)
        canv.setFillColor(pdf.INK)
        canv.drawRightString(right, top - 22, data.application_number)
        canv.setFont(FONT_NAME, 7.5)
        canv.setFillColor(pdf.MUTED)
        canv.drawRightString(right, top - 35, f"生成时间：{data.generated_at}")
        size = pdf.fit_font_size(data.product_title, 17, pdf.CONTENT_WIDTH)
        pdf.fake_bold_string(
            canv, pdf.PAGE_WIDTH / 2, top - 64, data.product_title, size, pdf.BRAND, anchor="center"
        )
        canv.setStrokeColor(pdf.BRAND)
        canv.setLineWidth(1.4)
        canv.line(pdf.MARGIN_X, top - 73, right, top - 73)
        canv.setLineWidth(0.4)
        canv.line(pdf.MARGIN_X, top - 75.5, right, top - 75.5)
        canv.restoreState()

    return draw


def _signature_block(record: pdf.RenderRecord) -> pdf.FormTable:
    return pdf.applicant_signature_block(
        record,
        consent="签名即表示投保人已阅读本投保单及上列全部文件，确认所填信息真实、完整，并同意按本投保单投保。",
        slot_width=SIGNATURE_WIDTH,
        slot_height=SIGNATURE_HEIGHT,
    )


def _bundle_table(data: ApplicationFormData) -> list[Flowable]:
    st = pdf.styles()
    table = Table(
        header=("文件", "版本 · SHA-256 摘要（前 16 位）· 阅读时间"),
        rows=tuple((f.label, f.value) for f in data.bundle),
    )
    note = pdf.para(
        "投保人在签名前已逐一阅读下列文件。摘要由文件全文计算得出，可用于核对所阅读文件的版本与内容。",
        ParagraphStyle("epolicy-bundle-note", parent=st.small, spaceAfter=4),
    )
    note.keepWithNext = True
    return [pdf.part_heading("组合文件阅读记录", space_after=5), note, pdf.data_table(table)]


def render_application_form(data: ApplicationFormData) -> RenderedDocument:
    """Render the e-application form as an A4 PDF (motor standard 4.2.3 b)."""
    pdf.prepare()
    furniture = pdf.PageFurniture(
        insurer=data.insurer,
        document_title=data.product_title,
        number_label=NUMBER_LABEL,
        number=data.application_number,
    )
    story: list[Flowable] = [
        pdf.text_box("投保提示", pdf.paragraphs_of(data.prompt)),
        Spacer(1, 7),
        pdf.text_box(
            "保险人偿付能力告知",
            pdf.paragraphs_of(data.solvency_notice),
            background=pdf.LABEL_BG,
            rule=pdf.GRID,
        ),
        Spacer(1, 10),
        pdf.part_heading("投保单详情"),
    ]
    for section in data.sections:
        story += pdf.section_table(section)
        story.append(Spacer(1, 6))
    if data.bundle:
        story.append(Spacer(1, 4))
        story += _bundle_table(data)
    story.append(Spacer(1, 6))
    record = pdf.RenderRecord()
    story.append(pdf.declaration_and_signature(data.declaration, _signature_block(record)))
    return pdf.render_document(
        story,
        furniture=furniture,
        metadata=pdf.PdfMetadata(
            title=f"{data.product_title} {data.application_number}",
            author=data.insurer.name,
            subject=f"{DOCUMENT_LABEL} {NUMBER_LABEL} {data.application_number}",
            keywords=keywords(data.application_number),
            created=pdf.shown_time(data.generated_at),
        ),
        first_header_height=HEADER_HEIGHT,
        draw_first_header=_first_header(data),
        record=record,
    )


__all__ = ["keywords", "render_application_form"]

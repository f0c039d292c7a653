"""The change request (保全变更申请书) a customer signs to confirm a self-service change (life guide §6.7).

It shows what the customer confirms: the policy, the item, the change before and after, the money to
pay or receive, the impact prompt the customer acknowledged, and how the customer was identified; then
the declaration and the empty signature frame, where the customer's drawn signature and PAdES signature
(with a one-use event certificate) go.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Spacer

from epolicy.documents import pdf
from epolicy.documents.fonts import FONT_NAME
from epolicy.documents.model import CHANGE_REQUEST_KIND as KIND
from epolicy.documents.model import InsurerInfo, RenderedDocument, Section, document_keywords

TITLE = "寿险保全变更申请书"
NUMBER_LABEL = "申请书编号"
HEADER_HEIGHT = 84.0
SIGNATURE_WIDTH = 220.0
SIGNATURE_HEIGHT = 80.0


@dataclass(frozen=True)
class ChangeRequestFormData:
    request_number: str
    insurer: InsurerInfo
    sections: tuple[Section, ...]  # 保单信息, 变更内容 (before/after table), 收付金额, 身份核验
    impact: tuple[str, ...]  # the impact prompt acknowledged
    acknowledged_at: str
    declaration: str
    generated_at: str
    title: str = TITLE  # the motor endorsement request reuses this form with its own title


def _first_header(data: ChangeRequestFormData) -> Callable[[Canvas], None]:
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
        canv.drawRightString(right, top - 22, data.request_number)
        canv.setFont(FONT_NAME, 7.5)
        canv.setFillColor(pdf.MUTED)
        canv.drawRightString(right, top - 35, f"生成时间：{data.generated_at}")
        pdf.fake_bold_string(canv, pdf.PAGE_WIDTH / 2, top - 64, data.title, 17, pdf.BRAND, anchor="center")
        canv.setStrokeColor(pdf.BRAND)
        canv.setLineWidth(1.4)
        canv.line(pdf.MARGIN_X, top - 73, right, top - 73)
        canv.restoreState()

    return draw


def _signature_block(record: pdf.RenderRecord) -> pdf.FormTable:
    return pdf.applicant_signature_block(
        record,
        consent="签名即表示投保人确认上述变更内容、收付金额及风险提示，同意按本申请书办理。",
        slot_width=SIGNATURE_WIDTH,
        slot_height=SIGNATURE_HEIGHT,
    )


def render_change_request(data: ChangeRequestFormData) -> RenderedDocument:
    """Render the change request as an A4 PDF with an empty signature frame."""
    pdf.prepare()
    furniture = pdf.PageFurniture(
        insurer=data.insurer, document_title=data.title, number_label=NUMBER_LABEL, number=data.request_number
    )
    story: list[Flowable] = []
    for section in data.sections:
        story += pdf.section_table(section)
        story.append(Spacer(1, 6))
    story.append(
        pdf.text_box(
            f"风险及影响提示（投保人已于 {data.acknowledged_at} 阅读确认）",
            list(data.impact),
            background=pdf.LABEL_BG,
            rule=pdf.GRID,
        )
    )
    story.append(Spacer(1, 8))
    record = pdf.RenderRecord()
    story.append(pdf.declaration_and_signature(data.declaration, _signature_block(record)))
    return pdf.render_document(
        story,
        furniture=furniture,
        metadata=pdf.PdfMetadata(
            title=f"{data.title} {data.request_number}",
            author=data.insurer.name,
            subject=f"{data.title} {NUMBER_LABEL} {data.request_number}",
            keywords=document_keywords(KIND, data.request_number),
            created=pdf.shown_time(data.generated_at),
        ),
        first_header_height=HEADER_HEIGHT,
        draw_first_header=_first_header(data),
        record=record,
    )

"""The motor e-endorsement (机动车保险电子批单, motor standard 4.3.5): its own number, the policy it amends,
what changed (before and after), the money, the wording, a QR code to verify it, and the empty place of
the insurer's seal. It names itself as kind "endorsement" in the PDF keywords."""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.platypus import Flowable, Spacer

from epolicy.documents import pdf
from epolicy.documents.epolicy_form import qr_header
from epolicy.documents.model import ENDORSEMENT_KIND as KIND
from epolicy.documents.model import InsurerInfo, RenderedDocument, Section, document_keywords

NUMBER_LABEL = "批单号"
HEADER_HEIGHT = 106.0
SEAL_SIZE = 110.0


@dataclass(frozen=True)
class MotorEndorsementData:
    endorsement_number: str
    policy_number: str
    title: str  # e.g. 机动车交通事故责任强制保险批单
    issued_at: str
    insurer: InsurerInfo
    sections: tuple[Section, ...]  # 批改信息, 变更内容, 退费 ...
    lines: tuple[str, ...]  # 批文
    amount_label: str
    amount: str
    amount_upper: str
    verify_url: str


def keywords(endorsement_number: str) -> str:
    return document_keywords(KIND, endorsement_number)


def _row(cells: tuple[str, str, str, str], split: float = 0.55) -> pdf.FormTable:
    st = pdf.styles()
    width = pdf.CONTENT_WIDTH - 2 * pdf.LABEL_WIDTH
    return pdf.pair_row(
        [
            pdf.para(cells[0], st.label),
            pdf.para(cells[1], st.value_strong),
            pdf.para(cells[2], st.label),
            pdf.para(cells[3], st.value),
        ],
        [pdf.LABEL_WIDTH, width * split, pdf.LABEL_WIDTH, width * (1 - split)],
    )


def render_motor_endorsement(data: MotorEndorsementData) -> RenderedDocument:
    """Render the e-endorsement as an A4 PDF with an empty place for the insurer's seal."""
    pdf.prepare()
    st = pdf.styles()
    record = pdf.RenderRecord()
    story: list[Flowable] = [
        _row((NUMBER_LABEL, data.endorsement_number, "保险单号", data.policy_number)),
        _row(("批改时间", data.issued_at, data.amount_label, f"{data.amount}（{data.amount_upper}）"), 0.4),
        Spacer(1, 9),
    ]
    for section in data.sections:
        story += pdf.section_table(section)
        story.append(Spacer(1, 6))
    story += [
        pdf.text_box("批文", data.lines, numbered=True),
        Spacer(1, 10),
    ]
    left: list[Flowable] = [
        pdf.para("保险人（签章）", st.section_title),
        Spacer(1, 6),
        pdf.para(data.insurer.name, st.value),
        Spacer(1, 3),
        pdf.para(f"批改时间：{data.issued_at}", st.small),
        Spacer(1, 8),
        pdf.para(
            f"本批单是保险单 {data.policy_number} 的组成部分，由保险人以可靠电子签名出具，与纸质批单具有同等"
            "法律效力。扫描右上角二维码，或登录保险人官方网站，可查询并验证本批单。",
            st.small,
        ),
    ]
    story.append(pdf.seal_block(left, record, seal_size=SEAL_SIZE))
    return pdf.render_document(
        story,
        furniture=pdf.PageFurniture(
            insurer=data.insurer,
            document_title=data.title,
            number_label=NUMBER_LABEL,
            number=data.endorsement_number,
        ),
        metadata=pdf.PdfMetadata(
            title=f"{data.title} {data.endorsement_number}",
            author=data.insurer.name,
            subject=f"电子批单 {NUMBER_LABEL} {data.endorsement_number} 保险单号 {data.policy_number}",
            keywords=keywords(data.endorsement_number),
            created=pdf.shown_time(data.issued_at),
        ),
        first_header_height=HEADER_HEIGHT,
        draw_first_header=qr_header(data.insurer, data.title, data.verify_url),
        record=record,
    )

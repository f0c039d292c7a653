"""The e-endorsement (电子批单) of a life-policy change (life guide §6.7): what changed, from when, and
the money, sealed by the insurer and archived with the policy.

`endorsement_data` turns an applied change into display-ready strings; `render_endorsement` lays them
out with the shared form helpers (logo area, title, header row, sections, notes, the seal's slot).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Spacer

from epolicy.common import clock
from epolicy.common.money import cny_upper, fmt_cny
from epolicy.documents import pdf
from epolicy.documents.model import (
    Field,
    InsurerInfo,
    RenderedDocument,
    Section,
    Table,
    document_keywords,
)
from epolicy.rules.life import ChangeQuote, LifeCatalogue, PolicyState
from epolicy.rules.life.dates import zh_date
from epolicy.rules.life.vocab import MOVEMENT_KINDS

KIND = "endorsement"
DOCUMENT_LABEL = "电子批单"
NUMBER_LABEL = "批单号"
HEADER_HEIGHT = 100.0
SEAL_SIZE = 96.0


@dataclass(frozen=True)
class EndorsementData:
    endorsement_number: str
    title: str
    issued_at: str
    insurer: InsurerInfo
    sections: tuple[Section, ...]
    lines: tuple[str, ...]  # the endorsement wording (批注)
    amount_label: str  # 应交金额 / 应领金额 / 收付金额
    amount: str
    amount_upper: str


def keywords(endorsement_number: str) -> str:
    return document_keywords(KIND, endorsement_number)


def _money_line(quote: ChangeQuote) -> tuple[str, Decimal]:
    if quote.amount_to_pay:
        return "投保人应交金额", quote.amount_to_pay
    if quote.amount_to_receive:
        return "应领取金额", quote.amount_to_receive
    return "收付金额", Decimal("0.00")


def endorsement_data(
    *,
    endorsement_number: str,
    change_number: str,
    quote: ChangeQuote,
    before: PolicyState,
    based_on_version: int,
    result_version: int,
    issued_at: dt.datetime,
    catalogue: LifeCatalogue,
) -> EndorsementData:
    """What the endorsement shows, as strings (names in full: the document goes to the policyholder)."""
    product = catalogue.product(before.product_code)
    policy = Section(
        "保单信息",
        fields=(
            Field("保险单号", before.policy_number),
            Field("险种名称", product.name_zh),
            Field("投保人", before.applicant.name),
            Field("被保险人", before.insured.name),
            Field("合同生效日", zh_date(before.effective_date)),
            Field("保单版本", f"第{based_on_version}版 → 第{result_version}版"),
        ),
    )
    change = Section(
        "批改信息",
        fields=(
            Field("保全项目", quote.item_name_zh),
            Field("申请编号", change_number),
            Field("申请日期", zh_date(quote.quoted_on)),
            Field("批改生效日", zh_date(quote.effective_date)),
        ),
    )
    sections = [policy, change]
    if quote.display:
        changes = tuple((d.label_zh, d.before, d.after) for d in quote.display)
        sections.append(Section("变更内容", table=Table(("项目", "变更前", "变更后"), changes)))
    if quote.movements:
        # The note column only when a line says more than its kind's name.
        notes = any(m.description_zh != MOVEMENT_KINDS.get(m.kind) for m in quote.movements)
        money = tuple(
            (
                MOVEMENT_KINDS.get(m.kind, m.kind),
                "收取" if m.direction == "collect" else "支付",
                f"{fmt_cny(m.amount)}元",
                *((m.description_zh,) if notes else ()),
            )
            for m in quote.movements
        )
        header = ("款项", "收/付", "金额", *(("说明",) if notes else ()))
        sections.append(Section("收付明细", table=Table(header, money)))
    label, amount = _money_line(quote)
    return EndorsementData(
        endorsement_number=endorsement_number,
        title=f"{product.name_zh}批单",
        issued_at=clock.fmt_local(issued_at),
        insurer=InsurerInfo.from_settings(),
        sections=tuple(sections),
        lines=quote.endorsement_lines,
        amount_label=label,
        amount=f"{fmt_cny(amount)}元",
        amount_upper=cny_upper(amount),
    )


def _first_header(data: EndorsementData) -> Callable[[Canvas], None]:
    def draw(canv: Canvas) -> None:
        top = pdf.PAGE_HEIGHT - pdf.MARGIN_TOP
        pdf.draw_brand(canv, data.insurer, pdf.MARGIN_X, top)
        size = pdf.fit_font_size(data.title, 17, pdf.CONTENT_WIDTH - 40)
        pdf.fake_bold_string(canv, pdf.PAGE_WIDTH / 2, top - 64, data.title, size, pdf.BRAND, anchor="center")
        canv.saveState()
        right = pdf.PAGE_WIDTH - pdf.MARGIN_X
        canv.setStrokeColor(pdf.BRAND)
        canv.setLineWidth(1.4)
        canv.line(pdf.MARGIN_X, top - 88, right, top - 88)
        canv.setLineWidth(0.4)
        canv.line(pdf.MARGIN_X, top - 90.5, right, top - 90.5)
        canv.restoreState()

    return draw


def _pair(label_a: str, value_a: str, label_b: str, value_b: str, *, split: float = 0.55) -> pdf.FormTable:
    st = pdf.styles()
    value_width = pdf.CONTENT_WIDTH - 2 * pdf.LABEL_WIDTH
    return pdf.pair_row(
        [
            pdf.para(label_a, st.label),
            pdf.para(value_a, st.value_strong),
            pdf.para(label_b, st.label),
            pdf.para(value_b, st.value),
        ],
        [pdf.LABEL_WIDTH, value_width * split, pdf.LABEL_WIDTH, value_width * (1 - split)],
    )


def _seal_block(data: EndorsementData, record: pdf.RenderRecord) -> pdf.FormTable:
    st = pdf.styles()
    left: list[Flowable] = [
        pdf.para("保险人（签章）", st.section_title),
        Spacer(1, 6),
        pdf.para(data.insurer.name, st.value),
        Spacer(1, 3),
        pdf.para(f"批改时间：{data.issued_at}", st.small),
        Spacer(1, 8),
        pdf.para(
            "本批单是保险合同的组成部分，由保险人以可靠电子签名出具，与纸质批单具有同等法律效力。"
            f"如有疑问，请致电{data.insurer.hotline}。",
            st.small,
        ),
    ]
    table = pdf.seal_block(left, record, seal_size=SEAL_SIZE)
    table.keepWithNext = False
    return table


def render_endorsement(data: EndorsementData) -> RenderedDocument:
    """Render the e-endorsement as an A4 PDF with an empty place for the insurer's seal."""
    pdf.prepare()
    record = pdf.RenderRecord()
    story: list[Flowable] = [
        _pair(NUMBER_LABEL, data.endorsement_number, "批改时间", data.issued_at),
        Spacer(1, 9),
    ]
    for section in data.sections:
        story += pdf.section_table(section)
        story.append(Spacer(1, 6))
    story += [
        _pair(data.amount_label, data.amount, "人民币大写", data.amount_upper, split=0.38),
        Spacer(1, 8),
        pdf.text_box("批注", data.lines or ("本次批改无其他约定。",), numbered=True),
        Spacer(1, 10),
        _seal_block(data, record),
    ]
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
            subject=f"{DOCUMENT_LABEL} {NUMBER_LABEL} {data.endorsement_number}",
            keywords=keywords(data.endorsement_number),
            created=pdf.shown_time(data.issued_at),
        ),
        first_header_height=HEADER_HEIGHT,
        draw_first_header=_first_header(data),
        record=record,
    )

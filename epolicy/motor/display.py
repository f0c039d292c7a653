"""Display strings of an application and its policy, shared by the PDFs, the pages and the API.

The e-policy PDF and the query summary are built from the same `policy_sections`, so what the query
shows always equals what the PDF says (motor standard 4.3.1: 查询信息与下载内容一致).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from epolicy.common import clock
from epolicy.common.identifiers import ID_TYPES
from epolicy.common.masking import mask_address, mask_id_number, mask_phone
from epolicy.common.money import cny_upper, fmt_cny
from epolicy.documents.model import ApplicationFormData, EPolicyData, Field, InsurerInfo, Section, Table
from epolicy.parties.models import Customer
from epolicy.policies.links import verify_url
from epolicy.products.motor_products import motor_catalogue
from epolicy.products.tables import load_ctpl_tables

from .models import Application

CTPL_TITLE = "机动车交通事故责任强制保险"
USE_CATEGORY_ZH = {
    "family_private": "家庭自用汽车",
    "non_commercial_enterprise": "企业非营业客车",
    "non_commercial_government": "机关非营业客车",
}
ENERGY_ZH = {
    "fuel": "燃油",
    "bev": "纯电动",
    "fcev": "燃料电池",
    "phev": "插电式混合动力",
    "energy_saving": "节能汽车",
}
DISPUTE_ZH = {"litigation": "诉讼：向被告住所地或保险标的所在地人民法院起诉", "arbitration": "仲裁"}
LIMIT_ROWS = (
    ("death_disability", "死亡伤残赔偿限额"),
    ("medical", "医疗费用赔偿限额"),
    ("property", "财产损失赔偿限额"),
)


def period_text(start: dt.date, end: dt.date) -> str:
    return f"自 {start:%Y年%m月%d日} 0 时起至 {end:%Y年%m月%d日} 24 时止"


def money(amount: Decimal) -> str:
    return f"¥{fmt_cny(amount)}"


def dispute_text(app: Application) -> str:
    if app.dispute_resolution == "arbitration":
        return f"提交{app.arbitration_body}仲裁"
    return DISPUTE_ZH["litigation"]


def person_fields(role: str, person: Customer, *, with_contact: bool = True) -> tuple[Field, ...]:
    fields = [
        Field(f"{role}名称", person.name),
        Field("证件类型", ID_TYPES.get(person.id_type, person.id_type)),
        Field("证件号码", mask_id_number(person.id_number)),
    ]
    if with_contact:
        fields.append(Field("联系电话", mask_phone(person.phone)))
        if person.address:
            fields.append(Field("联系地址", mask_address(person.address)))
    return tuple(fields)


def vehicle_fields(app: Application) -> tuple[Field, ...]:
    fields = [
        Field("号牌号码", app.plate or "新车未上牌"),
        Field("厂牌型号", app.brand_model),
        Field("车辆识别代号（VIN）", app.vin),
        Field("发动机号", app.engine_number),
        Field("使用性质", use_category_zh(app.use_category)),
        Field("核定载客", f"{app.seats} 人"),
        Field("能源种类", ENERGY_ZH.get(app.energy_type, app.energy_type)),
    ]
    if app.displacement_cc:
        fields.append(Field("排量", f"{app.displacement_cc} mL"))
    elif app.displacement_l:
        fields.append(Field("排气量", f"{app.displacement_l} L"))
    if app.tonnage is not None:
        fields.append(Field("核定载质量", f"{app.tonnage} 吨" + ("（挂车）" if app.is_trailer else "")))
    if app.curb_weight_t is not None:
        fields.append(Field("整备质量", f"{app.curb_weight_t} 吨"))
    if app.battery_capacity_kwh is not None:
        fields.append(Field("动力电池容量", f"{app.battery_capacity_kwh} kWh"))
    if app.charger_address:
        fields.append(Field("自用充电桩地址", mask_address(app.charger_address)))
    if app.new_car_price is not None:
        fields.append(Field("新车购置价", money(app.new_car_price)))
    label = "购车发票日期" if app.unregistered else "初次登记日期"
    fields.append(Field(label, f"{app.registered_on:%Y-%m-%d}"))
    return tuple(fields)


def use_category_zh(code: str) -> str:
    """The 交强险 class name of a use category (ctpl_base_premium.yaml), e.g. 家庭自用汽车."""
    return USE_CATEGORY_ZH.get(code) or ctpl_class_names().get(code, code)


def ctpl_class_names() -> dict[str, str]:
    """Use category -> its 交强险 class name, from the base-premium table in force today."""
    classes = load_ctpl_tables(clock.today()).base_premium.classes
    return {code: cls.name_zh for code, cls in classes.items()}


def limits_table(app: Application) -> Table:
    limits = app.quote["limits"]
    rows = tuple(
        (title, money(Decimal(limits["at_fault"][key])), money(Decimal(limits["no_fault"][key])))
        for key, title in LIMIT_ROWS
    )
    total = ("合计", money(Decimal(limits["at_fault"]["total"])), money(Decimal(limits["no_fault"]["total"])))
    return Table(header=("责任限额", "被保险人有责", "被保险人无责"), rows=(*rows, total))


def premium_fields(app: Application) -> tuple[Field, ...]:
    """交强险's premium (its own policy prints only these)."""
    rate = app.floating_rate * 100
    premium = product_premium(app, "ctpl")
    return (
        Field("基础保险费", money(app.base_premium)),
        Field("费率浮动比率", f"{rate:+.0f}%" if rate else "0%"),
        Field("保险费合计", f"{money(premium)}（{cny_upper(premium)}）"),
    )


def product_premium(app: Application, code: str) -> Decimal:
    """The premium of one product of the application (交强险 from its quote, 商业险 the coverages' sum)."""
    products = app.products or [app.product]
    if len(products) == 1:
        return app.premium
    if code == "ctpl":
        return Decimal(app.quote.get("ctpl_premium", "0.00"))
    commercial = app.quote.get("commercial") or {}
    return Decimal(commercial.get("premium", commercial.get("total", "0.00")))


def _ratio(value: str | None) -> str:
    return "—" if value is None else f"{Decimal(value):.2f}".rstrip("0").rstrip(".")


def coverage_table(app: Application) -> Table:
    """商业险: each coverage and rider as the policy shows it (sum insured or limit, deductible, premium)."""
    commercial = app.quote.get("commercial") or {}
    rows = []
    for line in commercial.get("lines", []):
        if line.get("seats"):
            amount = f"{money(Decimal(line['amount']))}/座 × {line['seats']} 座"
        elif line.get("amount") is not None:
            amount = money(Decimal(line["amount"]))
        else:
            amount = "—"
        name = ("　" if line.get("rider") else "") + line["name"]
        deductible = f"{Decimal(line['deductible_rate']) * 100:.0f}%" if line.get("deductible_rate") else "—"
        rows.append((name, amount, deductible, money(Decimal(line["premium"]))))
    total = Decimal(commercial.get("total", "0.00"))
    trip = app.quote.get("single_trip")
    if trip:
        rows.append(("年保险费合计", "", "", money(total)))
        short = Decimal(commercial.get("premium", commercial.get("total", "0.00")))
        rows.append(
            (f"单程提车 {trip['days']} 天（年保险费 × {trip['commercial_factor']}）", "", "", money(short))
        )
    else:
        rows.append(("合计", "", "", money(total)))
    return Table(header=("承保险别", "保险金额/责任限额", "绝对免赔率", "保险费"), rows=tuple(rows))


def commercial_pricing_fields(app: Application) -> tuple[Field, ...]:
    """How the 商业险 premium was reached: 保费 = 基准保费 × NCD × 自主定价系数 (× 交通违法系数)."""
    c = app.quote.get("commercial") or {}
    total = Decimal(c.get("premium", c.get("total", "0.00")))
    fields = [Field("条款", c.get("clause_set_name", ""))]
    value = c.get("actual_value")
    if value:
        fields.append(
            Field(
                "车辆实际价值",
                f"{money(Decimal(value['value']))}（新车购置价 {money(Decimal(value['purchase_price']))}，"
                f"已使用 {value['months']} 个月，月折旧率 {Decimal(value['monthly_rate']) * 100:.2f}%"
                + ("，折旧已达上限" if value.get("capped") else "")
                + "）",
            )
        )
    fields += [
        Field("无赔款优待系数（NCD）", f"{_ratio(c.get('ncd_coefficient'))}（等级 {c.get('ncd_level')}）"),
        Field("自主定价系数", _ratio(c.get("pricing_coefficient"))),
    ]
    if c.get("traffic_coefficient") is not None:
        fields.append(Field("交通违法系数", _ratio(c.get("traffic_coefficient"))))
    if c.get("unconfirmed"):
        fields.append(Field("费率说明", "本报价使用的部分费率数据为演示或未经确认的数据。"))
    fields.append(Field("商业险保险费合计", f"{money(total)}（{cny_upper(total)}）"))
    return tuple(fields)


def tax_fields(app: Application) -> tuple[Field, ...]:
    tax = app.quote.get("vehicle_tax", {})
    fields = [
        Field("纳税人", app.owner.name),
        Field("税款所属期", tax.get("period_text", "")),
        Field("当年应缴税额", money(app.vehicle_tax)),
    ]
    if tax.get("reason"):
        fields.append(Field("减免税说明", tax["reason"]))
    fields.append(Field("保险费及车船税合计", f"{money(app.total_due)}（{cny_upper(app.total_due)}）"))
    return tuple(fields)


def special_agreement_paragraphs(app: Application) -> tuple[str, ...]:
    lines = [line.strip() for line in app.special_agreements.splitlines() if line.strip()]
    return tuple(lines) or ("无。",)


def _product_sections(app: Application) -> tuple[Section, ...]:
    """What the form shows of each product bought (交强险: limits, premium; 商业险: coverages, pricing)."""
    sections: list[Section] = []
    products = app.products or [app.product]
    if "ctpl" in products:
        sections.append(Section("交强险责任限额及保险费", premium_fields(app), table=limits_table(app)))
    if "commercial" in products:
        sections.append(
            Section("商业险承保险别及保险费", commercial_pricing_fields(app), table=coverage_table(app))
        )
    return tuple(sections)


def _totals(app: Application) -> tuple[Field, ...]:
    fields = list(tax_fields(app)) if "vehicle_tax" in app.quote else []
    if not fields:
        fields.append(Field("应缴合计", f"{money(app.total_due)}（{cny_upper(app.total_due)}）"))
    return tuple(fields)


def _trip_fields(app: Application) -> tuple[Field, ...]:
    """单程提车: its days, route and how its short term was priced."""
    trip = app.quote.get("single_trip")
    if not app.trip_days or not trip:
        return ()
    ctpl = f"交强险按年保费 × {Decimal(trip['ctpl_rate']) * 100:.0f}%"
    note = f"{ctpl}，商业险按日（年保费 × {trip['commercial_factor']}）"
    return (
        Field("单程提车", f"{app.trip_days} 天"),
        Field("起讫地点及行驶路线", app.trip_route),
        Field("短期保费计算", note),
    )


def form_title(app: Application) -> str:
    """The title of the application's form version (motor standard §4.2.3 b)."""
    return motor_catalogue().form_version_by_code(app.form_version).title_zh


def application_form_data(app: Application, bundle: tuple[Field, ...]) -> ApplicationFormData:
    """The e-application form (motor standard 4.2.3 b), in the version its vehicle and products call for."""
    insurer = InsurerInfo.from_settings()
    catalogue = motor_catalogue()
    bought = "、".join(catalogue.product(code).name_zh for code in (app.products or [app.product]))
    sections = (
        Section("投保人", person_fields("投保人", app.applicant)),
        Section("被保险人", person_fields("被保险人", app.insured, with_contact=False)),
        Section("机动车行驶证车主", person_fields("车主", app.owner, with_contact=False)),
        Section("保险标的（被保险机动车）", vehicle_fields(app)),
        Section(
            "投保险种及保险期间",
            (
                Field("投保险种", bought),
                Field("保险期间", period_text(app.period_start, app.period_end)),
                *_trip_fields(app),
            ),
        ),
        *_product_sections(app),
        Section("保险费及代收车船税合计", _totals(app)),
        Section("特别约定", paragraphs=special_agreement_paragraphs(app)),
        Section("保险合同争议解决方式", (Field("争议处理", dispute_text(app)),)),
        Section("业务来源", (Field("业务来源", app.business_source), Field("保险人", insurer.name))),
    )
    return ApplicationFormData(
        application_number=app.number,
        product_title=form_title(app),
        insurer=insurer,
        prompt=(
            "请您仔细阅读保险条款，特别是责任免除、投保人及被保险人义务、赔偿处理等内容，"
            "并听取保险人就条款（包括免除保险人责任的条款）所作的说明。请如实填写投保单并签名确认。"
        ),
        solvency_notice=(
            f"{insurer.name}最近季度的偿付能力信息可在本公司网站 {insurer.website} 的公开信息披露栏目查询。"
        ),
        sections=sections,
        declaration=(
            "本人已阅读上述保险条款及全部投保文件，保险人已就条款中免除保险人责任的内容向本人作了明确说明，"
            "本人已充分理解并接受。上述所填写的内容均属实，同意以此投保单作为订立保险合同的依据。"
            "本人同意以电子签名方式签署本投保单，电子签名与手写签名具有同等法律效力。"
        ),
        bundle=bundle,
        generated_at=clock.fmt_local(clock.now()),
    )


def policy_sections(app: Application, policy_number: str, product: str = "ctpl") -> tuple[Section, ...]:
    """The body of the e-policy of one product (motor standard 4.3.3 b), also shown by the query page."""
    insurer = InsurerInfo.from_settings()
    if motor_catalogue().product(product).kind == "ctpl":
        cover = Section("保险责任信息", premium_fields(app), table=limits_table(app))
    else:
        cover = Section("承保险别及保险费", commercial_pricing_fields(app), table=coverage_table(app))
    sections = [
        Section(
            "投保人信息",
            (
                *person_fields("投保人", app.applicant, with_contact=False),
                Field("被保险人", app.insured.name),
                Field("机动车所有人", app.owner.name),
            ),
        ),
        Section("标的信息", vehicle_fields(app)),
        cover,
        Section("特别约定", paragraphs=special_agreement_paragraphs(app)),
        Section(
            "保险期间",
            (Field("保险期间", period_text(app.period_start, app.period_end)), *_trip_fields(app)),
        ),
        Section("保险合同争议处理方式", (Field("争议处理", dispute_text(app)),)),
    ]
    if motor_catalogue().product(product).collects_vehicle_tax and "vehicle_tax" in app.quote:
        sections.append(Section("代收车船税信息", tax_fields(app)))
    sections.append(
        Section(
            "保险人信息",
            (
                Field("保险人", insurer.name),
                Field("统一社会信用代码", insurer.uscc),
                Field("地址", f"{insurer.address}（邮编 {insurer.postcode}）"),
                Field("客服电话", insurer.hotline),
                Field("网址", insurer.website),
            ),
        )
    )
    return tuple(sections)


IMPORTANT_NOTICES = (
    "本保险单为电子保单，带有保险人的可靠电子签名，与纸质保险单具有同等法律效力。",
    "请扫描右上角二维码或登录保险人网站上传本文件进行验真；文件被修改后验真将不通过。",
    "请详细阅读承保险种对应的保险条款，特别是责任免除、投保人及被保险人义务、赔偿处理等内容。",
    "被保险机动车发生保险事故，请及时拨打客服电话报案。",
    "被保险机动车转让、改装、加装或改变使用性质等导致危险程度显著增加的，应及时通知保险人。",
)


def epolicy_data(
    app: Application,
    policy_number: str,
    confirmed_at: dt.datetime,
    verify_code: str = "",
    *,
    product: str = "ctpl",
) -> EPolicyData:
    insurer = InsurerInfo.from_settings()
    premium = product_premium(app, product)
    return EPolicyData(
        policy_number=policy_number,
        product_title=motor_catalogue().product(product).policy_title_zh,
        confirmed_at=clock.fmt_local(confirmed_at),
        prompt="投保人已于确认时间完成投保确认及实名缴费。请核对保险单内容，如有疑问请致电客服。",
        insurer=insurer,
        sections=policy_sections(app, policy_number, product),
        important_notices=IMPORTANT_NOTICES,
        verify_url=verify_url(policy_number, verify_code),
        premium_total=money(premium),
        premium_upper=cny_upper(premium),
    )


MARK_TITLE = "机动车交通事故责任强制保险标志（电子）"
MARK_NOTICES = (
    "本标志是交强险的电子保险标志（机动车交通事故责任强制保险条例 第十二条），带有保险人的可靠电子签名。",
    "请随车携带本标志（可保存在手机中），交通管理部门及他人可扫描二维码或在保险人网站验证其真伪与保单状态。",
    "被保险机动车号牌变更、车辆转让等使本标志所示内容改变的，保险人批改后出具新的标志，原标志作废。",
)


def mark_data(
    app: Application, policy_number: str, confirmed_at: dt.datetime, verify_code: str
) -> EPolicyData:
    """The electronic 交强险 mark: policy number, plate (or VIN before registration), period, insurer,
    its address and the claims and query hotline (条例 第十二条), with the policy's verification QR."""
    insurer = InsurerInfo.from_settings()
    vehicle = Field("号牌号码", app.plate) if app.plate else Field("车辆识别代号（VIN，新车未上牌）", app.vin)
    fields = (
        Field("保险单号", policy_number),
        vehicle,
        Field("保险期间", period_text(app.period_start, app.period_end)),
        Field("保险公司名称", insurer.name),
        Field("保险公司地址", f"{insurer.address}（邮编 {insurer.postcode}）"),
        Field("理赔及查询电话", insurer.hotline),
    )
    return EPolicyData(
        policy_number=policy_number,
        product_title=MARK_TITLE,
        confirmed_at=clock.fmt_local(confirmed_at),
        prompt="请核对标志内容；发生交通事故请及时报案。",
        insurer=insurer,
        sections=(Section("标志信息", fields),),
        important_notices=MARK_NOTICES,
        verify_url=verify_url(policy_number, verify_code),
        premium_total="",
        premium_upper="",
        kind="mark",
        show_premium=False,
    )


def sections_json(sections: tuple[Section, ...]) -> list[dict[str, object]]:
    """Sections as JSON: stored with each policy version, returned by the query API."""
    return [
        {
            "title": s.title,
            "fields": [{"label": f.label, "value": f.value} for f in s.fields],
            "paragraphs": list(s.paragraphs),
            "table": {"header": list(s.table.header), "rows": [list(r) for r in s.table.rows]}
            if s.table
            else None,
        }
        for s in sections
    ]

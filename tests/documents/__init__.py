"""Sample data for the document renderers (display-ready strings, masked as callers mask them)."""

from __future__ import annotations

from epolicy.documents.model import (
    ApplicationFormData,
    EPolicyData,
    Field,
    InsurerInfo,
    Section,
    Table,
)

INSURER = InsurerInfo(
    name="示例财产保险股份有限公司（演示）",
    short_name="示例财险",
    uscc="91110108551385082Q",
    address="北京市海淀区示例路 1 号",
    postcode="100080",
    hotline="400-000-0000",
    website="https://epolicy.example.cn",
)

POLICY_NUMBER = "PDZA202611050000012345"
APPLICATION_NUMBER = "TDZA202611040000067890"
HOLDER_NAME = "张伟明"
PREMIUM_TOTAL = "¥1,305.00"
PREMIUM_UPPER = "壹仟叁佰零伍元整"
VERIFY_URL = "https://epolicy.example.cn/v/PDZA202611050000012345?c=7f3a9c21"

LIMITS = Table(
    header=("保险责任", "被保险人有责任时限额", "被保险人无责任时限额"),
    rows=(
        ("死亡伤残赔偿限额", "180,000.00 元", "18,000.00 元"),
        ("医疗费用赔偿限额", "18,000.00 元", "1,800.00 元"),
        ("财产损失赔偿限额", "2,000.00 元", "100.00 元"),
        ("合计", "200,000.00 元", "19,900.00 元"),
    ),
)

SPECIAL_AGREEMENT = (
    "本保单为电子保单，投保人可通过保险人官方网站或扫描保单二维码查询、下载并验证保单真伪。",
    "被保险机动车行驶证载明的使用性质为家庭自用，如使用性质改变导致危险程度显著增加，应及时通知保险人。",
)

HOLDER = Section(
    title="投保人",
    fields=(
        Field("投保人名称", HOLDER_NAME),
        Field("证件类型", "居民身份证"),
        Field("证件号码", "110108********2315"),
        Field("联系电话", "138****5678"),
        Field("联系地址", "北京市海淀区中关村南大街**号院*号楼*单元"),
    ),
)
INSURED = Section(
    title="被保险人",
    fields=(
        Field("被保险人名称", HOLDER_NAME),
        Field("证件号码", "110108********2315"),
        Field("与投保人关系", "本人"),
        Field("联系电话", "138****5678"),
    ),
)
OWNER = Section(
    title="车主",
    fields=(Field("车主名称", HOLDER_NAME), Field("证件号码", "110108********2315")),
)
VEHICLE = Section(
    title="保险标的",
    fields=(
        Field("号牌号码", "京A·D1234"),
        Field("号牌种类", "小型新能源汽车号牌"),
        Field("车辆识别代号", "LSVAU2180N2******"),
        Field("发动机号", "EA211****"),
        Field("厂牌型号", "示例牌 SL7200EV 纯电动轿车"),
        Field("使用性质", "家庭自用"),
        Field("核定载客", "5 人"),
        Field("整备质量", "1,630 千克"),
        Field("初次登记日期", "2022-03-18"),
        Field("能源种类", "纯电动"),
    ),
)
PERIOD = Section(
    title="保险期间",
    fields=(Field("保险期间", "自 2026 年 11 月 06 日 00:00 起至 2027 年 11 月 05 日 24:00 止，共 365 天"),),
)
PREMIUM = Section(
    title="保险费及代收车船税",
    fields=(
        Field("基础保险费", "¥950.00"),
        Field("费率浮动比率", "-10%（上一年度未发生有责任道路交通事故）"),
        Field("交强险保险费", "¥855.00"),
        Field("代收车船税", "¥450.00（当年应缴 ¥450.00，往年补缴 ¥0.00，滞纳金 ¥0.00）"),
        Field("保险费及车船税合计", f"{PREMIUM_TOTAL}（{PREMIUM_UPPER}）"),
    ),
)
DISPUTE = Section(
    title="保险合同争议处理",
    paragraphs=(
        "因履行本合同发生争议的，由当事人协商解决；协商不成的，提交保险单载明的仲裁机构仲裁，未载明或不能达成仲裁协议的，依法向人民法院起诉。",
    ),
)
SOURCE = Section(
    title="业务来源",
    fields=(
        Field("业务来源", "直销（线上）"),
        Field("出单机构", "示例财产保险股份有限公司北京分公司"),
        Field("经办人", "线上自助"),
        Field("服务电话", "400-000-0000"),
    ),
)


def application_form_data(*, special_agreement: tuple[str, ...] = SPECIAL_AGREEMENT) -> ApplicationFormData:
    return ApplicationFormData(
        application_number=APPLICATION_NUMBER,
        product_title="机动车交通事故责任强制保险投保单",
        insurer=INSURER,
        prompt=(
            "请您仔细阅读保险条款，特别是其中加粗提示的责任免除、投保人及被保险人义务等内容，并听取保险人就条款所作的说明。\n"
            "请您如实填写投保单并确认投保信息。投保人未如实告知的，保险人可能依法解除合同或不承担赔偿责任。"
        ),
        solvency_notice=(
            "本公司最近一期偿付能力充足率符合监管要求，风险综合评级为 A 类。"
            "详细信息可登录本公司官方网站“公开信息披露”栏目查询。"
        ),
        sections=(
            HOLDER,
            INSURED,
            OWNER,
            VEHICLE,
            PERIOD,
            Section(title="责任限额", table=LIMITS),
            PREMIUM,
            Section(title="特别约定", paragraphs=special_agreement),
            DISPUTE,
            SOURCE,
        ),
        declaration=(
            "保险人已向本人提供并详细介绍了本保险所适用的条款，并对其中免除保险人责任的条款（包括但不限于责任免除、"
            "投保人及被保险人义务、赔偿处理等），以及本保险合同中付费约定和特别约定的内容向本人作了明确说明，"
            "本人已充分理解并接受上述内容，同意以此作为订立保险合同的依据，自愿投保本保险。\n"
            "本人确认上述所填写的内容均属实。"
        ),
        bundle=(
            Field(
                "机动车交通事故责任强制保险条款（演示文本）",
                "版本 v1 · 3f9a0c41d27b5e88 · 2026-11-04 15:02:11",
            ),
            Field("交强险费率浮动告知书", "版本 v1 · 0b1e77a3c9d40f52 · 2026-11-04 15:03:27"),
            Field("责任免除事项说明书", "版本 v1 · 9c2d4e6f8a0b1c3d · 2026-11-04 15:04:02"),
            Field("实名缴费授权声明", "版本 v1 · 5e7f9a1b3c5d7e9f · 2026-11-04 15:04:40"),
            Field("个人信息保护政策", "版本 v1 · a1b2c3d4e5f60718 · 2026-11-04 15:05:33"),
            Field("个人信息处理授权书", "版本 v1 · 2468ace013579bdf · 2026-11-04 15:06:05"),
        ),
        generated_at="2026-11-04 15:00:00",
    )


def epolicy_data(*, special_agreement: tuple[str, ...] = SPECIAL_AGREEMENT) -> EPolicyData:
    return EPolicyData(
        policy_number=POLICY_NUMBER,
        product_title="机动车交通事故责任强制保险单（电子保单）",
        confirmed_at="2026-11-05 09:41:27",
        prompt=(
            "收到本保险单后请立即核对，如有不符或疏漏，请及时通知保险人并办理变更或补充手续。"
            "本保险单为电子保单，与纸质保险单具有同等法律效力。"
        ),
        insurer=INSURER,
        sections=(
            Section(
                title="投保人信息",
                fields=(
                    Field("投保人", HOLDER_NAME),
                    Field("证件号码", "110108********2315"),
                    Field("被保险人", HOLDER_NAME),
                    Field("联系电话", "138****5678"),
                    Field("住址", "北京市海淀区中关村南大街**号院*号楼*单元"),
                ),
            ),
            Section(
                title="标的信息",
                fields=(
                    Field("号牌号码", "京A·D1234"),
                    Field("机动车种类", "客车"),
                    Field("车辆识别代号", "LSVAU2180N2******"),
                    Field("使用性质", "家庭自用"),
                    Field("发动机号", "EA211****"),
                    Field("核定载客", "5 人"),
                    Field("厂牌型号", "示例牌 SL7200EV 纯电动轿车"),
                    Field("整备质量", "1,630 千克"),
                ),
            ),
            Section(title="保险责任信息", table=LIMITS),
            Section(title="特别约定", paragraphs=special_agreement),
            Section(
                title="保险期间",
                fields=(Field("保险期间", "自 2026 年 11 月 06 日 00:00 起至 2027 年 11 月 05 日 24:00 止"),),
            ),
            Section(
                title="保险合同争议处理方式",
                paragraphs=(
                    "诉讼：因履行本合同发生的争议，由当事人协商解决；协商不成的，依法向人民法院起诉。",
                ),
            ),
            Section(
                title="代收车船税信息",
                fields=(
                    Field("纳税人识别号", "110108********2315"),
                    Field("完税凭证号", "—"),
                    Field("当年应缴", "¥450.00"),
                    Field("往年补缴", "¥0.00"),
                    Field("滞纳金", "¥0.00"),
                    Field("车船税合计", "¥450.00"),
                ),
            ),
            Section(
                title="保险人信息",
                fields=(
                    Field("保险人名称", INSURER.name),
                    Field("统一社会信用代码", INSURER.uscc),
                    Field("公司地址", INSURER.address),
                    Field("邮政编码", INSURER.postcode),
                    Field("服务电话", INSURER.hotline),
                    Field("网址", INSURER.website),
                ),
            ),
        ),
        important_notices=(
            "本保险合同由保险条款、投保单、保险单、批单和特别约定组成。",
            "收到本保险单后，请立即核对，如有不符或疏漏，请在 48 小时内通知保险人并办理变更或补充手续；"
            "超过 48 小时未通知的，视为投保人无异议。",
            "投保人应如实告知对保险费计算有影响的或被保险机动车因改装、加装、使用性质改变等导致危险程度增加的重要事项，并及时通知保险人办理批改手续。",
            "被保险人应当在交通事故发生后及时通知保险人。",
            "请通过保险人官方网站或扫描本保险单二维码验证保险单真伪。",
        ),
        verify_url=VERIFY_URL,
        premium_total=PREMIUM_TOTAL,
        premium_upper=PREMIUM_UPPER,
    )


def long_special_agreement(paragraph_count: int = 40) -> tuple[str, ...]:
    """A special agreement long enough to flow over a page; each paragraph carries a unique marker."""
    return tuple(
        f"第{i:03d}项特别约定：被保险机动车在保险期间内发生本合同约定的保险事故，被保险人应协助保险人查勘定损，"
        "并按保险人要求提供事故证明、损失清单及其他必要材料；保险人收到完整材料后依法及时核定。"
        for i in range(1, paragraph_count + 1)
    )


# --- inspecting PDFs with poppler / qpdf -------------------------------------------------------------


def require_tool(name: str) -> str:
    """The path of an external tool, or skip the test when it is not installed."""
    import shutil

    import pytest

    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: poppler-utils / qpdf)")
    return path


def run_tool(name: str, *args: str, pdf: bytes, tmp_path, after: tuple[str, ...] = ()) -> str:
    """Run ``name args... file.pdf after...`` on ``pdf`` and return its standard output."""
    import subprocess

    tool = require_tool(name)
    target = tmp_path / "doc.pdf"
    target.write_bytes(pdf)
    command = [tool, *args, str(target), *after]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, f"{name} failed: {result.stdout}{result.stderr}"
    return result.stdout


def pdf_fonts(pdf: bytes, tmp_path) -> list[dict[str, str]]:
    """The rows of ``pdffonts``: name, type, emb, sub."""
    lines = run_tool("pdffonts", pdf=pdf, tmp_path=tmp_path).splitlines()
    header, rule, *rows = lines
    # Columns are fixed-width; the rule line of dashes gives their extents.
    spans = []
    start = 0
    for part in rule.split(" "):
        spans.append((start, start + len(part)))
        start += len(part) + 1
    names = [header[a:b].strip() for a, b in spans]
    return [dict(zip(names, (row[a:b].strip() for a, b in spans), strict=True)) for row in rows]


def pdf_info(pdf: bytes, tmp_path) -> dict[str, str]:
    out = run_tool("pdfinfo", pdf=pdf, tmp_path=tmp_path)
    info = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    return info


def pdf_text(pdf: bytes, tmp_path) -> str:
    out = run_tool("pdftotext", "-enc", "UTF-8", "-raw", pdf=pdf, tmp_path=tmp_path, after=("-",))
    return out.replace("\f", "\n")


def pdf_words(pdf: bytes, tmp_path) -> list[tuple[int, float, float, float, float, str]]:
    """Every word with its page (0-based) and box in PDF points, origin bottom-left."""
    import html
    import re

    out = run_tool("pdftotext", "-bbox", "-enc", "UTF-8", pdf=pdf, tmp_path=tmp_path, after=("-",))
    words = []
    pages = re.split(r"<page ", out)[1:]
    for index, page in enumerate(pages):
        height = float(re.search(r'height="([\d.]+)"', page).group(1))
        for m in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', page
        ):
            x1, y_top, x2, y_bottom = (float(v) for v in m.groups()[:4])
            words.append((index, x1, height - y_bottom, x2, height - y_top, html.unescape(m.group(5))))
    return words


def compact(text: str) -> str:
    """Text without any whitespace (pdftotext breaks lines where the layout did)."""
    return "".join(text.split())


def body_text(pdf: bytes, tmp_path, *, furniture: tuple[str, ...]) -> str:
    """The compacted text of a document with the page furniture (headers, footers, page marks) removed,
    so that a paragraph split over two pages reads as one again."""
    import re

    text = compact(pdf_text(pdf, tmp_path))
    text = re.sub(r"第\d+页/共\d+页", "", text)
    for item in sorted((compact(f) for f in furniture), key=len, reverse=True):
        text = text.replace(item, "")
    return text

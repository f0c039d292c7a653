"""What the documents show, as display-ready strings.

The caller formats dates and money and masks personal data; the renderers only lay the strings out.
"""

from __future__ import annotations

from dataclasses import dataclass

from epolicy.common.types import SignatureBox

# The kinds of document, as the PDF keywords name them (document_keywords) and verification tells them
# apart: here rather than in the renderers, so that reading them does not import ReportLab.
APPLICATION_KIND = "application"  # the signed e-application (application_form)
POLICY_KIND = "policy"  # the e-policy (epolicy_form)
MARK_KIND = "mark"  # the electronic 交强险 mark (epolicy_form's layout)
ENDORSEMENT_KIND = "endorsement"  # an e-endorsement, motor's (motor_endorsement_form) or life's
CHANGE_REQUEST_KIND = "change_request"  # a self-service change request (change_request)


@dataclass(frozen=True)
class Field:
    """One labelled value of a form, e.g. ``Field("车牌号码", "京A·D1234")``."""

    label: str
    value: str


@dataclass(frozen=True)
class Table:
    """A bordered table: a header row and rows of the same width."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if not self.header:
            raise ValueError("a table needs at least one column")
        for row in self.rows:
            if len(row) != len(self.header):
                raise ValueError(f"row {row!r} has {len(row)} cells, the header has {len(self.header)}")


@dataclass(frozen=True)
class Section:
    """A titled part of a form: labelled fields, then paragraphs, then a table (each optional)."""

    title: str
    fields: tuple[Field, ...] = ()
    paragraphs: tuple[str, ...] = ()
    table: Table | None = None


@dataclass(frozen=True)
class InsurerInfo:
    """The insurer named on the documents (from ``settings.INSURER``, never hard-coded)."""

    name: str
    short_name: str
    uscc: str
    address: str
    postcode: str
    hotline: str
    website: str

    @classmethod
    def from_settings(cls) -> InsurerInfo:
        """The insurer configured in ``settings.INSURER``."""
        from django.conf import settings

        conf = settings.INSURER
        return cls(
            name=conf["name"],
            short_name=conf["short_name"],
            uscc=conf["uscc"],
            address=conf["address"],
            postcode=conf["postcode"],
            hotline=conf["hotline"],
            website=conf["website"],
        )


@dataclass(frozen=True)
class ApplicationFormData:
    """The e-application form (电子投保单), motor standard 4.2.3 b.

    ``sections`` are the 投保单详情 (投保人, 被保险人, 车主, 保险标的, 保险期间, 责任限额, 保险费及代收车船税,
    特别约定, 争议处理, 业务来源); ``bundle`` lists the documents read before signing
    (title -> "版本 v1 · SHA-256 前 16 位 · 阅读时间").
    """

    application_number: str
    product_title: str
    insurer: InsurerInfo
    prompt: str
    solvency_notice: str
    sections: tuple[Section, ...]
    declaration: str
    bundle: tuple[Field, ...]
    generated_at: str


@dataclass(frozen=True)
class EPolicyData:
    """The e-policy (电子保单), motor standard 4.3.3 b.

    ``sections``: 投保人信息, 标的信息, 保险责任信息 (a table of coverage and limit), 特别约定, 保险期间,
    争议处理方式, 代收车船税信息, 保险人信息. The premium total is shown right after the first section that
    has a table (the coverage table).
    """

    policy_number: str
    product_title: str
    confirmed_at: str
    prompt: str
    insurer: InsurerInfo
    sections: tuple[Section, ...]
    important_notices: tuple[str, ...]
    verify_url: str
    premium_total: str
    premium_upper: str
    # The same layout serves the electronic insurance mark: kind "mark", no premium row.
    kind: str = POLICY_KIND
    show_premium: bool = True


@dataclass(frozen=True)
class RenderedDocument:
    """A rendered PDF and where its visible signature goes (the signer places it there)."""

    pdf: bytes
    signature_box: SignatureBox
    page_count: int


def document_keywords(kind: str, number: str) -> str:
    """The PDF keywords that name a document: ``epolicy-kind=<kind>; epolicy-number=<number>``."""
    return f"epolicy-kind={kind}; epolicy-number={number}"


def parse_document_keywords(keywords: str) -> tuple[str, str] | None:
    """(kind, number) from PDF keywords written by ``document_keywords``; None if they are not ours."""
    values: dict[str, str] = {}
    for part in keywords.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            values[key.strip()] = value.strip()
    kind, number = values.get("epolicy-kind"), values.get("epolicy-number")
    return (kind, number) if kind and number else None

"""The staff console's motor lists (applications and policies): one search box, filters, pages.

The search box takes one string and says what it is (`recognise`): an 18-character resident ID number
(or an organisation's unified social credit code), a 17-character VIN, a licence plate, or an
application / policy number. Personal data is encrypted at
rest, so ID numbers, plates and VINs are matched by equality through their keyed blind indexes (the
same normalisation as when they were stored); names cannot be searched. Anything else is refused with
a Chinese hint saying what the box accepts, as are unknown states and malformed dates; a page number
that is not one is answered with the nearest page that exists.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from django.core.paginator import EmptyPage, Page, Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django.utils.functional import cached_property

from epolicy.common import clock, identifiers
from epolicy.common.errors import ApplicationError
from epolicy.common.masking import mask_id_number
from epolicy.motor.models import Application, plate_index_of, vin_index_of
from epolicy.parties.models import Customer
from epolicy.policies.models import Policy
from epolicy.products.motor_products import motor_catalogue

PAGE_SIZE = 50
MAX_QUERY_CHARS = 64  # longer text is no identifier: refused before it is looked at further
# Earliest and latest dates a filter takes: outside these a date is a typing error (and would
# overflow the conversion of the day's bounds to UTC).
DATE_MIN = dt.date(1990, 1, 1)
DATE_MAX = dt.date(2199, 12, 31)
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")

# What each kind of input looks like once half-width, upper case and without blanks. Document numbers
# are a letter prefix then digits (TDZA/PDZA + YYYYMMDD + counter: epolicy/common/numbering.py); the
# prefix is not fixed here, so products with their own prefixes are found too.
ID_NUMBER_RE = re.compile(r"\d{17}[\dX]|\d{15}")
VIN_LENGTH = 17
USCC_LENGTH = 18
NUMBER_RE = re.compile(r"[A-Z]{2,8}\d{8,20}")

# Codes of the refusals. `validation_error` until the console's own codes are registered in
# epolicy/common/errors.py (proposed: console_search_unrecognised, console_filter_invalid).
UNRECOGNISED_CODE = "console_search_unrecognised"
FILTER_CODE = "console_filter_invalid"

HINT = (
    "请输入以下之一：投保单号或保单号（如 TDZA20261121000001）、18 位身份证号码、"
    "17 位车架号（VIN）或车牌号（如 京A12345、京AD12345）。"
)

Kind = Literal["number", "id_number", "uscc", "plate", "vin"]
KIND_ZH: dict[str, str] = {
    "number": "投保单号/保单号",
    "id_number": "身份证号码",
    "uscc": "统一社会信用代码",
    "plate": "车牌号",
    "vin": "车架号（VIN）",
}
DateField = Literal["created", "period_start"]


@dataclass(frozen=True)
class Recognised:
    """What the search box held: its kind and the value normalised as it is stored or indexed."""

    kind: Kind
    value: str

    @property
    def label(self) -> str:
        return KIND_ZH[self.kind]


def _compact(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()


def _refused(message: str) -> ApplicationError:
    return ApplicationError(UNRECOGNISED_CODE, message, {"field": "q"})


def recognise(text: str) -> Recognised | None:
    """Which identifier the staff member typed (None: nothing typed); a refusal with a hint otherwise."""
    raw = (text or "").strip()
    if not raw:
        return None
    if len(raw) > MAX_QUERY_CHARS:
        raise _refused("查询内容过长，无法识别。" + HINT)
    value = _compact(raw)
    if not value:
        return None
    if value[0] in identifiers.PLATE_PROVINCES:
        # validate_plate gives the exact fault ("第 2 位应为发牌机关字母" ...); its normalised text is
        # what plate_index_of indexes too (separators and blanks dropped, upper case).
        return Recognised("plate", identifiers.validate_plate(value, field="q").plate)
    if not value.isascii():
        raise _refused("无法识别查询内容：不支持按姓名或其他文字查询（个人信息加密保存）。" + HINT)
    if ID_NUMBER_RE.fullmatch(value):
        return Recognised("id_number", identifiers.validate_id_number(value, field="q", today=clock.today()))
    if len(value) == VIN_LENGTH and value.isalnum():
        try:
            return Recognised("vin", identifiers.validate_vin(value, field="q"))
        except ApplicationError:
            # 17 characters shaped like a document number short of one digit: search it as a number
            # (nothing will match) rather than tell the staff member about VIN check digits.
            if NUMBER_RE.fullmatch(value):
                return Recognised("number", value)
            raise
    if NUMBER_RE.fullmatch(value):
        return Recognised("number", value)
    if len(value) == USCC_LENGTH and value.isalnum():
        # An organisation applicant's 统一社会信用代码: indexed as an ID number is.
        return Recognised("uscc", identifiers.validate_uscc(value, field="q"))
    if re.fullmatch(r"[A-Z][A-Z0-9]{4,6}", value) and any(c.isdigit() for c in value):
        raise _refused("车牌号请带上省份简称，如“京A12345”。")
    raise _refused("无法识别查询内容。" + HINT)


@dataclass(frozen=True)
class ListQuery:
    """A list's search and filters, parsed and checked."""

    search: Recognised | None = None
    status: str = ""
    date_field: DateField = "created"
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @property
    def active(self) -> bool:
        return bool(self.search or self.status or self.date_from or self.date_to)


@dataclass(frozen=True)
class ListForm:
    """What the form shows again: the text as typed (cut to a sane length), and the choices."""

    q: str
    status: str
    date_field: str
    date_from: str
    date_to: str


def _form(params: Mapping[str, str]) -> ListForm:
    def get(name: str, limit: int = 40) -> str:
        return str(params.get(name, "") or "").strip()[:limit]

    return ListForm(
        q=get("q", MAX_QUERY_CHARS + 16),
        status=get("status"),
        date_field=get("date_field") or "created",
        date_from=get("date_from"),
        date_to=get("date_to"),
    )


def _date(text: str, label: str, problems: list[str]) -> dt.date | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text) if DATE_RE.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None:
        problems.append(f"{label}“{text}”不是有效日期，请按“2026-11-21”的格式填写。")
        return None
    if not DATE_MIN <= day <= DATE_MAX:
        problems.append(f"{label}须在 {DATE_MIN:%Y} 年至 {DATE_MAX:%Y} 年之间。")
        return None
    return day


def parse_query(form: ListForm, *, statuses: Sequence[tuple[str, str]]) -> ListQuery:
    """The form's values checked together: every bad filter is named in one refusal."""
    problems: list[str] = []
    fields: list[str] = []
    search: Recognised | None = None
    search_error: ApplicationError | None = None
    try:
        search = recognise(form.q)
    except ApplicationError as exc:
        search_error = exc
        problems.append(exc.message_zh)
        fields.append("q")
    if form.status and form.status not in {value for value, _ in statuses}:
        problems.append("状态筛选不正确，请从列表中选择状态。")
        fields.append("status")
    if form.date_field not in ("created", "period_start"):
        problems.append("日期类型不正确，请选择“提交/签发日期”或“起保日期”。")
        fields.append("date_field")
    before = len(problems)
    date_from = _date(form.date_from, "开始日期", problems)
    date_to = _date(form.date_to, "结束日期", problems)
    if date_from and date_to and date_from > date_to:
        problems.append("开始日期晚于结束日期，请调整日期范围。")
    if len(problems) > before:
        fields.append("date")
    if search_error is not None and fields == ["q"]:
        raise search_error  # its own code: invalid_plate, invalid_id_number, invalid_vin or the hint's
    if problems:
        raise ApplicationError(FILTER_CODE, "".join(problems), {"fields": fields})
    return ListQuery(
        search=search,
        status=form.status,
        date_field="period_start" if form.date_field == "period_start" else "created",
        date_from=date_from,
        date_to=date_to,
    )


def _customers_with_id(id_number: str) -> list[int]:
    """The keys of the Customer rows of a person (one per application): fetched first, so that the
    list's OR over several foreign keys is a union of index scans (a subquery in each arm of an OR
    makes PostgreSQL read the whole table)."""
    people = Customer.objects.filter(id_number_index=Customer.id_index(id_number)).order_by()
    return list(people.values_list("pk", flat=True))


def _date_range(name: str, query: ListQuery, *, aware: bool) -> Q:
    """`name` within the query's dates (both ends included); a timestamp by its Shanghai business date."""
    q = Q()
    if query.date_from:
        q &= Q(**{f"{name}__gte": clock.start_of_day(query.date_from) if aware else query.date_from})
    if query.date_to:
        if aware:
            q &= Q(**{f"{name}__lt": clock.start_of_day(query.date_to + dt.timedelta(days=1))})
        else:
            q &= Q(**{f"{name}__lte": query.date_to})
    return q


def application_rows(query: ListQuery) -> QuerySet[Application]:
    """Applications matching the query, newest first; an ID number matches applicant, insured or owner."""
    rows = Application.objects.select_related("applicant")
    s = query.search
    if s is not None:
        if s.kind == "number":
            # An application's own number or the number of a policy issued for it (it may have several).
            issued = list(
                Policy.objects.filter(number=s.value).order_by().values_list("application_id", flat=True)
            )
            rows = rows.filter(Q(number=s.value) | Q(pk__in=issued))
        elif s.kind in ("id_number", "uscc"):
            people = _customers_with_id(s.value)
            rows = rows.filter(Q(applicant_id__in=people) | Q(insured_id__in=people) | Q(owner_id__in=people))
        elif s.kind == "plate":
            rows = rows.filter(plate_index=plate_index_of(s.value))
        else:
            rows = rows.filter(vin_index=vin_index_of(s.value))
    if query.status:
        rows = rows.filter(status=query.status)
    if query.date_field == "period_start":
        rows = rows.filter(_date_range("period_start", query, aware=False))
    else:
        rows = rows.filter(_date_range("created_at", query, aware=True))
    return _newest_first(rows, query, "period_start" if query.date_field == "period_start" else "created_at")


def policy_rows(query: ListQuery) -> QuerySet[Policy]:
    """Policies matching the query, newest first. The plate is the policy's own (an endorsement may have
    changed it); the VIN and the insured and owner are the application's."""
    rows = Policy.objects.select_related("applicant", "application")
    s = query.search
    if s is not None:
        # The other table's keys are fetched first (see _customers_with_id): an OR across a join is
        # a scan of every policy.
        if s.kind == "number":
            apps = list(Application.objects.filter(number=s.value).order_by().values_list("pk", flat=True))
            rows = rows.filter(Q(number=s.value) | Q(application_id__in=apps))
        elif s.kind in ("id_number", "uscc"):
            people = _customers_with_id(s.value)
            apps = list(
                Application.objects.filter(Q(insured_id__in=people) | Q(owner_id__in=people))
                .order_by()
                .values_list("pk", flat=True)
            )
            rows = rows.filter(Q(applicant_id__in=people) | Q(application_id__in=apps))
        elif s.kind == "plate":
            rows = rows.filter(plate_index=plate_index_of(s.value))
        else:
            rows = rows.filter(application__vin_index=vin_index_of(s.value))
    if query.status:
        rows = rows.filter(status=query.status)
    if query.date_field == "period_start":
        rows = rows.filter(_date_range("period_start", query, aware=False))
    else:
        rows = rows.filter(_date_range("confirmed_at", query, aware=True))
    return _newest_first(
        rows, query, "period_start" if query.date_field == "period_start" else "confirmed_at"
    )


def _newest_first(rows: QuerySet[Any], query: ListQuery, date_name: str) -> QuerySet[Any]:
    """Newest first: by key; within a date filter (and no search), by that date, then key. Ordered by
    key, a page of an old date range is found by reading the table backwards from its newest row down to
    the range (PostgreSQL expects the matches spread evenly); ordered by the date, the date's index
    serves both the range and the order."""
    if query.search is None and (query.date_from or query.date_to):
        return rows.order_by(f"-{date_name}", "-id")
    return rows.order_by("-id")


@dataclass(frozen=True)
class ApplicationRow:
    number: str
    status: str
    status_zh: str
    applicant: str
    applicant_id: str
    plate: str
    total_due: str
    policy_numbers: tuple[str, ...]
    created_at: dt.datetime


@dataclass(frozen=True)
class PolicyRow:
    number: str
    product: str
    product_zh: str
    status: str
    status_zh: str
    applicant: str
    applicant_id: str
    plate: str
    period: str
    premium: str
    vehicle_tax: str
    confirmed_at: dt.datetime
    application_number: str


def application_rows_shown(apps: Sequence[Application]) -> list[ApplicationRow]:
    """Display rows of one page of applications, with the numbers of the policies issued for each."""
    issued: dict[int, list[str]] = {}
    for app_id, number in (
        Policy.objects.filter(application_id__in=[a.pk for a in apps])
        .order_by("id")
        .values_list("application_id", "number")
    ):
        issued.setdefault(app_id, []).append(number)
    return [
        ApplicationRow(
            number=app.number,
            status=app.status,
            status_zh=app.get_status_display(),
            applicant=str(app.applicant),
            applicant_id=mask_id_number(app.applicant.id_number),
            plate=app.plate,
            total_due=f"{app.total_due}",
            policy_numbers=tuple(issued.get(app.pk, ())),
            created_at=app.created_at,
        )
        for app in apps
    ]


def _product_zh(code: str) -> str:
    """交强险 / 商业险 for a product code (the catalogue's short name); the code itself if unknown."""
    try:
        return motor_catalogue().product(code).short_name_zh
    except (LookupError, ApplicationError):
        return code


def policy_rows_shown(policies: Sequence[Policy]) -> list[PolicyRow]:
    """Display rows of one page of policies."""
    return [
        PolicyRow(
            number=policy.number,
            product=policy.product,
            product_zh=_product_zh(policy.product),
            status=policy.status,
            status_zh=policy.get_status_display(),
            applicant=str(policy.applicant),
            applicant_id=mask_id_number(policy.applicant.id_number),
            plate=policy.plate,
            period=f"{policy.period_start} 至 {policy.period_end}",
            premium=f"{policy.premium}",
            vehicle_tax=f"{policy.vehicle_tax}",
            confirmed_at=policy.confirmed_at,
            application_number=policy.application.number,
        )
        for policy in policies
    ]


@dataclass
class Listing:
    """One page of a list with everything its template shows."""

    form: ListForm
    statuses: Sequence[tuple[str, str]]
    query: ListQuery | None = None
    page: Page[Any] | None = None
    rows: list[Any] = field(default_factory=list)
    error: ApplicationError | None = None
    notice: str = ""
    filter_params: str = ""  # the query string of the filters, without the page

    @property
    def status_code(self) -> int:
        return self.error.status if self.error else 200

    def context(self) -> dict[str, Any]:
        page_range: list[int | str] = []
        if self.page is not None:
            page_range = list(
                self.page.paginator.get_elided_page_range(self.page.number, on_each_side=2, on_ends=1)
            )
        return {
            "form": self.form,
            "statuses": self.statuses,
            "search": self.query.search if self.query else None,
            "filtered": bool(self.query and self.query.active),
            "page_obj": self.page,
            "page_range": page_range,
            "rows": self.rows,
            "error": self.error,
            "notice": self.notice,
            "filter_params": self.filter_params,
        }


def _page_number(text: str) -> tuple[int, str]:
    """The page asked for; a notice when the text was no page number."""
    if not text:
        return 1, ""
    number = int(text) if text.isascii() and text.isdigit() else 0
    if number < 1:
        return 1, "页码不正确，已显示第 1 页。"
    return number, ""


# Counting every match of an unfiltered list means reading millions of rows on each page view, and a
# page deep in the list (OFFSET) reads every row before it: up to COUNT_CAP matches are counted exactly
# and paged through; past that the total is the planner's estimate and only the first MAX_PAGES pages
# are served (the staff member narrows the list with the search box or the filters).
COUNT_CAP = 10_000
MAX_PAGES = COUNT_CAP // PAGE_SIZE


class ListPaginator(Paginator):
    """Exact counts up to COUNT_CAP; beyond, the planner's estimate and at most MAX_PAGES pages."""

    estimated = False

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return super().count
        # SELECT COUNT(*) FROM (... ORDER BY -id LIMIT COUNT_CAP + 1): stops reading at the cap, through
        # the index the page itself is read by.
        capped = rows[: COUNT_CAP + 1].count()
        if capped <= COUNT_CAP:
            return capped
        self.estimated = True
        return max(capped, _estimated_count(rows))

    @cached_property
    def num_pages(self) -> int:
        pages = super().num_pages
        return min(pages, MAX_PAGES) if self.estimated else pages


def _estimated_count(rows: QuerySet[Any]) -> int:
    """The planner's estimate of how many rows match (PostgreSQL); an exact count elsewhere."""
    if connections[rows.db].vendor != "postgresql":
        return rows.count()
    plan = json.loads(rows.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def paginate(rows: QuerySet[Any], page_text: str) -> tuple[Page[Any], str]:
    """A page of PAGE_SIZE rows; past the end, the last page (with a notice). Past COUNT_CAP matches the
    total is an estimate and the pages stop at MAX_PAGES (with a notice saying so)."""
    paginator = ListPaginator(rows, PAGE_SIZE)
    number, notice = _page_number(page_text)
    try:
        page = paginator.page(number)
    except EmptyPage:
        last = paginator.num_pages
        page = paginator.page(last)
        notice = f"没有第 {number} 页，已显示最后一页（第 {last} 页）。"
        if paginator.estimated:
            notice = f"只能翻看前 {last} 页，已显示第 {last} 页。"
    if paginator.estimated:
        notice += (
            f"符合条件的记录超过 {COUNT_CAP} 条，总数为估算值，只能翻看前 {MAX_PAGES} 页；"
            "请用查询框或筛选条件缩小范围。"
        )
    return page, notice


def listing(
    params: Mapping[str, str],
    *,
    statuses: Sequence[tuple[str, str]],
    rows: Callable[[ListQuery], QuerySet[Any]],
    shown: Callable[[Sequence[Any]], list[Any]],
) -> Listing:
    """Parse the request's parameters, find the rows, cut out the page asked for."""
    form = _form(params)
    result = Listing(form=form, statuses=statuses)
    try:
        query = parse_query(form, statuses=statuses)
    except ApplicationError as exc:
        result.error = exc
        return result
    result.query = query
    result.filter_params = urlencode(
        [
            (name, value)
            for name, value in (
                ("q", form.q),
                ("status", query.status),
                ("date_field", query.date_field if (query.date_from or query.date_to) else ""),
                ("date_from", query.date_from.isoformat() if query.date_from else ""),
                ("date_to", query.date_to.isoformat() if query.date_to else ""),
            )
            if value
        ]
    )
    page, result.notice = paginate(rows(query), str(params.get("page", "") or "").strip()[:12])
    result.page = page
    result.rows = shown(list(page.object_list))
    return result

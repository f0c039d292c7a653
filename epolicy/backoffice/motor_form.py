"""The console's 新建投保单 form: what staff type, parsed into an ApplicationInput; the service's refusals
put back next to the field they name (details.errors); the quote shown as the pages show it.

Input names are the service's own field paths (`applicant.id_number`, `vehicle.new_car_price`,
`period_start`), so a refusal finds its field without a table; a coverage or rider is one checkbox
`cov` whose value is its key (`damage`, or `deductible@third_party` for a rider chosen per main
coverage) with its options in `cov.<key>.<param>`. The catalogue decides which items and options are
offered; the server refuses whatever the vehicle's clause set does not allow (docs/console.md).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

import yaml

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import ID_TYPES
from epolicy.motor import display
from epolicy.motor.inputs import ApplicationInput, CoverageChoice, PersonInput, ProductChoice, VehicleInput
from epolicy.motor.models import Application
from epolicy.products.commercial_tables import load_commercial_tables
from epolicy.products.motor_products import motor_catalogue
from epolicy.products.tables import load_ctpl_tables
from epolicy.rules.motor.commercial import CoverageCatalogue, MainCoverage, Rider

NEV_ENERGIES = ("bev", "phev", "fcev")
PRODUCT_FIELD = "products"
COVERAGE_FIELD = "coverages"
PERSON_FIELDS = ("id_type", "name", "id_number", "phone", "email", "address")
ROLES = {"applicant": "投保人", "insured": "被保险人", "owner": "行驶证车主"}
# Rules' names for vehicle facts the form asks under another name.
FIELD_ALIASES = {
    "vehicle.purchase_price": "vehicle.new_car_price",
    "vehicle.kind": "vehicle.use_category",
    "vehicle.use": "vehicle.use_category",
    "vehicle.energy": "vehicle.energy_type",
    "vehicle.first_registered": "vehicle.registered_on",
    "vehicle.invoice_date": "vehicle.registered_on",
}
_COVERAGE_PATH = re.compile(r"coverages\[(\d+)\](?:\.(.+))?$")
_PRODUCT_COVERAGE_PREFIX = re.compile(r"^products\[\d+\]\.(?=coverages\[)")


@functools.cache
def _yaml(name: str) -> Any:
    return yaml.safe_load(resources.files("epolicy.products").joinpath(f"data/{name}").read_text("utf-8"))


def region_options() -> list[tuple[str, str]]:
    names = load_ctpl_tables(clock.today()).region_names
    return [(code, f"{name}（{code}）") for code, name in names.items()]


def floating_options() -> list[tuple[str, str]]:
    factors: Mapping[str, str] = _yaml("ctpl_floating.yaml")["factors"]
    return [("", "无记录（不浮动）"), *((code, f"{code} {text}") for code, text in factors.items())]


def use_options() -> list[tuple[str, str]]:
    return [(code, display.use_category_zh(code)) for code in display.ctpl_class_names()]


def _money_label(amount: Decimal) -> str:
    if amount >= 10000 and amount % 10000 == 0:
        return f"{amount / 10000:f}万".replace(".0万", "万")
    return f"{amount:,.0f}元"


@dataclass
class FormField:
    name: str
    label: str
    kind: str = "text"  # text, select, date, number, checkbox, textarea
    value: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    hint: str = ""
    attrs: str = ""  # extra HTML attributes (inputmode, min, max, step)

    @property
    def id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name)


@dataclass
class CoverageRow:
    key: str
    code: str
    parent: str | None
    names: Mapping[str, str]  # clause set -> name
    name: str
    rider: bool
    sets: str  # the clause sets offering it, space separated (the page hides the others)
    family_only: bool
    checked: bool
    note: str
    params: list[FormField]
    errors: list[str] = field(default_factory=list)
    shown: bool = True  # offered for the vehicle as typed (the page's script follows later changes)

    @property
    def id(self) -> str:
        return "cov-" + self.key.replace("@", "-")

    @property
    def names_attrs(self) -> list[tuple[str, str]]:
        return sorted(self.names.items())


@dataclass(frozen=True)
class Fieldset:
    title: str
    fields: list[FormField]
    optional: bool = False  # 被保险人 / 车主: left empty means the same as the applicant (insured)

    @property
    def open(self) -> bool:
        return any(f.errors or (f.value and not f.name.endswith(".id_type")) for f in self.fields)


DEFAULTS = {
    "applicant.id_type": "resident_id",
    "insured.id_type": "resident_id",
    "owner.id_type": "resident_id",
    "vehicle.use_category": "family_private",
    "vehicle.energy_type": "fuel",
    "vehicle.seats": "5",
    "region_code": "110000",
    "cov.third_party.amount": "1000000",
    "cov.driver.amount": "10000",
    "cov.passenger.amount": "10000",
    "cov.passenger.seats": "4",
}
DEFAULT_PRODUCTS = ("ctpl", "commercial")
DEFAULT_COVERAGES = ("damage", "third_party")


class MotorForm:
    """The form's fields, values and errors; `parse()` gives the input or None (errors noted)."""

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self.bound = data is not None
        self.data: dict[str, str] = dict(DEFAULTS)
        self.data["period_start"] = (clock.today() + dt.timedelta(days=1)).isoformat()
        self.products: list[str] = list(DEFAULT_PRODUCTS)
        self.coverage_keys: list[str] = list(DEFAULT_COVERAGES)
        if data is not None:
            self.data = {k: str(data.get(k, "")).strip() for k in data if k not in ("cov", PRODUCT_FIELD)}
            getlist = getattr(data, "getlist", None)
            self.products = list(getlist(PRODUCT_FIELD)) if getlist else list(data.get(PRODUCT_FIELD, []))
            chosen = list(getlist("cov")) if getlist else list(data.get("cov", []))
            self.coverage_keys = list(dict.fromkeys(k.strip() for k in chosen if k.strip()))
        self.errors: dict[str, list[str]] = {}
        self.general: list[str] = []  # refusals naming no field of the form
        self.refusal: ApplicationError | None = None  # the quote's refusal, shown at the top
        self.on = self._date("period_start", required=False) or clock.today() + dt.timedelta(days=1)
        self.catalogue = load_commercial_tables(self.on).catalogue
        self.rows = self._rows()
        known = {r.key for r in self.rows}
        # The coverages sent, in the catalogue's order (an unknown key goes last, for the server to refuse).
        order = {r.key: i for i, r in enumerate(self.rows)}
        self.coverage_keys.sort(key=lambda k: order.get(k, len(order)))
        self.unknown_keys = [k for k in self.coverage_keys if k not in known]

    # --- values ------------------------------------------------------------------------------------

    def value(self, name: str) -> str:
        return self.data.get(name, "")

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, [])
        if message not in self.errors[name]:
            self.errors[name].append(message)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.general)

    def _date(self, name: str, *, required: bool = True, label: str = "日期") -> dt.date | None:
        text = self.value(name)
        if not text:
            if required:
                self.error(name, f"请填写{label}。")
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            if required:
                self.error(name, f"{label}格式应为 YYYY-MM-DD。")
            return None

    def _decimal(self, name: str, label: str, *, required: bool = False) -> Decimal | None:
        text = self.value(name).replace(",", "").replace("，", "")
        if not text:
            if required:
                self.error(name, f"请填写{label}。")
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number < 0:
            self.error(name, f"{label}须为数字。")
            return None
        return number

    def _int(self, name: str, label: str, *, required: bool = False) -> int | None:
        text = self.value(name)
        if not text:
            if required:
                self.error(name, f"请填写{label}。")
            return None
        if not text.isdigit():
            self.error(name, f"{label}须为整数。")
            return None
        return int(text)

    # --- parsing -----------------------------------------------------------------------------------

    def _person(self, role: str) -> PersonInput | None:
        values = {f: self.value(f"{role}.{f}") for f in PERSON_FIELDS}
        if role != "applicant" and not any(values[f] for f in ("name", "id_number", "phone")):
            return None  # left empty: the same as the applicant (insured)
        return PersonInput(
            name=values["name"],
            id_number=values["id_number"],
            phone=values["phone"],
            email=values["email"],
            address=values["address"],
            id_type=values["id_type"] or "resident_id",
        )

    def _vehicle(self) -> VehicleInput | None:
        before = len(self.errors)
        unregistered = self.value("vehicle.unregistered") == "on"
        seats = self._int("vehicle.seats", "核定载客人数", required=True)
        label = "购车发票日期" if unregistered else "初次登记日期"
        registered = self._date("vehicle.registered_on", label=label)
        displacement = self._decimal("vehicle.displacement_l", "排气量")
        price = self._decimal("vehicle.new_car_price", "新车购置价")
        tonnage = self._decimal("vehicle.tonnage", "核定载质量")
        curb = self._decimal("vehicle.curb_weight_t", "整备质量")
        cc = self._int("vehicle.displacement_cc", "排量")
        battery = self._decimal("vehicle.battery_capacity_kwh", "动力电池容量")
        if len(self.errors) > before or seats is None or registered is None:
            return None
        return VehicleInput(
            plate="" if unregistered else self.value("vehicle.plate"),
            vin=self.value("vehicle.vin"),
            engine_number=self.value("vehicle.engine_number"),
            brand_model=self.value("vehicle.brand_model"),
            seats=seats,
            displacement_l=displacement if displacement is not None else Decimal("0"),
            registered_on=registered,
            use_category=self.value("vehicle.use_category"),
            energy_type=self.value("vehicle.energy_type"),
            tonnage=tonnage or None,
            curb_weight_t=curb or None,
            displacement_cc=cc or None,
            new_car_price=price or None,
            unregistered=unregistered,
            battery_capacity_kwh=battery or None,
            charger_address=self.value("vehicle.charger_address"),
        )

    def _coverage(self, key: str) -> CoverageChoice:
        code, _, parent = key.partition("@")
        row = next((r for r in self.rows if r.key == key), None)
        if row is None:
            return CoverageChoice(code=code, parent=parent or None)
        values: dict[str, Any] = {}
        for param in row.params:
            name = param.name.rsplit(".", 1)[-1]
            if ".services." in param.name:
                times = self._int(param.name, "次数")
                if times:
                    values.setdefault("services", {})[name] = times
            elif name in ("seats", "days"):
                values[name] = self._int(param.name, param.label)
            else:
                values[name] = self._decimal(param.name, param.label)
        return CoverageChoice(code=code, parent=parent or None, **values)

    def parse(self) -> ApplicationInput | None:
        """The input, or None with every field that cannot even be read noted."""
        applicant = self._person("applicant")
        insured, owner = self._person("insured"), self._person("owner")
        vehicle = self._vehicle()
        start = self._date("period_start", label="起保日期")
        pricing = self._decimal("pricing_coefficient", "自主定价系数")
        traffic = self._decimal("traffic_coefficient", "交通违法系数")
        if not self.products:
            self.error(PRODUCT_FIELD, "请选择要投保的险种（交强险、商业险）。")
        products = []
        for code in self.products:
            if code == "commercial":
                products.append(ProductChoice(code, tuple(self._coverage(k) for k in self.coverage_keys)))
            else:
                products.append(ProductChoice(code))
        if self.has_errors or applicant is None or vehicle is None or start is None:
            return None
        return ApplicationInput(
            applicant=applicant,
            insured=insured,
            owner=owner,
            vehicle=vehicle,
            region_code=self.value("region_code"),
            period_start=start,
            floating_code=self.value("floating_code") or None,
            special_agreements=self.value("special_agreements"),
            products=tuple(products),
            pricing_coefficient=pricing,
            traffic_coefficient=traffic,
        )

    def summary(self) -> ApplicationError:
        """One message for the top of the page when the form itself could not be read."""
        count = sum(len(v) for v in self.errors.values()) + len(self.general)
        return ApplicationError("validation_error", f"投保信息有 {count} 处需要修改，请按提示逐项修改。")

    # --- refusals ----------------------------------------------------------------------------------

    def add_refusal(self, exc: ApplicationError) -> None:
        """Each refusal of the service next to its field (details.errors, else details.field)."""
        items = exc.details.get("errors")
        if not isinstance(items, list):
            items = [{"field": exc.details.get("field", ""), "message": exc.message_zh}]
        for item in items:
            target = self._target(str(item.get("field") or ""))
            message = str(item.get("message") or exc.message_zh)
            if target is None:
                if message not in self.general:
                    self.general.append(message)
            else:
                self.error(target, message)

    def _target(self, path: str) -> str | None:
        """The form field (or coverage row `cov.<key>`, or section) a service field path names."""
        path = FIELD_ALIASES.get(path, path)
        # The quote names a coverage by its place in the request: products[i].coverages[j].
        path = _PRODUCT_COVERAGE_PREFIX.sub("", path)
        if path.startswith("products"):
            return COVERAGE_FIELD if ".coverages" in path else PRODUCT_FIELD
        match = _COVERAGE_PATH.match(path)
        if match:
            index, rest = int(match.group(1)), match.group(2) or ""
            if index >= len(self.coverage_keys):
                return COVERAGE_FIELD
            key = self.coverage_keys[index]
            if key in self.unknown_keys:
                return COVERAGE_FIELD
            param = f"cov.{key}.{rest}"
            return param if rest and self._is_field(param) else f"cov.{key}"
        if path == COVERAGE_FIELD:
            return COVERAGE_FIELD
        return path if self._is_field(path) else None

    def _is_field(self, name: str) -> bool:
        return any(f.name == name for fs in self.fieldsets() for f in fs.fields) or any(
            p.name == name for r in self.rows for p in r.params
        )

    # --- what the page shows -----------------------------------------------------------------------

    def _field(self, name: str, label: str, kind: str = "text", **kwargs: Any) -> FormField:
        return FormField(name, label, kind, self.value(name), errors=self.errors.get(name, []), **kwargs)

    def _person_fields(self, role: str) -> list[FormField]:
        zh = ROLES[role]
        fields = [
            self._field(f"{role}.id_type", "证件类型", "select", options=list(ID_TYPES.items())),
            self._field(f"{role}.name", f"{zh}名称", hint="个人填真实姓名，单位填全称"),
            self._field(f"{role}.id_number", "证件号码"),
            self._field(f"{role}.phone", "手机号码", attrs='inputmode="tel"'),
        ]
        if role == "applicant":
            fields += [
                self._field(
                    "applicant.email", "电子邮箱", hint="电子保单发送到此邮箱", attrs='inputmode="email"'
                ),
                self._field("applicant.address", "联系地址"),
            ]
        return fields

    def fieldsets(self) -> list[Fieldset]:
        energy = list(display.ENERGY_ZH.items())
        return [
            Fieldset("投保人", self._person_fields("applicant")),
            Fieldset("被保险人（与投保人相同时不填）", self._person_fields("insured"), optional=True),
            Fieldset("行驶证车主（与被保险人相同时不填）", self._person_fields("owner"), optional=True),
            Fieldset(
                "车辆",
                [
                    self._field(
                        "vehicle.unregistered",
                        "新车未上牌",
                        "checkbox",
                        hint="勾选后不填号牌，日期填购车发票日期",
                    ),
                    self._field("vehicle.plate", "号牌号码", hint="如 京A12345"),
                    self._field("vehicle.vin", "车辆识别代号（VIN）"),
                    self._field("vehicle.engine_number", "发动机号"),
                    self._field("vehicle.brand_model", "厂牌型号"),
                    self._field("vehicle.use_category", "使用性质", "select", options=use_options()),
                    self._field("vehicle.energy_type", "能源种类", "select", options=energy),
                    self._field("vehicle.seats", "核定载客（人）", "number", attrs='min="1" max="60"'),
                    self._field(
                        "vehicle.displacement_l",
                        "排气量（L）",
                        hint="纯电动填 0",
                        attrs='inputmode="decimal"',
                    ),
                    self._field(
                        "vehicle.registered_on", "初次登记日期", "date", hint="未上牌新车填购车发票日期"
                    ),
                    self._field(
                        "vehicle.new_car_price",
                        "新车购置价（元）",
                        hint="投保商业险必填",
                        attrs='inputmode="decimal"',
                    ),
                    self._field(
                        "vehicle.tonnage", "核定载质量（吨）", hint="货车", attrs='inputmode="decimal"'
                    ),
                    self._field(
                        "vehicle.curb_weight_t",
                        "整备质量（吨）",
                        hint="货车、特种车",
                        attrs='inputmode="decimal"',
                    ),
                    self._field(
                        "vehicle.displacement_cc", "排量（mL）", hint="摩托车", attrs='inputmode="numeric"'
                    ),
                    self._field(
                        "vehicle.battery_capacity_kwh",
                        "动力电池容量（kWh）",
                        hint="新能源汽车",
                        attrs='inputmode="decimal"',
                    ),
                    self._field(
                        "vehicle.charger_address",
                        "自用充电桩地址",
                        hint="投保充电桩附加险必填",
                    ),
                ],
            ),
            Fieldset(
                "投保地区与保险期间",
                [
                    self._field("region_code", "投保地区", "select", options=region_options()),
                    self._field("period_start", "起保日期", "date", hint="明天起 90 天内，保险期间一年"),
                    self._field("floating_code", "交强险费率浮动", "select", options=floating_options()),
                ],
            ),
            Fieldset(
                "商业险系数",
                [
                    self._field(
                        "pricing_coefficient",
                        "自主定价系数",
                        hint="不填按 1.0；须在地区范围内",
                        attrs='inputmode="decimal"',
                    ),
                    self._field(
                        "traffic_coefficient",
                        "交通违法系数",
                        hint="仅北京、上海、江苏、深圳等使用；不使用的地区不填",
                        attrs='inputmode="decimal"',
                    ),
                    self._field("special_agreements", "特别约定", "textarea"),
                ],
            ),
        ]

    def clause_set(self) -> str:
        """The clause set the current vehicle takes (names and offered items follow it)."""
        catalogue = motor_catalogue()
        try:
            kind, _use = catalogue.commercial_class(
                self.value("vehicle.use_category") or "family_private",
                seats=int(self.value("vehicle.seats")) if self.value("vehicle.seats").isdigit() else 5,
                is_trailer=False,
            )
        except ApplicationError:
            return "iac2020"
        energy = self.value("vehicle.energy_type") or "fuel"
        eligible = [cs for cs in self.catalogue.clause_sets.values() if cs.admits(kind, energy, self.on)]
        return max(eligible, key=lambda cs: cs.effective_from).code if eligible else "iac2020"

    def nev_excluded_uses(self) -> str:
        """Use categories outside the NEV clauses (motorcycles, tractors, special vehicles), for the page."""
        nev = self.catalogue.clause_sets.get("nev2021")
        if nev is None:
            return ""
        catalogue = motor_catalogue()
        out = []
        for code, _name in use_options():
            try:
                kind, _ = catalogue.commercial_class(code, seats=5, is_trailer=False)
            except ApplicationError:
                continue
            if kind in nev.excluded_kinds:
                out.append(code)
        return " ".join(out)

    def _rows(self) -> list[CoverageRow]:
        cat: CoverageCatalogue = self.catalogue
        chosen = set(self.coverage_keys)
        current = self.clause_set()
        rows: list[CoverageRow] = []

        def name_of(item: MainCoverage | Rider) -> str:
            return item.names.get(current) or next(iter(item.names.values()))

        for main in cat.coverages.values():
            rows.append(
                CoverageRow(
                    key=main.code,
                    code=main.code,
                    parent=None,
                    names=main.names,
                    name=name_of(main),
                    rider=False,
                    sets=" ".join(sorted(main.clause_sets)),
                    family_only=False,
                    checked=main.code in chosen,
                    note=_main_note(main),
                    params=self._main_params(main),
                )
            )
        for rider in cat.riders.values():
            parents: tuple[str | None, ...] = rider.attaches_to if rider.per_parent else (None,)
            for parent in parents:
                key = f"{rider.code}@{parent}" if parent else rider.code
                attached = [cat.coverages[p] for p in ((parent,) if parent else rider.attaches_to)]
                rows.append(
                    CoverageRow(
                        key=key,
                        code=rider.code,
                        parent=parent,
                        names={
                            cs: n + (f"（{cat.coverages[parent].names.get(cs, parent)}）" if parent else "")
                            for cs, n in rider.names.items()
                        },
                        name=name_of(rider) + (f"（{name_of(cat.coverages[parent])}）" if parent else ""),
                        rider=True,
                        sets=" ".join(sorted(rider.clause_sets)),
                        family_only=rider.family_only,
                        checked=key in chosen,
                        note="附加于"
                        + "或".join(name_of(c) for c in attached)
                        + ("；仅家庭自用汽车" if rider.family_only else ""),
                        params=self._rider_params(rider, key),
                    )
                )
        return rows

    def _main_params(self, main: MainCoverage) -> list[FormField]:
        base = f"cov.{main.code}"
        amounts = [(f"{a}", _money_label(a)) for a in main.amount_options]
        if main.basis == "limit":
            return [self._field(f"{base}.amount", "责任限额", "select", options=amounts)]
        if main.basis == "per_seat_limit":
            return [
                self._field(f"{base}.amount", "每座限额", "select", options=amounts),
                self._field(f"{base}.seats", "座位数", "number", attrs='min="1" max="59"'),
            ]
        return []

    def _rider_params(self, rider: Rider, key: str) -> list[FormField]:
        base = f"cov.{key}"
        if rider.basis == "parent_discount" and rider.rate_options:
            rates = [(f"{r}", f"{(r * 100).normalize():f}%") for r in rider.rate_options]
            return [self._field(f"{base}.rate", "免赔率", "select", options=rates)]
        if rider.basis in ("amount_rate", "amount_table"):
            if rider.amount_options:
                options = [(f"{a}", _money_label(a)) for a in rider.amount_options]
                return [self._field(f"{base}.amount", "金额", "select", options=options)]
            hint = f"{rider.amount_min:,.0f}–{rider.amount_max:,.0f} 元"
            return [self._field(f"{base}.amount", "金额（元）", hint=hint, attrs='inputmode="decimal"')]
        if rider.basis == "days_daily":
            daily = [(f"{a}", f"{a:,.0f}元/天") for a in rider.daily_options]
            return [
                self._field(
                    f"{base}.days",
                    "天数",
                    "number",
                    hint=f"1–{rider.max_days}",
                    attrs=f'min="1" max="{rider.max_days}"',
                ),
                self._field(f"{base}.daily_amount", "日补偿", "select", options=daily),
            ]
        if rider.basis == "services":
            return [
                self._field(
                    f"{base}.services.{code}",
                    f"{name}（次）",
                    "number",
                    attrs=f'min="0" max="{rider.max_times}"',
                )
                for code, name in rider.services.items()
            ]
        return []

    def finish(self) -> None:
        """Rebuild the rows and fields with the errors found (called before rendering)."""
        self.rows = self._rows()
        current = self.clause_set()
        family = (self.value("vehicle.use_category") or "family_private") == "family_private"
        for row in self.rows:
            row.errors = self.errors.get(f"cov.{row.key}", [])
            offered = current in row.sets.split() and (family or not row.family_only)
            row.shown = offered or row.checked or bool(row.errors)


def _main_note(main: MainCoverage) -> str:
    if main.basis == "actual_value":
        return "保险金额 = 实际价值（新车购置价减折旧，自动计算）"
    if main.basis == "per_seat_limit":
        return "座位数不超过核定载客数减驾驶座"
    return ""


def quote_view(quote: Any) -> dict[str, Any]:
    """The quote as the console shows it (the same tables as the application form and the policy)."""
    data = quote.as_api()
    shown = Application(quote=quote.as_json())  # never saved: display helpers read only its quote
    catalogue = motor_catalogue()
    amounts = {
        "ctpl_premium": data["ctpl_premium"],
        "base_premium": data["base_premium"],
        "vehicle_tax": data["vehicle_tax"],
        "commercial": (data["commercial"] or {}).get("total"),
        "premium": data["premium"],
        "total_due": data["total_due"],
    }
    view: dict[str, Any] = {
        "data": data,
        "money": {k: display.money(Decimal(v)) for k, v in amounts.items() if v is not None},
        "products": [(code, catalogue.product(code).short_name_zh) for code in data["products"]],
        "unconfirmed": data["unconfirmed"],
    }
    if data["commercial"] is not None:
        view["coverage_table"] = display.coverage_table(shown)
        view["pricing_fields"] = display.commercial_pricing_fields(shown)
    return view

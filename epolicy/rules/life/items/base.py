"""What every change item is made of: its context, its rule record, its draft result, param reading."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import parse_amount, parse_whole_number
from epolicy.common.money import fmt_cny, to_fen

from ..catalogue import LifeCatalogue, Product, ProductTerms
from ..contract import ZERO, DisplayLine, Movement, Party, PolicyState, Refusal
from ..status import StatusView, effective_status
from ..values import PolicyValues, values_on
from ..vocab import MOVEMENT_KINDS, Direction, PolicyStatus

Params = Mapping[str, Any]
IN_FORCE: frozenset[PolicyStatus] = frozenset({"in_force"})
NOT_ENDED: frozenset[PolicyStatus] = frozenset({"in_force", "lapsed"})
PAYABLE: frozenset[PolicyStatus] = frozenset({"in_force", "lapsed", "matured"})


@dataclass(frozen=True)
class Context:
    """One policy, one date, one catalogue: what an item reads. Values are computed once, lazily."""

    state: PolicyState
    on: date
    catalogue: LifeCatalogue
    applicant: Party | None = None

    @cached_property
    def product(self) -> Product:
        return self.catalogue.product(self.state.product_code)

    @cached_property
    def terms(self) -> ProductTerms:
        return self.product.terms_for(self.state.effective_date)

    @cached_property
    def values(self) -> PolicyValues:
        return values_on(self.state, self.on, self.catalogue)

    @cached_property
    def status(self) -> StatusView:
        return effective_status(self.state, self.on, self.terms, self.values)

    @property
    def cooling_off_end(self) -> date:
        """The last day of the cooling-off period: it runs for N days from the day after receipt."""
        return self.state.received_date + timedelta(days=self.terms.servicing.cooling_off_days)

    @property
    def in_cooling_off(self) -> bool:
        return self.on <= self.cooling_off_end


@dataclass(frozen=True)
class Draft:
    """An item's worked-out change; the engine turns it into a ChangeQuote."""

    effective_date: date
    new_state: PolicyState
    display: tuple[DisplayLine, ...]
    endorsement_lines: tuple[str, ...]
    amount_to_pay: Decimal = ZERO
    amount_to_receive: Decimal = ZERO
    movements: tuple[Movement, ...] = ()
    manual_review_reason_zh: str | None = None
    versions: tuple[str, ...] = field(default=())


Outcome = Draft | tuple[Refusal, ...]


@dataclass(frozen=True)
class ItemRule:
    code: str
    name_zh: str
    statuses: frozenset[PolicyStatus]  # effective statuses the item is open to
    check: Callable[[Context], list[Refusal]]  # eligibility beyond the common checks (no params)
    build: Callable[[Context, Params], Outcome]  # params checked, change worked out
    requester: Literal["applicant", "survival_beneficiary"] = "applicant"


# ------------------------------------------------------------------------------ formatting


def yuan(amount: Decimal) -> str:
    return f"{fmt_cny(amount)}元"


def percent(rate: Decimal) -> str:
    return f"{(rate * 100).quantize(Decimal('0.01'))}%"


def line(label: str, before: object, after: object) -> DisplayLine:
    return DisplayLine(label, _show(before), _show(after))


def _show(value: object) -> str:
    if isinstance(value, Decimal):
        return yuan(value)
    if value is None:
        return "—"
    return str(value)


def movement(
    kind: str, amount: Decimal, direction: Direction, note: str | None = None
) -> tuple[Movement, ...]:
    """A one-element tuple, or nothing for a zero amount (so callers can concatenate)."""
    if not amount:
        return ()
    return (Movement(kind, to_fen(amount), direction, note or MOVEMENT_KINDS[kind]),)


def refuse(code: str, message_zh: str, **details: Any) -> Refusal:
    return Refusal(code, message_zh, {k: _detail(v) for k, v in details.items()})


def _detail(value: Any) -> Any:
    # An amount in fen goes out with its two decimals ("10.00", never "10"), as every amount does.
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return f"{value:.2f}" if isinstance(exponent, int) and exponent >= -2 else str(value)
    if isinstance(value, date):
        return str(value)
    return value


def from_error(exc: ApplicationError) -> Refusal:
    return Refusal(exc.code, exc.message_zh, exc.details)


# ------------------------------------------------------------------------------ parameters


class Reader:
    """Reads an item's params, collecting a `validation_error` refusal for each bad field."""

    def __init__(self, params: Params):
        self.params = params
        self.refusals: list[Refusal] = []

    def bad(self, field_name: str, message: str) -> None:
        self.refusals.append(refuse("validation_error", message, field=field_name))

    def text(self, name: str, label: str, *, max_length: int, required: bool = True) -> str | None:
        raw = self.params.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                self.bad(name, f"请填写{label}。")
            return None
        if not isinstance(raw, str):
            self.bad(name, f"{label}格式不正确。")
            return None
        value = " ".join(raw.split())
        if len(value) > max_length:
            self.bad(name, f"{label}不能超过 {max_length} 个字，请精简后重新填写。")
            return None
        return value

    def amount(self, name: str, label: str, *, required: bool = True) -> Decimal | None:
        """A plain decimal string (or an integer) of yuan: ASCII digits, at most two decimals, bounded
        (`parse_amount`); floats, exponents, NaN and other scripts' digits are refused."""
        raw = self.params.get(name)
        if raw is None or raw == "":
            if required:
                self.bad(name, f"请填写{label}。")
            return None
        try:
            return parse_amount(raw, field=name, label=label)
        except ApplicationError as exc:
            self.refusals.append(from_error(exc))
            return None

    def integer(self, name: str, label: str, *, required: bool = True) -> int | None:
        """A whole number of ASCII digits (or an integer), at most a few digits (`parse_whole_number`)."""
        raw = self.params.get(name)
        if raw is None or raw == "":
            if required:
                self.bad(name, f"请填写{label}。")
            return None
        try:
            return parse_whole_number(raw, field=name, label=label)
        except ApplicationError as exc:
            self.refusals.append(from_error(exc))
            return None

    def choice(self, name: str, label: str, options: Mapping[Any, str]) -> str | None:
        raw = self.params.get(name)
        if raw is None or raw == "":
            self.bad(name, f"请选择{label}。")
            return None
        if raw not in options:
            listed = "、".join(options.values())
            self.bad(name, f"{label}不正确，可选：{listed}。")
            return None
        return str(raw)

    def answers(self, name: str, codes: tuple[str, ...]) -> dict[str, bool] | None:
        """Yes/no answers keyed by question code (true = 是). Incomplete answers are a refusal."""
        raw = self.params.get(name)
        if not isinstance(raw, Mapping):
            self.refusals.append(
                refuse("health_declaration_incomplete", "请逐项回答全部健康告知问题。", field=name)
            )
            return None
        unknown = sorted(set(raw) - set(codes))
        missing = [c for c in codes if not isinstance(raw.get(c), bool)]
        if unknown or missing:
            self.refusals.append(
                refuse(
                    "health_declaration_incomplete",
                    "健康告知未全部回答，请对每一个问题选择“是”或“否”。",
                    field=name,
                    missing=missing,
                    unknown=unknown,
                )
            )
            return None
        return {c: bool(raw[c]) for c in codes}

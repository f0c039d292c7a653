"""The engine's contract: the policy state it reads and writes, and what a check or a quote returns.

`PolicyState` is everything the 16 change items need to know about one policy at one version. The
Django layer stores it as JSON (`to_json`/`from_json`, exact round trip) per policy version; a change
is "store `ChangeQuote.new_state` as the next version and post `ChangeQuote.movements`". Money fields
hold yuan as Decimal rounded to the fen; rates are yearly fractions (0.05 = 5%).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from epolicy.common.errors import ApplicationError
from epolicy.common.money import to_fen

from .dates import months_between
from .vocab import (
    DIRECTIONS,
    DIVIDEND_OPTIONS,
    FREQUENCIES,
    MOVEMENT_KINDS,
    POLICY_STATUSES,
    SEXES,
    SURVIVAL_OPTIONS,
    Direction,
    DividendOption,
    Frequency,
    PolicyStatus,
    Sex,
    SurvivalOption,
)

ZERO = Decimal("0.00")


def _money(owner: object, *names: str) -> None:
    for name in names:
        value = getattr(owner, name)
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"{type(owner).__name__}.{name}: expected a Decimal, got {value!r}")
        if value < 0:
            raise ValueError(f"{type(owner).__name__}.{name}: negative amount {value}")
        if to_fen(value) != value:
            raise ValueError(f"{type(owner).__name__}.{name}: {value} is not rounded to the fen")


def _one_of(owner: object, name: str, allowed: tuple[str, ...], optional: bool = False) -> None:
    value = getattr(owner, name)
    if (value is None and optional) or value in allowed:
        return
    raise ValueError(f"{type(owner).__name__}.{name}: {value!r} is not one of {allowed}")


# --------------------------------------------------------------------------- parties and accounts


@dataclass(frozen=True)
class Party:
    """A person as the engine needs them: a stable id of the platform's party record and a name."""

    party_id: str
    name: str


@dataclass(frozen=True)
class Insured:
    party_id: str
    name: str
    issue_age: int  # age at the effective date, as the premium table is entered
    sex: Sex

    def __post_init__(self) -> None:
        _one_of(self, "sex", SEXES)
        if not 0 <= self.issue_age <= 120:
            raise ValueError(f"Insured.issue_age out of range: {self.issue_age}")


@dataclass(frozen=True)
class PaymentAccount:
    """A bank account: shown masked; the full number lives encrypted elsewhere behind `token`."""

    holder_name: str
    bank_name: str
    masked_number: str
    token: str


@dataclass(frozen=True)
class ContactAddress:
    address: str
    postcode: str


# ------------------------------------------------------------------------------ balances


@dataclass(frozen=True)
class Loan:
    """A policy loan. Balance = principal + capitalised interest, accruing simple daily interest from
    `interest_from` at `rate`; at `due_date` (and every loan term after it, the automatic renewal)
    the accrued interest is rounded to the fen and capitalised."""

    loan_id: str
    principal: Decimal
    start_date: date
    rate: Decimal
    due_date: date
    capitalised_interest: Decimal = ZERO
    interest_from: date | None = None  # None: the start date

    def __post_init__(self) -> None:
        _money(self, "principal", "capitalised_interest")
        if self.rate < 0 or self.due_date <= self.start_date:
            raise ValueError(f"Loan {self.loan_id}: bad rate or due date")

    @property
    def accrues_from(self) -> date:
        return self.interest_from or self.start_date


@dataclass(frozen=True)
class Accumulation:
    """Money left with the insurer at interest (dividends, survival benefits): balance on `as_of`."""

    balance: Decimal = ZERO
    as_of: date | None = None

    def __post_init__(self) -> None:
        _money(self, "balance")
        if self.balance and self.as_of is None:
            raise ValueError("Accumulation: a balance needs its as-of date")


@dataclass(frozen=True)
class UniversalAccount:
    """Universal-life account value on `as_of`, and the fee-free withdrawal allowance of a policy year."""

    value: Decimal
    as_of: date
    allowance_year: int = 0  # the policy year the allowance below belongs to (0: none used yet)
    allowance_left: Decimal = ZERO

    def __post_init__(self) -> None:
        _money(self, "value", "allowance_left")


@dataclass(frozen=True)
class PendingChange:
    """Another change of this policy is waiting (manual review, payment): no second change meanwhile."""

    item: str
    reference: str
    since: date


# --------------------------------------------------------------------------------- the state


@dataclass(frozen=True)
class PolicyState:
    """One version of a life policy, as the change items read and write it."""

    policy_number: str
    product_code: str
    effective_date: date
    received_date: date  # the policy's signed receipt: the cooling-off period counts from the next day
    status: PolicyStatus
    applicant: Party  # 投保人
    insured: Insured
    sum_assured: Decimal
    annual_premium: Decimal
    modal_premium: Decimal
    payment_frequency: Frequency
    premium_term_years: int  # 0 for a single premium
    paid_to: date  # the next premium due date (= the premium end date once all are paid)
    premiums_paid: Decimal
    contact: ContactAddress
    anniversaries_processed_to: date  # dividends/benefits are allocated up to this anniversary
    lapse_date: date | None = None  # first day of suspension (效力中止)
    terminated_on: date | None = None
    survival_beneficiary: Party | None = None  # None: the insured
    payment_account: PaymentAccount | None = None
    dividend_option: DividendOption | None = None
    dividends: Accumulation = field(default_factory=Accumulation)
    dividends_unpaid: Decimal = ZERO  # declared, payable in cash, not yet paid out
    paid_up_additions: Decimal = ZERO  # sum assured bought with dividends (交清增额)
    survival_option: SurvivalOption | None = None
    survival_account: PaymentAccount | None = None
    survival_benefits: Accumulation = field(default_factory=Accumulation)
    survival_benefits_unpaid: Decimal = ZERO  # due, not yet paid out
    premium_deposit: Decimal = ZERO  # dividends/benefits held to pay the next premiums (抵交保费)
    universal: UniversalAccount | None = None
    loans: tuple[Loan, ...] = ()
    loans_granted: int = 0  # how many loans were ever granted: numbers the next one
    pending_change: PendingChange | None = None

    def __post_init__(self) -> None:
        _one_of(self, "status", POLICY_STATUSES)
        _one_of(self, "payment_frequency", FREQUENCIES)
        _one_of(self, "dividend_option", DIVIDEND_OPTIONS, optional=True)
        _one_of(self, "survival_option", SURVIVAL_OPTIONS, optional=True)
        _money(
            self,
            "sum_assured",
            "annual_premium",
            "modal_premium",
            "premiums_paid",
            "dividends_unpaid",
            "paid_up_additions",
            "survival_benefits_unpaid",
            "premium_deposit",
        )
        if (self.payment_frequency == "single") != (self.premium_term_years == 0):
            raise ValueError("PolicyState: a single premium has premium_term_years 0, and only it")
        if months_between(self.effective_date, self.paid_to) is None:
            raise ValueError(f"PolicyState.paid_to {self.paid_to} is not a monthsary of the effective date")
        if len({loan.loan_id for loan in self.loans}) != len(self.loans):
            raise ValueError("PolicyState.loans: duplicate loan ids")
        if self.status == "lapsed" and self.lapse_date is None:
            raise ValueError("PolicyState: a lapsed policy needs its lapse date")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: Decimals and dates as strings, nested records as objects."""
        from .serialize import encode

        return {"schema": SCHEMA_VERSION, **encode(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> PolicyState:
        """The state `to_json` wrote (also as a JSON string); ValueError on anything else."""
        from .serialize import decode_state

        return decode_state(data)


SCHEMA_VERSION = 1


# ----------------------------------------------------------------------- checks and quotes


def _readonly(details: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(details or {}))


@dataclass(frozen=True)
class Refusal:
    """Why a change cannot be made, and what to do (life guide §6.6): a stable code and a sentence."""

    code: str
    message_zh: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", _readonly(self.details))

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message_zh, "details": dict(self.details)}


class ChangeRefused(ApplicationError):
    """`quote` refused the change: every reason is in `refusals` (and in details["refusals"])."""

    def __init__(self, refusals: tuple[Refusal, ...]):
        if not refusals:
            raise ValueError("ChangeRefused needs at least one refusal")
        self.refusals = refusals
        message = refusals[0].message_zh
        if len(refusals) > 1:
            message = f"{message}（另有 {len(refusals) - 1} 项未通过校验）"
        super().__init__("life_change_refused", message, {"refusals": [r.as_dict() for r in refusals]})


@dataclass(frozen=True)
class DisplayLine:
    label_zh: str
    before: str
    after: str


@dataclass(frozen=True)
class Movement:
    """One line for the ledger. Movements split the money between customer and insurer by account:
    sum(disburse) − sum(collect) == amount_to_receive − amount_to_pay of the quote."""

    kind: str
    amount: Decimal
    direction: Direction
    description_zh: str

    def __post_init__(self) -> None:
        _money(self, "amount")
        _one_of(self, "direction", DIRECTIONS)
        if self.kind not in MOVEMENT_KINDS:
            raise ValueError(f"unknown movement kind {self.kind!r}")

    @property
    def signed(self) -> Decimal:
        """Positive when paid to the customer."""
        return self.amount if self.direction == "disburse" else -self.amount


@dataclass(frozen=True)
class ChangeQuote:
    """A change fully worked out. Deterministic: applying it stores new_state and posts movements."""

    item: str
    item_name_zh: str
    policy_number: str
    quoted_on: date
    effective_date: date  # when the change takes effect (a frequency change: the next due date)
    display: tuple[DisplayLine, ...]
    amount_to_pay: Decimal
    amount_to_receive: Decimal
    new_state: PolicyState
    movements: tuple[Movement, ...]
    endorsement_lines: tuple[str, ...]
    manual_review: bool = False
    manual_review_reason_zh: str | None = None
    versions: tuple[str, ...] = ()  # the catalogue versions and rates the figures came from

    def __post_init__(self) -> None:
        _money(self, "amount_to_pay", "amount_to_receive")
        if self.amount_to_pay and self.amount_to_receive:
            raise ValueError("ChangeQuote: either pay or receive, not both")
        net = sum((m.signed for m in self.movements), ZERO)
        if net != self.amount_to_receive - self.amount_to_pay:
            raise ValueError(f"ChangeQuote {self.item}: movements net {net} differ from the amounts")
        if self.manual_review and not self.manual_review_reason_zh:
            raise ValueError("ChangeQuote: a manual review needs its reason")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, for the API and the change record (new_state as PolicyState.to_json writes it)."""
        from .serialize import encode

        data: dict[str, Any] = encode(self)
        data["new_state"] = self.new_state.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeQuote:
        """The quote `to_json` wrote (what a core system answers, docs/core-system-contract.md); strict:
        ValueError on unknown or missing keys, wrong types, amounts that are not in fen."""
        from .serialize import decode_quote

        return decode_quote(data)

"""Life-policy servicing rules (保全): pure functions over PolicyState and a LifeCatalogue.

values_on(state, on, catalogue) -> PolicyValues
eligibility(item, state, *, on, catalogue, applicant=None) -> tuple[Refusal, ...]
quote(item, state, params, *, on, catalogue, applicant=None) -> ChangeQuote   (raises ChangeRefused)
available_items(state, *, on, catalogue, applicant=None) -> tuple[ItemAvailability, ...]
roll_forward(state, up_to, catalogue) -> RollForward   (anniversaries: dividends, survival benefits)
"""

from .anniversary import BenefitEvent, RollForward, roll_forward
from .catalogue import LifeCatalogue
from .contract import (
    Accumulation,
    ChangeQuote,
    ChangeRefused,
    ContactAddress,
    DisplayLine,
    Insured,
    Loan,
    Movement,
    Party,
    PaymentAccount,
    PendingChange,
    PolicyState,
    Refusal,
    UniversalAccount,
)
from .engine import ITEM_NAMES, ITEMS, ItemAvailability, ItemInfo, available_items, eligibility, quote
from .issue import IssueRequest, issue_policy
from .status import StatusView, effective_status
from .values import PolicyValues, values_on

__all__ = [
    "ITEMS",
    "ITEM_NAMES",
    "Accumulation",
    "BenefitEvent",
    "ChangeQuote",
    "ChangeRefused",
    "ContactAddress",
    "DisplayLine",
    "Insured",
    "IssueRequest",
    "ItemAvailability",
    "ItemInfo",
    "LifeCatalogue",
    "Loan",
    "Movement",
    "Party",
    "PaymentAccount",
    "PendingChange",
    "PolicyState",
    "PolicyValues",
    "Refusal",
    "RollForward",
    "StatusView",
    "UniversalAccount",
    "available_items",
    "effective_status",
    "eligibility",
    "issue_policy",
    "quote",
    "roll_forward",
    "values_on",
]

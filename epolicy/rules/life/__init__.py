"""Life-policy servicing rules (保全): pure functions over PolicyState and a LifeCatalogue.

values_on(state, on, catalogue) -> PolicyValues
eligibility(item, state, *, on, catalogue, applicant=None) -> tuple[Refusal, ...]
quote(item, state, params, *, on, catalogue, applicant=None) -> ChangeQuote   (raises ChangeRefused)
available_items(state, *, on, catalogue, applicant=None) -> tuple[ItemAvailability, ...]
roll_forward(state, up_to, catalogue) -> RollForward   (anniversaries: dividends, survival benefits)

The names below are loaded from their submodules on first use (PEP 562): importing one submodule alone
(`vocab`, which servicing's models import at every start-up) does not load the whole engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

# Each public name and the submodule that defines it.
_SUBMODULES = {
    "Accumulation": "contract",
    "BenefitEvent": "anniversary",
    "ChangeQuote": "contract",
    "ChangeRefused": "contract",
    "ContactAddress": "contract",
    "DisplayLine": "contract",
    "ITEMS": "engine",
    "ITEM_NAMES": "engine",
    "Insured": "contract",
    "IssueRequest": "issue",
    "ItemAvailability": "engine",
    "ItemInfo": "engine",
    "LifeCatalogue": "catalogue",
    "Loan": "contract",
    "Movement": "contract",
    "Party": "contract",
    "PaymentAccount": "contract",
    "PendingChange": "contract",
    "PolicyState": "contract",
    "PolicyValues": "values",
    "Refusal": "contract",
    "RollForward": "anniversary",
    "StatusView": "status",
    "UniversalAccount": "contract",
    "available_items": "engine",
    "effective_status": "status",
    "eligibility": "engine",
    "issue_policy": "issue",
    "quote": "engine",
    "roll_forward": "anniversary",
    "values_on": "values",
}

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


def __getattr__(name: str) -> object:
    module = _SUBMODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""Closed vocabularies of the life engine (stable strings stored in policy JSON) and their Chinese names."""

from __future__ import annotations

from typing import Literal, get_args

ProductKind = Literal["endowment", "whole_life_participating", "universal"]
PRODUCT_KINDS: tuple[ProductKind, ...] = get_args(ProductKind)
PRODUCT_KIND_NAMES: dict[ProductKind, str] = {
    "endowment": "两全保险",
    "whole_life_participating": "终身寿险（分红型）",
    "universal": "万能型终身寿险",
}

PolicyStatus = Literal["in_force", "lapsed", "surrendered", "terminated_cooling_off", "terminated", "matured"]
POLICY_STATUSES: tuple[PolicyStatus, ...] = get_args(PolicyStatus)
STATUS_NAMES: dict[PolicyStatus, str] = {
    "in_force": "有效",
    "lapsed": "效力中止",
    "surrendered": "已退保",
    "terminated_cooling_off": "犹豫期退保终止",
    "terminated": "已终止",
    "matured": "满期终止",
}
TERMINAL_STATUSES: frozenset[PolicyStatus] = frozenset(
    {"surrendered", "terminated_cooling_off", "terminated", "matured"}
)

Frequency = Literal["annual", "semiannual", "quarterly", "monthly", "single"]
FREQUENCIES: tuple[Frequency, ...] = get_args(Frequency)
FREQUENCY_NAMES: dict[Frequency, str] = {
    "annual": "年交",
    "semiannual": "半年交",
    "quarterly": "季交",
    "monthly": "月交",
    "single": "趸交",
}
# Months between two due dates; a single premium has no later due date.
FREQUENCY_MONTHS: dict[Frequency, int] = {"annual": 12, "semiannual": 6, "quarterly": 3, "monthly": 1}

DividendOption = Literal["cash", "accumulate", "offset_premium", "paid_up_additions"]
DIVIDEND_OPTIONS: tuple[DividendOption, ...] = get_args(DividendOption)
DIVIDEND_OPTION_NAMES: dict[DividendOption, str] = {
    "cash": "现金领取",
    "accumulate": "累积生息",
    "offset_premium": "抵交保费",
    "paid_up_additions": "购买交清增额保险",
}

SurvivalOption = Literal["accumulate", "auto_transfer", "offset_premium"]
SURVIVAL_OPTIONS: tuple[SurvivalOption, ...] = get_args(SurvivalOption)
SURVIVAL_OPTION_NAMES: dict[SurvivalOption, str] = {
    "accumulate": "累积生息",
    "auto_transfer": "自动转账至授权账户",
    "offset_premium": "抵交保费",
}

Sex = Literal["M", "F"]
SEXES: tuple[Sex, ...] = get_args(Sex)

Direction = Literal["collect", "disburse"]
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)

# Ledger kinds of a Movement (stable: the ledger maps each to an account).
MOVEMENT_KINDS: dict[str, str] = {
    "premium_refund": "退还保险费",
    "cooling_off_fee": "犹豫期退保工本费",
    "cash_value": "现金价值",
    "paid_up_additions_value": "交清增额保险现金价值",
    "account_value": "万能账户价值",
    "surrender_charge": "退保费用",
    "dividend": "红利",
    "survival_benefit": "生存保险金",
    "maturity_benefit": "满期保险金",
    "premium_deposit": "预交保险费余额",
    "loan_principal": "借款本金",
    "loan_interest": "借款利息",
    "policy_loan": "保单借款",
    "additional_premium": "追加保险费",
    "initial_charge": "初始费用",
    "partial_withdrawal": "部分领取",
    "withdrawal_fee": "部分领取手续费",
    "overdue_premium": "欠交保险费",
    "reinstatement_interest": "复效利息",
}

"""The 16 change items of the life guide (§5), in the guide's order, and the params each one takes."""

from __future__ import annotations

from dataclasses import dataclass

from .base import ItemRule
from .contact import ADDRESS_CHANGE, POSTCODE_CHANGE
from .loans import LOAN_REPAYMENT, POLICY_LOAN
from .options import DIVIDEND_OPTION_CHANGE, SURVIVAL_BENEFIT_AUTHORIZATION
from .payment import PAYMENT_ACCOUNT_CHANGE, PAYMENT_FREQUENCY_CHANGE
from .reduce import REDUCE_SUM_ASSURED
from .reinstatement import REINSTATEMENT
from .surrender import COOLING_OFF_SURRENDER, SURRENDER
from .universal import ADDITIONAL_PREMIUM, PARTIAL_WITHDRAWAL
from .withdrawals import DIVIDEND_WITHDRAWAL, SURVIVAL_BENEFIT_WITHDRAWAL

RULES: tuple[ItemRule, ...] = (
    ADDRESS_CHANGE,
    POSTCODE_CHANGE,
    PAYMENT_FREQUENCY_CHANGE,
    PAYMENT_ACCOUNT_CHANGE,
    DIVIDEND_OPTION_CHANGE,
    SURVIVAL_BENEFIT_AUTHORIZATION,
    COOLING_OFF_SURRENDER,
    SURRENDER,
    REDUCE_SUM_ASSURED,
    ADDITIONAL_PREMIUM,
    PARTIAL_WITHDRAWAL,
    REINSTATEMENT,
    POLICY_LOAN,
    LOAN_REPAYMENT,
    DIVIDEND_WITHDRAWAL,
    SURVIVAL_BENEFIT_WITHDRAWAL,
)
RULES_BY_CODE: dict[str, ItemRule] = {rule.code: rule for rule in RULES}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of an item: name, kind (text/amount/integer/choice/answers), required, label."""

    name: str
    kind: str
    required: bool
    label_zh: str


_ACCOUNT = (
    ParamSpec("holder_name", "text", True, "账户户名"),
    ParamSpec("bank_name", "text", True, "开户银行"),
    ParamSpec("card_number", "text", True, "银行卡号（校验 Luhn，只用于校验与掩码，不保存）"),
    ParamSpec("account_token", "text", True, "加密保存的卡号凭据（由调用方生成）"),
)

PARAMS: dict[str, tuple[ParamSpec, ...]] = {
    "address_change": (
        ParamSpec("address", "text", True, "联系地址"),
        ParamSpec("postcode", "text", False, "邮政编码（同时变更时填写）"),
    ),
    "postcode_change": (ParamSpec("postcode", "text", True, "邮政编码"),),
    "payment_frequency_change": (
        ParamSpec("frequency", "choice", True, "交费方式：annual/semiannual/quarterly/monthly"),
    ),
    "payment_account_change": _ACCOUNT,
    "dividend_option_change": (
        ParamSpec("option", "choice", True, "红利领取方式：cash/accumulate/offset_premium/paid_up_additions"),
    ),
    "survival_benefit_authorization": (
        ParamSpec("option", "choice", True, "生存金领取方式：accumulate/auto_transfer/offset_premium"),
        *(ParamSpec(p.name, p.kind, False, p.label_zh + "（auto_transfer 时必填）") for p in _ACCOUNT),
    ),
    "cooling_off_surrender": (),
    "surrender": (),
    "reduce_sum_assured": (ParamSpec("new_sum_assured", "amount", True, "新的基本保额"),),
    "additional_premium": (ParamSpec("amount", "amount", True, "追加保险费"),),
    "partial_withdrawal": (ParamSpec("amount", "amount", True, "领取金额（手续费从中扣除）"),),
    "reinstatement": (ParamSpec("health_declaration", "answers", True, "健康告知：{问题代码: 是否}"),),
    "policy_loan": (
        ParamSpec("amount", "amount", True, "借款金额"),
        ParamSpec("term_days", "integer", False, "借款期限（天），默认产品最长期限"),
    ),
    "loan_repayment": (
        ParamSpec("amount", "amount", False, "还款金额，默认全部本息"),
        ParamSpec("loan_id", "text", False, "借款编号，默认从最早一笔起还"),
    ),
    "dividend_withdrawal": (ParamSpec("amount", "amount", False, "领取金额，默认全部"),),
    "survival_benefit_withdrawal": (ParamSpec("amount", "amount", False, "领取金额，默认全部"),),
}

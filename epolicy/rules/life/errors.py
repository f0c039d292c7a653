"""Error and refusal codes of the life engine: code -> (HTTP status, default Chinese message).

Registered into epolicy.common.errors.CODES when this module is imported (and listed in
docs/errors.md). Every `Refusal.code` the engine returns is either here or already in CODES
(validation_error, invalid_postcode, invalid_bank_card), so the API can raise any single refusal as an
ApplicationError. A refusal's own message is specific
(amounts, dates, what to do); the default message here is the generic fallback.
"""

from __future__ import annotations

LIFE_CODES: dict[str, tuple[int, str]] = {
    # raised
    "life_change_refused": (422, "保全申请未通过校验，请按提示处理后重新申请。"),
    "life_product_unknown": (422, "保单的产品不在产品目录中，请联系保险公司。"),
    "life_terms_missing": (422, "没有适用于该保单的产品条款，请联系保险公司。"),
    "life_rate_missing": (422, "没有适用的利率，请联系保险公司。"),
    "life_value_unavailable": (422, "暂时无法计算保单价值，请联系保险公司。"),
    "life_dividend_not_declared": (422, "该年度红利尚未公布，请公布后再处理。"),
    # refusals: the policy and the request
    "item_unknown": (422, "不支持该保全项目，请选择其他项目。"),
    "item_not_offered": (422, "该保单的产品不提供此保全项目。"),
    "not_policy_applicant": (403, "只有投保人本人可以办理此项目。"),
    "not_survival_beneficiary": (403, "只有生存保险金受益人本人可以办理此项目。"),
    "change_pending": (409, "该保单有尚未办结的保全申请，请待其办结后再申请。"),
    "anniversary_pending": (409, "保单周年日的红利、生存金尚未处理完毕，请稍后再试。"),
    "date_before_last_change": (409, "申请日期早于保单最近一次变动，请以当前日期重新申请。"),
    "policy_not_yet_effective": (409, "保单尚未生效，生效后才能办理。"),
    "policy_terminated": (409, "保单已终止，不能办理此项目。"),
    "policy_lapsed": (409, "保单效力已中止，请先办理保单复效。"),
    "policy_not_lapsed": (409, "保单效力正常，无需办理复效。"),
    "in_cooling_off": (409, "保单尚在犹豫期内，不能办理此项目；如需解除合同，请申请犹豫期退保。"),
    "cooling_off_expired": (409, "犹豫期已过，不能办理犹豫期退保；如需解除合同，请申请退保。"),
    "premium_overdue": (409, "保单有逾期未交的保险费，请先交清后再办理。"),
    "premiums_fully_paid": (409, "保单保险费已全部交清，无需办理此项目。"),
    "outstanding_loan": (409, "保单有未还清的借款，请先还清后再办理。"),
    "debt_exceeds_value": (409, "保单借款本息已达到现金价值，请先偿还部分借款。"),
    # refusals: the change asked for
    "address_unchanged": (422, "新地址与原地址相同，无需变更。"),
    "postcode_unchanged": (422, "新邮编与原邮编相同，无需变更。"),
    "frequency_unchanged": (422, "新交费方式与原交费方式相同，无需变更。"),
    "frequency_not_offered": (422, "该产品不提供所选交费方式，请选择其他交费方式。"),
    "frequency_misaligned": (409, "下一期交费日不是新交费方式的交费日，请在提示的日期后申请。"),
    "account_holder_not_applicant": (422, "交费账户须为投保人本人名下的账户，请更换账户。"),
    "account_holder_not_beneficiary": (422, "领取账户须为生存保险金受益人本人名下的账户，请更换账户。"),
    "option_unchanged": (422, "新的领取方式与原方式相同，无需变更。"),
    "option_not_offered": (422, "该产品不提供所选领取方式，请选择其他方式。"),
    "sum_assured_not_reduced": (422, "新的基本保额须低于现有基本保额。"),
    "sum_assured_below_minimum": (422, "减少后的基本保额低于产品最低保额，请提高新保额。"),
    "sum_assured_not_multiple": (422, "基本保额须为产品规定单位的整数倍。"),
    "debt_exceeds_reduced_value": (409, "减少保额后借款本息将超过可借额度，请先偿还部分借款。"),
    "additional_premium_below_minimum": (422, "追加保险费低于最低金额，请提高追加金额。"),
    "additional_premium_above_maximum": (422, "追加保险费超过单次最高金额，请降低追加金额。"),
    "withdrawal_below_minimum": (422, "部分领取金额低于最低领取金额，请提高领取金额。"),
    "withdrawal_exceeds_available": (422, "领取后账户价值将低于最低保留金额，请降低领取金额。"),
    "reinstatement_window_expired": (409, "保单效力中止已超过复效期限，不能复效；可申请退保领取现金价值。"),
    "health_declaration_incomplete": (422, "请逐项回答全部健康告知问题。"),
    "loan_not_available": (409, "当前可借金额低于最低借款金额，暂不能借款。"),
    "loan_below_minimum": (422, "借款金额低于最低借款金额，请提高借款金额。"),
    "loan_exceeds_limit": (422, "借款金额超过可借额度，请降低借款金额。"),
    "loan_term_invalid": (422, "借款期限不正确，请在允许的期限内选择。"),
    "no_outstanding_loan": (409, "保单没有未还的借款。"),
    "loan_not_found": (422, "没有找到该笔借款，请核对借款编号。"),
    "repayment_exceeds_debt": (422, "还款金额超过借款本息合计，请按应还金额还款。"),
    "nothing_to_withdraw": (409, "目前没有可领取的金额。"),
    "amount_exceeds_balance": (422, "领取金额超过可领取余额，请降低领取金额。"),
}


def _register() -> None:
    from epolicy.common.errors import register_codes

    register_codes(LIFE_CODES)


_register()

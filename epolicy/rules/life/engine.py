"""The life servicing engine: which items a policy may have, why not, and each change worked out.

Style of refusals (decided): `eligibility` returns every reason as data (a tuple of Refusal, empty when
eligible); `quote` runs the same checks plus the params' and raises a single `ChangeRefused` carrying
all of them (an ApplicationError, code life_change_refused, details["refusals"]). Nothing else is
raised for a customer's reason; ApplicationError with a life_* code means the catalogue lacks data.

The engine is pure and deterministic: same state, params, date and catalogue give the same quote, so
applying a change is storing `quote.new_state` as the next version and posting `quote.movements`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from epolicy.common.money import to_fen

from .anniversary import has_anniversary_events, pending_anniversaries
from .catalogue import LifeCatalogue
from .contract import ChangeQuote, ChangeRefused, Party, PolicyState, Refusal
from .dates import zh_date
from .items import PARAMS, RULES, RULES_BY_CODE, ParamSpec
from .items.base import Context, ItemRule, refuse
from .vocab import STATUS_NAMES, TERMINAL_STATUSES


@dataclass(frozen=True)
class ItemInfo:
    code: str
    name_zh: str
    params: tuple[ParamSpec, ...]


ITEMS: tuple[ItemInfo, ...] = tuple(ItemInfo(r.code, r.name_zh, PARAMS[r.code]) for r in RULES)
ITEM_NAMES: dict[str, str] = {info.code: info.name_zh for info in ITEMS}


@dataclass(frozen=True)
class ItemAvailability:
    code: str
    name_zh: str
    refusals: tuple[Refusal, ...]

    @property
    def available(self) -> bool:
        return not self.refusals


def _last_change(state: PolicyState) -> date:
    """The latest date a balance of the state was struck on: quotes cannot go back before it."""
    dates = [state.effective_date, state.anniversaries_processed_to]
    dates += [d for d in (state.dividends.as_of, state.survival_benefits.as_of) if d is not None]
    if state.universal is not None:
        dates.append(state.universal.as_of)
    dates += [loan.accrues_from for loan in state.loans]
    return max(dates)


def _requester(rule: ItemRule, ctx: Context) -> list[Refusal]:
    if ctx.applicant is None:
        return []
    state = ctx.state
    if rule.requester == "survival_beneficiary":
        payee = state.survival_beneficiary or state.insured
        if ctx.applicant.party_id != payee.party_id:
            return [refuse("not_survival_beneficiary", "只有生存保险金受益人本人可以办理此项目。")]
        return []
    if ctx.applicant.party_id != state.applicant.party_id:
        return [refuse("not_policy_applicant", "只有投保人本人可以办理此项目，请由投保人登录后申请。")]
    return []


def _status(rule: ItemRule, ctx: Context) -> list[Refusal]:
    view = ctx.status
    if view.status in rule.statuses:
        return []
    if view.status in TERMINAL_STATUSES:
        return [
            refuse(
                "policy_terminated",
                f"保单已终止（{STATUS_NAMES[view.status]}），不能办理{rule.name_zh}。",
                status=view.status,
            )
        ]
    if view.status == "lapsed":
        if view.lapse_reason == "debt":
            message = "保单借款本息已达到现金价值，保单效力中止；请先偿还借款或办理保单复效。"
        else:
            since = f"自{zh_date(view.lapse_date)}起" if view.lapse_date else ""
            message = f"保单{since}效力中止，请先办理保单复效后再申请{rule.name_zh}。"
        return [refuse("policy_lapsed", message, lapse_date=view.lapse_date, reason=view.lapse_reason)]
    return [refuse("policy_not_lapsed", "保单效力正常，无需办理复效。")]


def _check(rule: ItemRule, ctx: Context) -> list[Refusal]:
    state = ctx.state
    if ctx.on < state.effective_date:
        return [
            refuse(
                "policy_not_yet_effective",
                f"保单自{zh_date(state.effective_date)}起生效，生效后才能办理。",
                effective_date=state.effective_date,
            )
        ]
    if rule.code not in ctx.terms.items:
        return [refuse("item_not_offered", f"该保单的产品（{ctx.product.name_zh}）不提供{rule.name_zh}。")]
    last = _last_change(state)
    if ctx.on < last:
        return [
            refuse(
                "date_before_last_change",
                f"保单在{zh_date(last)}有过变动，申请日期不能早于该日，请以当前日期重新申请。",
                last_change=last,
            )
        ]
    refusals = _requester(rule, ctx)
    if state.pending_change is not None:
        pending = ITEM_NAMES.get(state.pending_change.item, state.pending_change.item)
        refusals.append(
            refuse(
                "change_pending",
                f"该保单有一笔{pending}申请尚未办结，请待其办结后再申请。",
                pending_item=state.pending_change.item,
                reference=state.pending_change.reference,
            )
        )
    if state.status not in TERMINAL_STATUSES and has_anniversary_events(ctx.product, ctx.terms):
        pending_days = pending_anniversaries(state, ctx.on, ctx.terms)
        if pending_days:
            refusals.append(
                refuse(
                    "anniversary_pending",
                    f"保单{zh_date(pending_days[0])}周年日的红利、生存金尚未处理完毕，请稍后再试。",
                    anniversary=pending_days[0],
                )
            )
    status = _status(rule, ctx)
    refusals += status
    if status and status[0].code == "policy_terminated":
        return refusals
    return refusals + rule.check(ctx)


def _rule(item: str) -> ItemRule | Refusal:
    rule = RULES_BY_CODE.get(item)
    if rule is None:
        return refuse("item_unknown", f"不支持保全项目“{item}”，请从可办理的项目中选择。", item=item)
    return rule


def eligibility(
    item: str,
    state: PolicyState,
    *,
    on: date,
    catalogue: LifeCatalogue,
    applicant: Party | None = None,
) -> tuple[Refusal, ...]:
    """Every reason the item cannot be done for this policy on this day (life guide §6.6); () if it can."""
    rule = _rule(item)
    if isinstance(rule, Refusal):
        return (rule,)
    return tuple(_check(rule, Context(state, on, catalogue, applicant)))


def quote(
    item: str,
    state: PolicyState,
    params: Mapping[str, Any],
    *,
    on: date,
    catalogue: LifeCatalogue,
    applicant: Party | None = None,
) -> ChangeQuote:
    """The change worked out (before/after, money, new state, ledger, endorsement); ChangeRefused if not."""
    rule = _rule(item)
    if isinstance(rule, Refusal):
        raise ChangeRefused((rule,))
    ctx = Context(state, on, catalogue, applicant)
    refusals = _check(rule, ctx)
    if refusals:
        raise ChangeRefused(tuple(refusals))
    outcome = rule.build(ctx, params)
    if isinstance(outcome, tuple):
        raise ChangeRefused(outcome)
    return ChangeQuote(
        item=rule.code,
        item_name_zh=rule.name_zh,
        policy_number=state.policy_number,
        quoted_on=on,
        effective_date=outcome.effective_date,
        display=outcome.display,
        # Money leaves the engine with its two decimals ("10.00", never "10"), whatever the data said.
        amount_to_pay=to_fen(outcome.amount_to_pay),
        amount_to_receive=to_fen(outcome.amount_to_receive),
        new_state=outcome.new_state,
        movements=outcome.movements,
        endorsement_lines=outcome.endorsement_lines,
        manual_review=outcome.manual_review_reason_zh is not None,
        manual_review_reason_zh=outcome.manual_review_reason_zh,
        versions=(ctx.terms.version.label, *outcome.versions),
    )


def available_items(
    state: PolicyState, *, on: date, catalogue: LifeCatalogue, applicant: Party | None = None
) -> tuple[ItemAvailability, ...]:
    """Every item of the guide with the reasons it is not available (none when it is)."""
    return tuple(
        ItemAvailability(
            info.code,
            info.name_zh,
            eligibility(info.code, state, on=on, catalogue=catalogue, applicant=applicant),
        )
        for info in ITEMS
    )

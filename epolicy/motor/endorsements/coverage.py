"""Adding or taking off 商业险 coverages and riders mid-term: the coverages asked for are requoted with the
policy's own rating facts (its NCD level and coefficients, the rate tables of its start date), and the
difference of the annual premiums is charged or refunded for the days left (按日计算)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from epolicy.common.errors import ApplicationError
from epolicy.common.money import to_fen
from epolicy.rules.motor.endorsement import Term

from .. import display
from ..inputs import CoverageChoice, VehicleInput
from ..models import Application
from ..quote import MotorQuote, commercial_requote, coverage_request_json, coverage_request_of
from ..schemas import CoverageIn

MAX_ITEMS = 30


def current_requests(view: Application) -> list[CoverageChoice]:
    """The coverages the policy has now, as asked for (stored with the quote; older applications: read
    back from the quote's lines, own damage without an amount as it is computed)."""
    commercial = view.quote.get("commercial") or {}
    if "requests" in commercial:
        return [coverage_request_of(r) for r in commercial["requests"]]
    return [
        CoverageChoice(
            code=line["code"],
            parent=line.get("parent"),
            amount=None
            if line["code"] == "damage" or line.get("amount") is None
            else Decimal(line["amount"]),
            seats=line.get("seats"),
            rate=Decimal(line["deductible_rate"]) if line.get("deductible_rate") else None,
        )
        for line in commercial.get("lines", [])
    ]


def _request(raw: Any, index: int) -> CoverageChoice:
    """One coverage to add, checked as the API checks a coverage of a new application (CoverageIn)."""
    where = f"changes.add[{index}]"
    try:
        return CoverageIn.model_validate(raw).to_input()
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise ApplicationError(
            "validation_error",
            f"新增险别第 {index + 1} 项的 {field or '内容'} 填写有误，请按险别要求填写。",
            {"field": f"{where}.{field}" if field else where},
        ) from None


def _key(c: CoverageChoice) -> tuple[str, str | None]:
    return (c.code, c.parent)


def check_coverage(raw: dict[str, Any], view: Application) -> tuple[dict[str, Any], dict[str, Any]]:
    unknown = sorted(set(raw) - {"add", "remove"})
    if unknown:
        raise ApplicationError(
            "validation_error", f"不认识的变更项：{unknown[0]}。", {"field": f"changes.{unknown[0]}"}
        )
    if view.trip_days:
        raise ApplicationError("endorsement_not_allowed", "单程提车保险不能在保险期间内增减险别。")
    add_raw, remove = raw.get("add") or [], raw.get("remove") or []
    if (
        not isinstance(add_raw, list)
        or not isinstance(remove, list)
        or len(add_raw) + len(remove) > MAX_ITEMS
    ):
        raise ApplicationError(
            "validation_error", f"add 与 remove 应为列表，合计不超过 {MAX_ITEMS} 项。", {"field": "changes"}
        )
    current = current_requests(view)
    have = {c.code for c in current}
    for i, code in enumerate(remove):
        if code not in have:
            raise ApplicationError(
                "validation_error", f"保单没有险别 {code}，无法减少。", {"field": f"changes.remove[{i}]"}
            )
    added = [_request(r, i) for i, r in enumerate(add_raw)]
    for i, c in enumerate(added):
        if _key(c) in {_key(x) for x in current}:
            raise ApplicationError(
                "validation_error", f"保单已有险别 {c.code}。", {"field": f"changes.add[{i}].code"}
            )
    # Taking off a main coverage takes off the riders attached to it.
    removed = set(remove)
    kept = [c for c in current if c.code not in removed and c.parent not in removed]
    requests = kept + added
    if not requests:
        raise ApplicationError("endorsement_not_allowed", "不能减少全部险别；如不再需要保险，请办理退保。")
    if not added and not remove:
        raise ApplicationError("endorsement_no_change", "请至少增加或减少一个险别。")
    quote = _requote(view, tuple(requests))
    stored = dict(view.quote.get("commercial") or {})
    mq = MotorQuote(
        products=("commercial",),
        ctpl=None,
        tax=None,
        commercial=quote,
        claim_history=None,
        period_start=view.period_start,
        period_end=view.period_end,
        commercial_requests=tuple(requests),
    )
    commercial = mq.commercial_json() or {}
    commercial["claim_history_reference"] = stored.get("claim_history_reference", "")
    before_annual = display.product_premium(view, "commercial")
    return (
        {
            "add": [coverage_request_json(c) for c in added],
            "remove": sorted(removed),
            "commercial": commercial,
            "annual_before": str(before_annual),
            "annual_after": str(quote.total),
        },
        {
            "lines": [
                {"code": line["code"], "name": line["name"], "premium": line["premium"]}
                for line in stored.get("lines", [])
            ]
        },
    )


def _requote(view: Application, requests: tuple[CoverageChoice, ...]) -> Any:
    stored = view.quote.get("commercial") or {}
    vehicle = VehicleInput(
        plate=view.plate,
        vin=view.vin,
        engine_number=view.engine_number,
        brand_model=view.brand_model,
        seats=view.seats,
        displacement_l=view.displacement_l,
        registered_on=view.registered_on,
        use_category=view.use_category,
        energy_type=view.energy_type,
        tonnage=view.tonnage,
        curb_weight_t=view.curb_weight_t,
        displacement_cc=view.displacement_cc,
        is_trailer=view.is_trailer,
        new_car_price=view.new_car_price,
        unregistered=view.unregistered,
        battery_capacity_kwh=view.battery_capacity_kwh,
        charger_address=view.charger_address,
    )
    traffic = stored.get("traffic_coefficient")
    return commercial_requote(
        vehicle=vehicle,
        region_code=view.region_code,
        period_start=view.period_start,
        coverages=requests,
        ncd_level=int(stored["ncd_level"]),
        pricing_coefficient=Decimal(stored["pricing_coefficient"]),
        traffic_coefficient=Decimal(traffic) if traffic is not None else None,
    )


def premium_difference(changes: dict[str, Any], term: Term, effective_on: dt.date) -> tuple[Decimal, str]:
    """(signed amount for the days left, basis): positive is paid by the applicant, negative refunded."""
    before, after = Decimal(changes["annual_before"]), Decimal(changes["annual_after"])
    left = term.days - term.days_used(effective_on)
    amount = to_fen((after - before) * left / term.days)
    basis = (
        f"按日计算：年保险费由 {before} 变为 {after}，差额 {after - before} × 剩余 {left} 天 / 保险期间 "
        f"{term.days} 天 = {amount}"
    )
    return amount, basis


def coverage_options(view: Application) -> dict[str, Any]:
    """For the change page: the coverages the policy has, and those of its clause set it could add."""
    from epolicy.products.commercial_tables import load_commercial_tables

    commercial = view.quote.get("commercial") or {}
    clause_set = commercial.get("clause_set", "iac2020")
    catalogue = load_commercial_tables(view.period_start).catalogue
    have = {line["code"] for line in commercial.get("lines", [])}
    addable = []
    for code, main in catalogue.coverages.items():
        if clause_set in main.clause_sets and code not in have:
            addable.append({"code": code, "name": main.names[clause_set], "parents": []})
    for code, rider in catalogue.riders.items():
        if clause_set in rider.clause_sets and (code not in have or rider.per_parent):
            parents = [p for p in rider.attaches_to if p in have]
            if parents or not rider.attaches_to:
                addable.append({"code": code, "name": rider.names[clause_set], "parents": parents})
    return {
        "lines": [
            {"code": line["code"], "name": line["name"], "premium": line["premium"], "rider": line["rider"]}
            for line in commercial.get("lines", [])
        ],
        "addable": addable,
    }


def coverage_rows(changes: dict[str, Any], before: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """(险别, 变更前, 变更后) of a coverage change, with each line's annual premium."""
    old = {line["code"]: line for line in before.get("lines", []) if isinstance(line, dict)}
    new = {line["code"]: line for line in changes["commercial"].get("lines", [])}
    rows = [
        (line["name"], f"已投保（年保费 {line['premium']} 元）", "减少")
        for code, line in old.items()
        if code not in new
    ]
    rows += [
        (line["name"], "未投保", f"增加（年保费 {line['premium']} 元）")
        for code, line in new.items()
        if code not in old
    ]
    rows.append(("商业险年保险费合计", f"{changes['annual_before']} 元", f"{changes['annual_after']} 元"))
    return tuple(rows)

"""What each kind of endorsement takes, checked: every bad field is refused with its code and the field
(`changes.<name>`), and nothing is written. Returns the new values and the values they replace."""

from __future__ import annotations

from typing import Any

from epolicy.common import identifiers
from epolicy.common.email_address import validate_email
from epolicy.common.errors import ApplicationError
from epolicy.common.masking import mask_name, mask_phone
from epolicy.products.motor_endorsements import endorsement_catalogue
from epolicy.products.motor_products import motor_catalogue

from ..models import Application

MAX_TEXT = 200


def _text(changes: dict[str, Any], name: str, *, limit: int = MAX_TEXT) -> str:
    value = changes.get(name)
    if not isinstance(value, str):
        raise ApplicationError("validation_error", "请填写该项。", {"field": f"changes.{name}"})
    value = value.strip()
    if not value or len(value) > limit or any(ord(c) < 32 for c in value):
        raise ApplicationError(
            "validation_error",
            f"内容不能为空、不超过 {limit} 个字、不含控制字符。",
            {"field": f"changes.{name}"},
        )
    return value


def _only(changes: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ApplicationError(
            "validation_error",
            f"不认识的变更项：{'、'.join(unknown)}；可填：{'、'.join(sorted(allowed))}。",
            {"field": f"changes.{unknown[0]}"},
        )


def check_changes(
    kind: str, raw: dict[str, Any], view: Application, product: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(changes, before) for `kind` on the policy whose current state is `view`."""
    if not isinstance(raw, dict):
        raise ApplicationError("validation_error", "变更内容应为对象。", {"field": "changes"})
    if kind == "contact":
        return _contact(raw, view)
    if kind == "plate":
        return _plate(raw, view)
    if kind == "vehicle":
        return _vehicle(raw, view)
    if kind == "transfer":
        return _transfer(raw, view)
    if kind == "cancel":
        return _cancel(raw, product)
    if kind == "coverage":
        from .coverage import check_coverage

        return check_coverage(raw, view)
    raise ApplicationError("endorsement_kind_unknown")


def _contact(raw: dict[str, Any], view: Application) -> tuple[dict[str, Any], dict[str, Any]]:
    _only(raw, {"phone", "email", "address"})
    person = view.applicant
    changes: dict[str, Any] = {}
    if raw.get("phone"):
        changes["phone"] = identifiers.validate_phone(str(raw["phone"]), field="changes.phone")
    if raw.get("email"):
        changes["email"] = validate_email(str(raw["email"]), field="changes.email")
    if raw.get("address"):
        changes["address"] = _text(raw, "address")
    current = {"phone": person.phone, "email": person.email, "address": person.address}
    changes = {k: v for k, v in changes.items() if v != current[k]}
    if not changes:
        raise ApplicationError("endorsement_no_change", "请至少填写一项与现有信息不同的联系方式。")
    return changes, {k: current[k] for k in changes}


def _plate(raw: dict[str, Any], view: Application) -> tuple[dict[str, Any], dict[str, Any]]:
    _only(raw, {"plate"})
    if view.plate:
        raise ApplicationError(
            "endorsement_not_allowed",
            "该车辆已有号牌，补录号牌只适用于投保时尚未上牌的新车。",
            {"field": "changes.plate"},
        )
    info = identifiers.validate_plate(str(raw.get("plate") or ""), field="changes.plate")
    return {"plate": info.plate, "plate_kind": info.kind}, {"plate": "", "vin": view.vin}


def _vehicle(raw: dict[str, Any], view: Application) -> tuple[dict[str, Any], dict[str, Any]]:
    _only(raw, {"vin", "engine_number", "brand_model"})
    changes: dict[str, Any] = {}
    if raw.get("vin"):
        changes["vin"] = identifiers.validate_vin(str(raw["vin"]), field="changes.vin")
    if raw.get("engine_number"):
        engine = _text(raw, "engine_number", limit=30).upper()
        if not engine.isascii() or not engine.replace("-", "").isalnum():
            raise ApplicationError(
                "validation_error", "发动机号只能是字母、数字或连字符。", {"field": "changes.engine_number"}
            )
        changes["engine_number"] = engine
    if raw.get("brand_model"):
        changes["brand_model"] = _text(raw, "brand_model", limit=100)
    current = {"vin": view.vin, "engine_number": view.engine_number, "brand_model": view.brand_model}
    changes = {k: v for k, v in changes.items() if v != current[k]}
    if not changes:
        raise ApplicationError("endorsement_no_change", "请至少填写一项与现有信息不同的车辆信息。")
    return changes, {k: current[k] for k in changes}


def _transfer(raw: dict[str, Any], view: Application) -> tuple[dict[str, Any], dict[str, Any]]:
    _only(raw, {"new_owner"})
    owner = raw.get("new_owner")
    if not isinstance(owner, dict):
        raise ApplicationError("validation_error", "请填写新车主的信息。", {"field": "changes.new_owner"})
    unknown = sorted(set(owner) - {"name", "id_type", "id_number", "phone"})
    if unknown:
        raise ApplicationError(
            "validation_error", f"不认识的字段：{unknown[0]}。", {"field": f"changes.new_owner.{unknown[0]}"}
        )
    name = owner.get("name")
    if not isinstance(name, str) or not 2 <= len(name.strip()) <= 50:
        raise ApplicationError(
            "validation_error", "请填写新车主姓名（2–50 个字）。", {"field": "changes.new_owner.name"}
        )
    id_type = str(owner.get("id_type") or "resident_id")
    id_number = identifiers.validate_party_id(
        id_type, str(owner.get("id_number") or ""), field="changes.new_owner.id_number"
    )
    phone = identifiers.validate_phone(str(owner.get("phone") or ""), field="changes.new_owner.phone")
    if id_number.upper() == view.owner.id_number.upper():
        raise ApplicationError("endorsement_no_change", "新车主与现车主是同一人，无需过户。")
    new_owner = {"name": name.strip(), "id_type": id_type, "id_number": id_number, "phone": phone}
    before = {"owner": mask_name(view.owner.name), "insured": mask_name(view.insured.name)}
    return {"new_owner": new_owner, "new_owner_phone_masked": mask_phone(phone)}, before


def _cancel(raw: dict[str, Any], product: str) -> tuple[dict[str, Any], dict[str, Any]]:
    _only(raw, {"ground"})
    kind = motor_catalogue().product(product).kind
    grounds = endorsement_catalogue().cancellation[kind].grounds
    ground = raw.get("ground")
    if ground not in grounds:
        raise ApplicationError(
            "cancel_ground_invalid",
            "退保原因不在可退保的情形之内，可选："
            + "、".join(f"{k}（{v}）" for k, v in grounds.items())
            + (
                "。交强险只有车辆注销登记、办理停驶或经公安机关证实丢失时才能退保（条例 第十六条）。"
                if kind == "ctpl"
                else "。"
            ),
            {"field": "changes.ground", "allowed": list(grounds)},
        )
    return {"ground": ground, "ground_zh": grounds[ground]}, {}

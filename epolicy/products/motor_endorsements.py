"""The motor endorsement catalogue (data/motor_endorsements.yaml): which changes exist, the identity
checks each needs, and how a cancellation is settled. Checked strictly when loaded."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

import yaml

from .motor_products import _strict

AUTH_METHODS = ("sms", "realname")
MONEY = ("none", "refund", "by_day")
PRODUCTS = ("ctpl", "commercial")


@dataclass(frozen=True)
class EndorsementKind:
    code: str
    label_zh: str
    products: tuple[str, ...]
    auth: tuple[str, ...]
    money: str
    new_mark: bool
    consent: str  # "" or "new_owner"
    source: str
    confirmed: bool

    @property
    def needs_realname(self) -> bool:
        return "realname" in self.auth


@dataclass(frozen=True)
class CancellationRule:
    grounds: dict[str, str]
    method: str
    fee_rate_before_start: Decimal
    confirmed: bool


@dataclass(frozen=True)
class EndorsementCatalogue:
    kinds: dict[str, EndorsementKind]
    effective: str
    cancellation: dict[str, CancellationRule]  # by product code
    vehicle_tax_refund_grounds: tuple[str, ...]

    def kind(self, code: str) -> EndorsementKind:
        return self.kinds[code]


def _kind(code: str, raw: Any) -> EndorsementKind:
    where = f"motor_endorsements.kinds.{code}"
    k = _strict(
        raw,
        {"label", "products", "auth", "money", "new_mark", "consent", "source", "confirmed"},
        where,
    )
    auth = tuple(k["auth"])
    if not auth or auth[0] != "sms" or any(a not in AUTH_METHODS for a in auth):
        raise ValueError(f"{where}: auth must start with sms and use {AUTH_METHODS}")
    if k["money"] not in MONEY:
        raise ValueError(f"{where}: money must be one of {MONEY}")
    products = tuple(k["products"])
    if not products or any(p not in PRODUCTS for p in products):
        raise ValueError(f"{where}: products must be among {PRODUCTS}")
    consent = str(k.get("consent", ""))
    if consent not in ("", "new_owner"):
        raise ValueError(f"{where}: consent must be new_owner or absent")
    return EndorsementKind(
        code=code,
        label_zh=str(k["label"]),
        products=products,
        auth=auth,
        money=k["money"],
        new_mark=bool(k["new_mark"]),
        consent=consent,
        source=str(k["source"]),
        confirmed=bool(k.get("confirmed", False)),
    )


def parse_endorsements(raw: Mapping[str, Any]) -> EndorsementCatalogue:
    top = _strict(dict(raw), {"kinds", "cancellation"}, "motor_endorsements")
    kinds = {code: _kind(code, value) for code, value in top["kinds"].items()}
    c = _strict(
        top["cancellation"], {"effective", "ctpl", "commercial", "vehicle_tax_refund_grounds"}, "cancellation"
    )
    if c["effective"] != "next_day":
        raise ValueError("cancellation.effective: only next_day is known")
    rules = {}
    for product in PRODUCTS:
        r = _strict(
            c[product], {"grounds", "method", "fee_rate_before_start", "confirmed"}, f"cancellation.{product}"
        )
        fee = Decimal(str(r["fee_rate_before_start"]))
        if not Decimal("0") <= fee < Decimal("1"):
            raise ValueError(f"cancellation.{product}: fee rate outside 0..1")
        rules[product] = CancellationRule(
            grounds={str(k): str(v) for k, v in r["grounds"].items()},
            method=str(r["method"]),
            fee_rate_before_start=fee,
            confirmed=bool(r.get("confirmed", True)),
        )
    tax_grounds = tuple(c["vehicle_tax_refund_grounds"])
    return EndorsementCatalogue(
        kinds=kinds, effective=c["effective"], cancellation=rules, vehicle_tax_refund_grounds=tax_grounds
    )


@functools.cache
def endorsement_catalogue() -> EndorsementCatalogue:
    text = resources.files("epolicy.products").joinpath("data/motor_endorsements.yaml").read_text("utf-8")
    return parse_endorsements(yaml.safe_load(text))

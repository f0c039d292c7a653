"""The risk matrix (data/risk_matrix.yaml): each change item's risk level, and what each level needs.

Life guide §6.2.3 (identity matched to the item's risk) and §6.7 (confirmation by SMS code or
e-signature by risk). The file is checked when loaded: every one of the 16 items has a level, every
level names known methods, and nothing unknown slips in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from epolicy.rules.life import ITEM_NAMES

MATRIX_PATH = Path(__file__).with_name("data") / "risk_matrix.yaml"
METHODS: dict[str, str] = {
    "binding": "保单绑定",
    "sms": "短信验证码",
    "realname": "实名认证（身份证与银行卡四要素）",
    "face": "人脸识别",
    "video": "视频认证",
}
CONFIRMATIONS: dict[str, str] = {"sms": "短信验证码确认", "signature": "电子签名确认"}


@dataclass(frozen=True)
class Level:
    code: str
    label: str
    methods: tuple[str, ...]
    fallbacks: dict[str, str]  # method -> the method that may stand in for it when it failed
    confirmation: str


@dataclass(frozen=True)
class RiskMatrix:
    version: str
    levels: dict[str, Level]
    items: dict[str, str]  # item -> level code
    money_out: frozenset[str]
    evidence_valid: dt.timedelta
    face_min_score: Decimal
    face_attempts_before_video: int

    def level_of(self, item: str) -> Level:
        return self.levels[self.items[item]]


class RiskMatrixError(ValueError):
    """The matrix file is inconsistent; the platform refuses to use it."""


def parse_matrix(raw: dict[str, Any]) -> RiskMatrix:
    """Build and check a matrix from its YAML content."""
    levels: dict[str, Level] = {}
    for code, spec in (raw.get("levels") or {}).items():
        methods = tuple(spec.get("methods") or ())
        unknown = [m for m in methods if m not in METHODS]
        if unknown or not methods or methods[0] != "binding":
            raise RiskMatrixError(f"level {code}: methods must start with binding and be known: {methods}")
        fallbacks = dict(spec.get("fallbacks") or {})
        if any(k not in methods or v not in METHODS for k, v in fallbacks.items()):
            raise RiskMatrixError(f"level {code}: bad fallbacks {fallbacks}")
        confirmation = spec.get("confirmation")
        if confirmation not in CONFIRMATIONS:
            raise RiskMatrixError(f"level {code}: confirmation must be one of {sorted(CONFIRMATIONS)}")
        levels[code] = Level(code, str(spec.get("label") or code), methods, fallbacks, confirmation)
    items = {str(k): str(v) for k, v in (raw.get("items") or {}).items()}
    missing = sorted(set(ITEM_NAMES) - set(items))
    extra = sorted(set(items) - set(ITEM_NAMES))
    if missing or extra:
        raise RiskMatrixError(f"risk matrix items: missing {missing}, unknown {extra}")
    bad = sorted(i for i, level in items.items() if level not in levels)
    if bad:
        raise RiskMatrixError(f"items with an unknown level: {bad}")
    money_out = frozenset(raw.get("money_out") or ())
    if not money_out <= set(ITEM_NAMES):
        raise RiskMatrixError(f"money_out names unknown items: {sorted(money_out - set(ITEM_NAMES))}")
    return RiskMatrix(
        version=str(raw.get("version") or ""),
        levels=levels,
        items=items,
        money_out=money_out,
        evidence_valid=dt.timedelta(minutes=int(raw.get("evidence_valid_minutes", 15))),
        face_min_score=Decimal(str(raw.get("face_min_score", "0.80"))),
        face_attempts_before_video=int(raw.get("face_attempts_before_video", 2)),
    )


@cache
def _load(path: str) -> RiskMatrix:
    with open(path, encoding="utf-8") as fh:
        return parse_matrix(yaml.safe_load(fh))


def risk_matrix() -> RiskMatrix:
    """The matrix in force (settings.SELFSERVICE_RISK_MATRIX names another file)."""
    from django.conf import settings

    return _load(str(getattr(settings, "SELFSERVICE_RISK_MATRIX", "") or MATRIX_PATH))

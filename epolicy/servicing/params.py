"""A change request's params as they may be stored, and the keyed hash that identifies the request.

The engine reads a bank card number only to check it (Luhn) and to mask it; the platform keeps it out
of every table, log and audit record: `stored_params` masks it. `request_hash` covers the full request
(the clear number included) with a keyed HMAC, so a retry can be told from another request under the
same idempotency key without the hash revealing the number.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from epolicy.common import crypto
from epolicy.common.errors import ApplicationError
from epolicy.common.masking import mask_bank_card

SENSITIVE_CARD_PARAMS = frozenset({"card_number"})
MAX_PARAMS_BYTES = 16_384


def _plain(value: Any, where: str = "params") -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, float):
        # A JSON number with a fraction or an exponent (1234.5, 1e26): a float cannot carry the fen.
        raise ApplicationError(
            "validation_error",
            f'申请参数 {where} 须用字符串填写金额或数字（如 "1000.00"），不接受带小数点或指数的数值。',
            {"field": where, "fields": [{"field": where, "problem": "应为字符串形式的数字"}]},
        )
    raise ApplicationError(
        "validation_error",
        f"申请参数 {where} 格式不正确。",
        {"field": where, "fields": [{"field": where, "problem": "格式不正确"}]},
    )


def canonical_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The params as plain JSON values (Decimals as text); refuses anything JSON cannot hold."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ApplicationError("validation_error", "申请参数须为键值对象。", {"field": "params"})
    plain = _plain(params)
    if len(json.dumps(plain, ensure_ascii=False)) > MAX_PARAMS_BYTES:
        raise ApplicationError("validation_error", "申请参数过长。", {"field": "params"})
    assert isinstance(plain, dict)
    return plain


def stored_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The params to keep with the change: card numbers masked (the engine never stores them clear)."""
    out: dict[str, Any] = {}
    for key, value in canonical_params(params).items():
        if key in SENSITIVE_CARD_PARAMS and isinstance(value, str):
            out[key] = mask_bank_card(value)
        else:
            out[key] = value
    return out


def request_hash(item: str, params: Mapping[str, Any]) -> str:
    """Keyed hash of item + params: equal requests match, the card number cannot be read back."""
    text = json.dumps(
        {"item": item, "params": canonical_params(params)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return crypto.blind_index(text, context="life_change_request")


def quote_digest(quote: dict[str, Any]) -> str:
    """SHA-256 of what a customer sees of a quote (figures, lines, dates): what they confirm."""
    seen = {
        k: quote.get(k) for k in ("item", "effective_date", "display", "amount_to_pay", "amount_to_receive")
    }
    seen["manual_review"] = quote.get("manual_review")
    return hashlib.sha256(
        json.dumps(seen, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()

"""A change request's params as they may be stored, and the keyed hash that identifies the request.

The engine reads a bank card number only to check it (Luhn) and to mask it; the platform keeps it out
of every table, log and audit record: `stored_params` masks it. `request_hash` covers the full request
(the clear number included) with a keyed HMAC, so a retry can be told from another request under the
same idempotency key without the hash revealing the number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from epolicy.common import crypto
from epolicy.common.errors import ApplicationError
from epolicy.common.masking import mask_bank_card

SENSITIVE_CARD_PARAMS = frozenset({"card_number"})
MAX_PARAMS_BYTES = 16_384


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    raise ApplicationError("validation_error", "申请参数格式不正确。", {"field": "params"})


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

"""PolicyState <-> JSON: Decimals and dates as strings, records as objects, strict on the way back.

The codec follows the dataclass field types, so a new field needs no code here. Decoding refuses
unknown keys, missing required keys and wrong types (ValueError): a stored version that does not read
back exactly is data corruption, never something to guess around.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from .contract import SCHEMA_VERSION, ChangeQuote, PolicyState


def encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [encode(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): encode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"cannot encode {type(value).__name__}")


def _decode(tp: Any, raw: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if raw is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _decode(inner, raw, where)
    if origin is typing.Literal:
        if raw not in typing.get_args(tp):
            raise ValueError(f"{where}: {raw!r} is not one of {typing.get_args(tp)}")
        return raw
    if origin is tuple:
        item_type = typing.get_args(tp)[0]
        if not isinstance(raw, list):
            raise ValueError(f"{where}: expected a list")
        return tuple(_decode(item_type, item, f"{where}[{i}]") for i, item in enumerate(raw))
    if tp is Decimal:
        if not isinstance(raw, str):
            raise ValueError(f"{where}: expected a decimal string, got {raw!r}")
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise ValueError(f"{where}: not a decimal: {raw!r}") from None
    if tp is date:
        if not isinstance(raw, str):
            raise ValueError(f"{where}: expected a date string, got {raw!r}")
        return date.fromisoformat(raw)
    if tp is bool or tp is str:
        if not isinstance(raw, tp):
            raise ValueError(f"{where}: expected {tp.__name__}, got {raw!r}")
        return raw
    if tp is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"{where}: expected an integer, got {raw!r}")
        return raw
    if dataclasses.is_dataclass(tp):
        return _decode_record(tp, raw, where)
    raise TypeError(f"{where}: unsupported type {tp!r}")


@functools.cache
def _shape(cls: Any) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """A record class's resolved field types and its fields, worked out once per class: resolving the
    string annotations (typing.get_type_hints) was a fifth of the CPU of a life quote over the API."""
    return typing.get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls)}


def _decode_record(cls: Any, raw: Any, where: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected an object")
    hints, fields = _shape(cls)
    unknown = set(raw) - set(fields)
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    kwargs = {}
    for name, f in fields.items():
        if name in raw:
            kwargs[name] = _decode(hints[name], raw[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ValueError(f"{where}: missing {name}")
    return cls(**kwargs)


def decode_state(data: Mapping[str, Any] | str) -> PolicyState:
    if isinstance(data, str):
        data = json.loads(data)
    if not isinstance(data, Mapping):
        raise ValueError("PolicyState JSON: expected an object")
    body = dict(data)
    schema = body.pop("schema", None)
    if schema != SCHEMA_VERSION:
        raise ValueError(f"PolicyState JSON: schema {schema!r}, this code reads {SCHEMA_VERSION}")
    state: PolicyState = _decode_record(PolicyState, body, "PolicyState")
    return state


def decode_quote(data: Mapping[str, Any]) -> ChangeQuote:
    """ChangeQuote.to_json() back (its new_state as decode_state reads it)."""
    if not isinstance(data, Mapping):
        raise ValueError("ChangeQuote JSON: expected an object")
    body = dict(data)
    if "new_state" not in body:
        raise ValueError("ChangeQuote: missing new_state")
    new_state = decode_state(body.pop("new_state"))
    hints, fields = _shape(ChangeQuote)
    unknown = set(body) - set(fields)
    if unknown:
        raise ValueError(f"ChangeQuote: unknown keys {sorted(unknown)}")
    kwargs: dict[str, Any] = {"new_state": new_state}
    for name, f in fields.items():
        if name == "new_state":
            continue
        if name in body:
            kwargs[name] = _decode(hints[name], body[name], f"ChangeQuote.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ValueError(f"ChangeQuote: missing {name}")
    try:
        return ChangeQuote(**kwargs)
    except (TypeError, InvalidOperation) as exc:
        raise ValueError(f"ChangeQuote: {exc}") from None

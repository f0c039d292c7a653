"""Plates and VINs as they are indexed: normalised, then a keyed blind index (one context per kind in
every table, so an application's index matches its policies'). Shared by every app that stores them."""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

from epolicy.common import crypto


@cache
def _plate_separators() -> dict[int, None]:
    # Imported late: epolicy.common.identifiers imports the rules, which cannot load with the models.
    from epolicy.common.identifiers import PLATE_SEPARATORS

    return dict.fromkeys(map(ord, PLATE_SEPARATORS))


def plate_key(plate: str | None) -> str:
    """A plate as it is indexed: half-width, upper case, no spaces or separators ("京a·12345": "京A12345")."""
    text = unicodedata.normalize("NFKC", plate or "").translate(_plate_separators())
    return "".join(text.split()).upper()


def vin_key(vin: str | None) -> str:
    """A VIN as it is indexed: half-width, upper case, no spaces."""
    return "".join(unicodedata.normalize("NFKC", vin or "").split()).upper()


def plate_index_of(plate: str | None) -> str:
    """Keyed blind index of a plate (one context in every table: an application's matches its policy's)."""
    return crypto.blind_index(plate_key(plate), context="plate")


def vin_index_of(vin: str | None) -> str:
    return crypto.blind_index(vin_key(vin), context="vin")


def with_derived(update_fields: Any, derived: dict[str, str]) -> Any:
    """`save(update_fields=...)` that names a value also writes the blind index derived from it."""
    if update_fields is None:
        return None
    names = set(update_fields)
    return names | {index for value, index in derived.items() if value in names}

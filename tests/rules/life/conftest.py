"""Fixtures for the life engine: the demo catalogue, and LIFE_CODES accepted as error codes."""

from __future__ import annotations

import pytest

from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life.errors import LIFE_CODES


@pytest.fixture(autouse=True, scope="package")
def _life_codes():
    """Until LIFE_CODES is merged into CODES, raising a life code must work in these tests (package
    scope: hypothesis tests cannot use function-scoped fixtures; undone after this package)."""
    from epolicy.common import errors

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(errors, "CODES", {**errors.CODES, **LIFE_CODES})
        yield


@pytest.fixture(scope="session")
def catalogue():
    return load_life_catalogue()

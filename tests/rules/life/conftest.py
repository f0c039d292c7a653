"""Fixtures for the life engine: the demo catalogue."""

from __future__ import annotations

import pytest

from epolicy.products.life_tables import load_life_catalogue


@pytest.fixture(scope="session")
def catalogue():
    return load_life_catalogue()

"""The life rules package names its public objects lazily (epolicy/rules/life/__init__.py): its
`__all__`, its name → submodule table and the objects in those submodules must agree."""

from __future__ import annotations

import importlib

import epolicy.rules.life as life


def test_every_public_name_is_in_the_table_and_is_that_submodules_object():
    assert sorted(life.__all__) == sorted(life._SUBMODULES)
    for name, module in life._SUBMODULES.items():
        assert getattr(life, name) is getattr(importlib.import_module(f"epolicy.rules.life.{module}"), name)

"""The core-system boundary: the port (`base`), the built-in engine (`builtin`), the HTTP adapter (`http`).

The services of `epolicy.servicing.services` validate, quote and apply every change through
`core_system()`; the contract's reference server for tests is `tests/servicing/coresystem_server.py`.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from .base import ChangeRecord, ChangeRequest, CoreSystem, CoreSystemUnavailable, QuoteResult, Reason

DEFAULT_CORE_SYSTEM = "epolicy.servicing.coresystem.builtin.BuiltinCoreSystem"


def core_system() -> CoreSystem:
    """The implementation named by settings.PROVIDERS["core_system"] (built-in when the key is absent)."""
    path = settings.PROVIDERS.get("core_system", DEFAULT_CORE_SYSTEM)
    system: CoreSystem = import_string(path)()
    return system


__all__ = [
    "ChangeRecord",
    "ChangeRequest",
    "CoreSystem",
    "CoreSystemUnavailable",
    "QuoteResult",
    "Reason",
    "core_system",
]

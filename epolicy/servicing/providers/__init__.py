"""Money transfers of servicing changes: the port (`base`), the sandbox, and the loader."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from .base import TransferProvider

DEFAULT_TRANSFER_PROVIDER = "epolicy.servicing.providers.sandbox.SandboxTransfers"


def transfer_provider() -> TransferProvider:
    """The provider named by settings.PROVIDERS["transfer"] (the sandbox when the key is absent)."""
    path = settings.PROVIDERS.get("transfer", DEFAULT_TRANSFER_PROVIDER)
    provider: TransferProvider = import_string(path)()
    return provider

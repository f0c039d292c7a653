"""Outside parties (SMS, payment, ...) are providers chosen by dotted path in settings.PROVIDERS."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


def get_provider(kind: str) -> Any:
    path = settings.PROVIDERS[kind]
    return import_string(path)()

"""EncryptedTextField and EncryptedJSONField: columns stored with epolicy.common.crypto
(AES-256-GCM, versioned key, the column bound in as associated data)."""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from . import crypto


class EncryptedTextField(models.TextField):
    """Holds personal data encrypted at rest; the Python value is the clear text."""

    def __init__(self, *args: Any, context: str = "", **kwargs: Any):
        self.context = context
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["context"] = self.context
        return name, path, args, kwargs

    def _context(self) -> str:
        return self.context or f"{self.model._meta.label_lower}.{self.name}"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.decrypt(value, context=self._context())

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value), context=self._context())


class EncryptedJSONField(EncryptedTextField):
    """A JSON document encrypted at rest as one text (AES-256-GCM, column-bound context); the Python
    value is the decoded JSON. Never filtered or ordered by: the column holds ciphertext.
    """

    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return None
        return json.loads(crypto.decrypt(value, context=self._context()))

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return crypto.encrypt(json.dumps(value, ensure_ascii=False), context=self._context())

    def to_python(self, value: Any) -> Any:
        return value

    def value_to_string(self, obj: models.Model) -> Any:
        return self.value_from_object(obj)  # as JSONField: the serializers write the document itself

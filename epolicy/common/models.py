"""Cross-cutting tables: gap-free number sequences and API clients of other insurer systems."""

from __future__ import annotations

import hashlib
import secrets

from django.db import models


class Sequence(models.Model):
    """A named counter advanced under a row lock (document numbers must never repeat)."""

    name = models.CharField(max_length=64, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class ApiClient(models.Model):
    """Another system of the insurer (core, channel, claims) calling the JSON API with a bearer key."""

    name = models.CharField(max_length=100, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def create_with_key(cls, name: str) -> tuple[ApiClient, str]:
        key = "ep_" + secrets.token_urlsafe(32)
        return cls.objects.create(name=name, key_hash=cls.hash_key(key)), key

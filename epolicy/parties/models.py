"""Customers (natural persons). Name, ID number, phone, e-mail and address are encrypted at rest."""

from __future__ import annotations

from django.db import models

from epolicy.common import crypto
from epolicy.common.fields import EncryptedTextField


class Customer(models.Model):
    # Never searched or sorted by: a customer is found by the blind indexes below.
    name = EncryptedTextField(context="parties.customer.name")
    id_type = models.CharField(max_length=16, default="resident_id")
    id_number = EncryptedTextField(context="parties.customer.id_number")
    id_number_index = models.CharField(max_length=64, db_index=True)
    phone = EncryptedTextField(context="parties.customer.phone")
    phone_index = models.CharField(max_length=64, db_index=True)
    email = EncryptedTextField(context="parties.customer.email", blank=True, default="")
    address = EncryptedTextField(context="parties.customer.address", blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        from epolicy.common.masking import mask_name

        return mask_name(self.name)

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # The blind indexes are derived columns: keeping them beside the value they index.
        self.id_number_index = self.id_index(self.id_number)
        self.phone_index = self.phone_index_of(self.phone)
        super().save(*args, **kwargs)

    @staticmethod
    def id_index(id_number: str) -> str:
        return crypto.blind_index(id_number.upper(), context="id_number")

    @staticmethod
    def phone_index_of(phone: str) -> str:
        return crypto.blind_index(phone, context="phone")

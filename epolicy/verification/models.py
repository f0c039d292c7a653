"""Places for bounded checks, shared by every web process through the database (slots.py)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class CheckSlot(models.Model):
    """One place for a running check of an uploaded file. Free when `holder` is empty or `expires_at`
    has passed: a process that dies holding a slot gives it back by its lease running out.

    Slots numbered below VERIFY_SMALL_CHECK_SLOTS are only for small files (slots.py says why)."""

    number = models.PositiveSmallIntegerField(primary_key=True)
    holder = models.CharField(max_length=32, blank=True, default="")  # a random token of the running check
    client = models.CharField(max_length=64, blank=True, default="")  # ClientInfo.client_key of the upload
    # Which of the client's allowed concurrent checks this is (0 .. VERIFY_CHECKS_PER_CLIENT - 1): the
    # unique constraint below is what keeps one client from holding more than its share.
    client_seat = models.PositiveSmallIntegerField(null=True, blank=True)
    file_bytes = models.PositiveIntegerField(null=True, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "client_seat"],
                condition=Q(client_seat__isnull=False),
                name="verification_slot_one_per_client_seat",
            ),
            models.CheckConstraint(
                condition=Q(holder="", client_seat__isnull=True)
                | (~Q(holder="") & Q(client_seat__isnull=False, expires_at__isnull=False)),
                name="verification_slot_held_has_seat_and_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"slot {self.number}: {self.holder or 'free'}"

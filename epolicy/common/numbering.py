"""Document numbers from gap-free sequences, allocated under a row lock inside the caller's transaction."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from .models import Sequence


def next_value(name: str) -> int:
    with transaction.atomic():
        seq = Sequence.objects.select_for_update().filter(name=name).first()
        if seq is None:
            try:
                with transaction.atomic():
                    seq = Sequence.objects.create(name=name, value=0)
            except IntegrityError:
                seq = Sequence.objects.select_for_update().get(name=name)
            seq = Sequence.objects.select_for_update().get(pk=seq.pk)
        seq.value += 1
        seq.save(update_fields=["value"])
        return seq.value


def document_number(prefix: str, day_text: str, width: int = 6) -> str:
    """PREFIX + YYYYMMDD + zero-padded daily counter, e.g. PDZA20261121000001."""
    return f"{prefix}{day_text}{next_value(f'{prefix}:{day_text}'):0{width}d}"

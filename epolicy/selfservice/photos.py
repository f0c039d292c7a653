"""Card photos given by the customer (life guide §6.3: OCR fills the form, the customer confirms or
corrects each field): read offline, archived as evidence of the change, linked to its request."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.conf import settings
from django.db import transaction

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.servicing.models import LifePolicy

from .models import ChangeAttachment, ChangeRequest

KINDS = {"id_card": "身份证人像面", "bank_card": "银行卡"}
CONTENT_TYPES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def _content_type(data: bytes) -> str:
    for magic, kind in CONTENT_TYPES.items():
        if data.startswith(magic):
            return kind
    raise ApplicationError("image_invalid", "请上传 JPG 或 PNG 格式的照片。", {"field": "photo"})


def read_photo(*, kind: str, data: bytes) -> dict[str, Any]:
    """The fields read from a photo of an ID card or a bank card (refusals are coded, in Chinese)."""
    from epolicy.identity import ocr

    if kind not in KINDS:
        raise ApplicationError("not_found", "没有这种证件。")
    if not data:
        raise ApplicationError("image_invalid", "请选择要上传的照片。", {"field": "photo"})
    if len(data) > settings.SELFSERVICE["max_photo_bytes"]:
        raise ApplicationError("image_too_large", "照片过大，请上传 8 MB 以内的照片。", {"field": "photo"})
    _content_type(data)
    reading = ocr.read_id_card(data) if kind == "id_card" else ocr.read_bank_card(data)
    fields = {k: v for k, v in dataclasses.asdict(reading).items() if k not in ("confidence", "problems")}
    fields = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in fields.items()}
    return {"kind": kind, "fields": fields, "problems": list(getattr(reading, "problems", ()))}


def archive_photo(
    *, policy: LifePolicy, kind: str, data: bytes, request: ChangeRequest | None, recognised: dict
) -> ArchivedObject:
    """Keep the photo in the archive; with a request, as its attachment at once."""
    with transaction.atomic():
        obj = archive_put(
            data=data,
            kind=ArchivedObject.Kind.EVIDENCE,
            name=f"{policy.number}-photo-{kind}",
            content_type=_content_type(data),
            subject=policy,
        )
        if request is not None:
            ChangeAttachment.objects.create(
                request=request, kind=kind, archived=obj, recognised=recognised, created_at=clock.now()
            )
    return obj


def attach_pending(*, request: ChangeRequest, pending: list[dict[str, Any]]) -> None:
    """Link photos read on the form page (before the request existed) to the request they were for."""
    for entry in pending:
        obj = ArchivedObject.objects.of(request.policy).filter(public_id=entry.get("archived")).first()
        if obj is not None and not ChangeAttachment.objects.filter(archived=obj).exists():
            ChangeAttachment.objects.create(
                request=request,
                kind=entry.get("kind", ""),
                archived=obj,
                recognised=entry.get("fields", {}),
                created_at=clock.now(),
            )

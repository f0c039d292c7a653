"""Keeping archived signatures verifiable for decades (motor standard §5 c): every archived e-policy and
signed e-application whose last archive timestamp's TSA certificate nears expiry gets fresh validation
data and a new document timestamp (PAdES B-LTA, epolicy.signing.lta), stored as a new version."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from epolicy.signing.lta import lta_renew_document, needs_renewal, tsa_expires_within

from .models import ArchivedObject
from .services import archive_add_version, archive_latest, archive_read

logger = logging.getLogger(__name__)
RENEWABLE_KINDS = ("policy", "application_signed")


@dataclass
class RenewalSummary:
    checked: int = 0
    due: int = 0
    renewed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "checked": self.checked,
            "due": self.due,
            "renewed": self.renewed,
            "failed": self.failed,
            "skipped": self.skipped,
            "errors": list(self.errors),
        }


def renew_archived(
    *,
    within_days: int | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> RenewalSummary:
    """Renew the archive timestamp of every archived e-policy / signed e-application that needs it.

    Looks at the latest version of each archived document; one that `needs_renewal` gets
    `lta_renew_document` and is stored as a new version (reason "lta"), one transaction per document.
    """
    days = settings.LTA_RENEW_BEFORE_DAYS if within_days is None else within_days
    say = progress or (lambda _line: None)
    summary = RenewalSummary()
    tsa_expiry = tsa_expires_within(days)
    if tsa_expiry is not None and not dry_run:
        message = (
            f"the TSA certificate expires {tsa_expiry:%Y-%m-%d}, within {days} days: "
            "rotate it first (epolicy pki_rotate tsa --root-key FILE)"
        )
        summary.errors.append(message)
        say(message)
    heads = (
        ArchivedObject.objects.filter(kind__in=RENEWABLE_KINDS, superseded_by__isnull=True)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    for pk in heads.iterator():
        obj = archive_latest(ArchivedObject.objects.get(pk=pk))
        summary.checked += 1
        try:
            data = archive_read(obj)
            due = needs_renewal(data, within_days=days)
        except Exception as exc:
            summary.failed += 1
            summary.errors.append(f"{obj.key}: {exc}")
            say(f"FAILED {obj.key}: {exc}")
            continue
        if not due:
            continue
        summary.due += 1
        if dry_run:
            say(f"due {obj.key}")
            continue
        if tsa_expiry is not None:
            summary.skipped += 1
            continue
        try:
            with transaction.atomic():
                locked = ArchivedObject.objects.select_for_update().get(pk=obj.pk)
                if locked.superseded_by_id is not None:
                    summary.skipped += 1  # renewed (or replaced) by someone else meanwhile
                    continue
                renewed = lta_renew_document(data)
                new = archive_add_version(previous=locked, data=renewed, reason="lta")
            summary.renewed += 1
            say(f"renewed {obj.key} -> {new.key}")
        except Exception as exc:
            logger.exception("lta renewal of %s failed", obj.key)
            summary.failed += 1
            summary.errors.append(f"{obj.key}: {exc}")
            say(f"FAILED {obj.key}: {exc}")
    return summary

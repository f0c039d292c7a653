"""Integrity of the two copies: re-hash every archived object in both locations, report what is missing
or altered, and (with repair) put the good copy back over the bad one (motor standard §5, life guide
§7.2). Objects are read in chunks and rows in batches, so the scrub runs in constant memory. It also
lists the bytes in either location that no row registers (orphans, see orphans.py) and never deletes
them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import Counter

from django.db import transaction

from epolicy.audit.services import audit_record
from epolicy.common import clock

from .models import ArchivedObject
from .orphans import ORPHAN_GRACE, OrphanFinding, find_orphans
from .storage import LOCATION_LABELS, hash_stored, location_storage

logger = logging.getLogger("epolicy.archive")

PROBLEM_LABELS = {
    "missing": "缺失",
    "altered": "已被篡改或损坏",
    "unreadable": "无法读取",
    "not_purged": "已审批删除但仍存在",
    "orphan": "未登记的对象（孤立对象）",
    "unlistable": "无法列出对象（未能检查未登记的对象）",
}
MAX_DETAILS = 1000


@dataclasses.dataclass(frozen=True)
class ScrubFinding:
    object_id: int
    key: str
    location: str  # "archive" or "archive_backup"
    problem: str  # missing | altered | unreadable | not_purged
    repaired: bool = False
    observed_sha256: str = ""

    def describe(self) -> str:
        state = "，已修复" if self.repaired else ""
        return (
            f"{LOCATION_LABELS[self.location]}（{self.location}）{PROBLEM_LABELS[self.problem]}{state}："
            f"#{self.object_id} {self.key}"
        )


@dataclasses.dataclass
class ScrubReport:
    repair: bool
    objects_checked: int = 0
    copies_checked: int = 0
    bytes_hashed: int = 0
    findings: list[ScrubFinding] = dataclasses.field(default_factory=list)  # the first MAX_DETAILS
    lost: list[ScrubFinding] = dataclasses.field(default_factory=list)  # both copies bad (all of them)
    counts: Counter[tuple[str, str, bool]] = dataclasses.field(default_factory=Counter)
    orphan_grace: dt.timedelta = ORPHAN_GRACE
    orphans: list[OrphanFinding] = dataclasses.field(default_factory=list)  # the first MAX_DETAILS
    orphans_found: int = 0
    orphans_recent: int = 0  # younger than orphan_grace: listed, not counted as problems

    def add(self, finding: ScrubFinding) -> None:
        self.counts[(finding.location, finding.problem, finding.repaired)] += 1
        if len(self.findings) < MAX_DETAILS:
            self.findings.append(finding)

    def add_orphan(self, orphan: OrphanFinding) -> None:
        """List unregistered bytes; only those older than the grace period count as problems."""
        self.orphans_found += 1
        if orphan.recent:
            self.orphans_recent += 1
        else:
            self.counts[(orphan.location, "orphan", False)] += 1
        if len(self.orphans) < MAX_DETAILS:
            self.orphans.append(orphan)

    @property
    def problems_found(self) -> int:
        return sum(self.counts.values())

    @property
    def repaired(self) -> int:
        return sum(n for (_loc, _problem, fixed), n in self.counts.items() if fixed)

    @property
    def remaining(self) -> int:
        return self.problems_found - self.repaired

    @property
    def ok(self) -> bool:
        return self.remaining == 0

    def as_json(self) -> dict:
        return {
            "ok": self.ok,
            "repair": self.repair,
            "objects_checked": self.objects_checked,
            "copies_checked": self.copies_checked,
            "bytes_hashed": self.bytes_hashed,
            "problems_found": self.problems_found,
            "repaired": self.repaired,
            "remaining": self.remaining,
            "lost": [dataclasses.asdict(f) for f in self.lost],
            "findings": [dataclasses.asdict(f) for f in self.findings],
            "orphans_found": self.orphans_found,
            "orphans_recent": self.orphans_recent,
            "orphan_grace_seconds": int(self.orphan_grace.total_seconds()),
            "orphans": [o.as_json() for o in self.orphans],
        }


def _check_copy(location: str, obj: ArchivedObject) -> tuple[str, str]:
    """(problem or "", observed sha256) of one copy."""
    storage = location_storage(location)
    try:
        if not storage.exists(obj.key):
            return "missing", ""
        observed = hash_stored(storage, obj.key)
    except FileNotFoundError:
        return "missing", ""
    except Exception:
        logger.exception("archive scrub: cannot read %s from %s", obj.key, location)
        return "unreadable", ""
    return ("" if observed == obj.sha256 else "altered"), observed


def archive_check_object(*, object_id: int, repair: bool, report: ScrubReport | None = None) -> ScrubReport:
    """Check (and with repair, fix) the two copies of one archived object."""
    report = report or ScrubReport(repair=repair)
    _check_object(ArchivedObject.objects.get(pk=object_id), repair=repair, report=report)
    return report


def _check_object(obj: ArchivedObject, *, repair: bool, report: ScrubReport) -> ScrubReport:
    report.objects_checked += 1
    if obj.deleted_at is not None:
        _check_tombstone(obj, repair=repair, report=report)
        return report
    results = {loc: _check_copy(loc, obj) for loc in LOCATION_LABELS}
    report.copies_checked += len(results)
    report.bytes_hashed += sum(obj.size for problem, _ in results.values() if problem in ("", "altered"))
    bad = [loc for loc, (problem, _) in results.items() if problem]
    good = [loc for loc in LOCATION_LABELS if loc not in bad]
    if not bad:
        if obj.replicated_at is None:
            ArchivedObject.objects.filter(pk=obj.pk, replicated_at__isnull=True).update(
                replicated_at=clock.now()
            )
        return report
    if not good:
        for loc in bad:
            finding = ScrubFinding(obj.pk, obj.key, loc, results[loc][0], False, results[loc][1])
            report.add(finding)
            report.lost.append(finding)
        logger.error(
            "archive scrub: BOTH copies of %s (object %s, sha256 %s) are bad: %s — not repaired",
            obj.key,
            obj.pk,
            obj.sha256,
            ", ".join(f"{loc}={results[loc][0]}" for loc in bad),
        )
        return report
    (bad_loc,), (good_loc,) = bad, good
    problem, observed = results[bad_loc]
    fixed = repair and _repair_copy(
        obj.pk, source=good_loc, target=bad_loc, problem=problem, observed=observed
    )
    report.add(ScrubFinding(obj.pk, obj.key, bad_loc, problem, fixed, observed))
    if not fixed:
        logger.warning("archive scrub: %s copy of %s is %s", bad_loc, obj.key, problem)
    return report


def _repair_copy(object_id: int, *, source: str, target: str, problem: str, observed: str) -> bool:
    # Under the row lock, so an approved deletion cannot run between the check and the copy.
    with transaction.atomic():
        obj = ArchivedObject.objects.select_for_update().get(pk=object_id)
        if obj.deleted_at is not None:
            return False
        try:
            with location_storage(source).open(obj.key, "rb") as fh:
                location_storage(target).replace_with_verified(obj.key, fh, sha256=obj.sha256)
        except Exception:
            logger.exception("archive scrub: repair of %s in %s from %s failed", obj.key, target, source)
            return False
        if obj.replicated_at is None:
            obj.replicated_at = clock.now()
            obj.save(update_fields=["replicated_at"])
        audit_record(
            action="archive.repaired",
            actor="system:archive_scrub",
            subject_type="archived_object",
            subject_id=str(obj.pk),
            data={
                "key": obj.key,
                "location": target,
                "problem": problem,
                "observed_sha256": observed,
                "restored_from": source,
                "sha256": obj.sha256,
            },
        )
    logger.warning("archive scrub: repaired %s copy of %s (%s) from %s", target, obj.key, problem, source)
    return True


def _check_tombstone(obj: ArchivedObject, *, repair: bool, report: ScrubReport) -> None:
    present = [loc for loc in LOCATION_LABELS if location_storage(loc).exists(obj.key)]
    report.copies_checked += len(LOCATION_LABELS)
    if not present:
        if obj.purged_at is None:
            ArchivedObject.objects.filter(pk=obj.pk, purged_at__isnull=True).update(purged_at=clock.now())
        return
    fixed = False
    if repair:
        from .services import archive_purge

        try:
            fixed = archive_purge(object_id=obj.pk, actor="system:archive_scrub")
        except Exception:
            logger.exception("archive scrub: could not finish the approved deletion of %s", obj.key)
    for loc in present:
        report.add(ScrubFinding(obj.pk, obj.key, loc, "not_purged", fixed))


def _scan_orphans(report: ScrubReport) -> None:
    """List unregistered bytes in both locations; a location that cannot be listed is a problem."""
    now = clock.now()
    for location in LOCATION_LABELS:
        try:
            for orphan in find_orphans(location, now=now, grace=report.orphan_grace):
                report.add_orphan(orphan)
        except Exception:
            logger.exception("archive scrub: cannot list the objects in %s", location)
            report.counts[(location, "unlistable", False)] += 1


def archive_scrub(
    *, repair: bool, batch_size: int = 500, orphan_grace: dt.timedelta = ORPHAN_GRACE
) -> ScrubReport:
    """Re-hash every archived object in both locations; with repair, restore the bad copy from the good
    one when exactly one copy matches the registered SHA-256 (never when both are bad). Also list the
    unregistered objects (orphans) of both locations; those are reported, never deleted or repaired."""
    report = ScrubReport(repair=repair, orphan_grace=orphan_grace)
    last_id = 0
    while True:
        batch = list(ArchivedObject.objects.filter(pk__gt=last_id).order_by("pk")[:batch_size])
        if not batch:
            break
        for obj in batch:
            _check_object(obj, repair=repair, report=report)
        last_id = batch[-1].pk
    _scan_orphans(report)
    level = logging.INFO if report.ok else logging.ERROR
    logger.log(
        level,
        "archive scrub: %s objects, %s problems, %s repaired, %s remaining, %s with both copies bad,"
        " %s unregistered objects (%s younger than the grace period)",
        report.objects_checked,
        report.problems_found,
        report.repaired,
        report.remaining,
        len(report.lost),
        report.orphans_found,
        report.orphans_recent,
    )
    return report

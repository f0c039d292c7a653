"""The queue in front of bounded checks: how many run at once on the whole platform, and per client.

Each check of an uploaded file costs a worker process up to its time limit at full CPU. Without a cap,
a handful of large files checked at once saturate the machine and every check, genuine ones included,
runs into its deadline. So a check first takes a slot:

- The slots are rows of `CheckSlot`, shared by every web process on every machine through the
  database. A slot is taken with a compare-and-set UPDATE (only if it is free or its lease has run out)
  and given back in a `finally`; a process killed while holding one loses it when the lease ends.
- `VERIFY_CHECK_SLOTS` slots take any file; `VERIFY_SMALL_CHECK_SLOTS` more take only files of at most
  `VERIFY_SMALL_FILE_BYTES`. A genuine e-policy is small and checked in well under a second; the
  reserved slots keep it from waiting behind large files (which are seldom genuine) that run to their
  time limit. Small files try the reserved slots first, so the others stay for large files.
- One client (`ClientInfo.client_key`) holds at most `VERIFY_CHECKS_PER_CLIENT` slots at once; it is
  backed by a unique constraint on (client, seat). A further upload while those run is refused at once
  (`rate_limited`) rather than queued: the client is the one making the queue.
- A check waits up to `VERIFY_QUEUE_WAIT_SECONDS` for a slot, asking again every few tenths of a second,
  then is refused with `verify_busy` (503, `retry_after_seconds` in the details).

Take and give back slots outside a transaction: a slot taken inside one is invisible to other processes
until it commits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from epolicy.common import clock
from epolicy.common.errors import ApplicationError

from . import sandbox
from .models import CheckSlot

logger = logging.getLogger(__name__)

DEFAULT_SMALL_CHECK_SLOTS = 1
DEFAULT_SMALL_FILE_BYTES = 1024 * 1024
DEFAULT_CHECKS_PER_CLIENT = 1
DEFAULT_QUEUE_WAIT_SECONDS = 15.0
DEFAULT_LEASE_SECONDS = 60.0
# A lease must outlast the longest a check can hold its slot (worker start-up, time limit, grace);
# this much more covers the database round trips around it.
LEASE_MARGIN_SECONDS = 5.0
# How often a waiting check asks again (± half, so that waiting processes do not ask in step). Small
# files ask more often: their check is short and they should not sit out a long interval.
POLL_SECONDS_SMALL = 0.05
POLL_SECONDS = 0.25
# CPU priority of a large file's worker, below the small files' (0): with the CPUs busy, the kernel then
# gives a small file's short check most of a CPU instead of an even share with the large ones.
LARGE_FILE_NICE = 10

_FREE = {
    "holder": "",
    "client": "",
    "client_seat": None,
    "file_bytes": None,
    "taken_at": None,
    "expires_at": None,
}


def default_check_slots() -> int:
    """One check per CPU this process may run on, and at least two."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(2, cpus)


@dataclass(frozen=True)
class QueueSettings:
    slots: int  # checks of any file at once, on the whole platform
    small_slots: int  # more checks at once, only of small files
    small_file_bytes: int  # a file of at most this many bytes is small
    per_client: int  # checks of one client at once
    wait_seconds: float  # how long a check waits for a slot before verify_busy
    lease_seconds: float  # a slot not given back is free again after this
    retry_after_seconds: int  # what verify_busy tells the client

    @classmethod
    def from_settings(cls) -> QueueSettings:
        timeout = sandbox.Limits.from_settings().timeout_seconds
        longest_hold = sandbox.STARTUP_SECONDS + timeout + sandbox.GRACE_SECONDS + LEASE_MARGIN_SECONDS
        lease = float(getattr(settings, "VERIFY_CHECK_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))
        if lease < longest_hold:
            logger.warning(
                "VERIFY_CHECK_LEASE_SECONDS=%s is shorter than a check can hold its slot; using %.0f",
                lease,
                longest_hold,
            )
            lease = longest_hold
        return cls(
            slots=max(1, int(getattr(settings, "VERIFY_CHECK_SLOTS", None) or default_check_slots())),
            small_slots=max(0, int(getattr(settings, "VERIFY_SMALL_CHECK_SLOTS", DEFAULT_SMALL_CHECK_SLOTS))),
            small_file_bytes=int(getattr(settings, "VERIFY_SMALL_FILE_BYTES", DEFAULT_SMALL_FILE_BYTES)),
            per_client=max(1, int(getattr(settings, "VERIFY_CHECKS_PER_CLIENT", DEFAULT_CHECKS_PER_CLIENT))),
            wait_seconds=max(
                0.0, float(getattr(settings, "VERIFY_QUEUE_WAIT_SECONDS", DEFAULT_QUEUE_WAIT_SECONDS))
            ),
            lease_seconds=lease,
            # A slot frees at the latest when the checks running now reach their time limit.
            retry_after_seconds=max(1, math.ceil(timeout)),
        )

    @property
    def total(self) -> int:
        return self.slots + self.small_slots

    def allowed(self, size: int) -> range:
        """Slot numbers a file of `size` bytes may take; the reserved ones (the lowest) first."""
        return range(self.total) if size <= self.small_file_bytes else range(self.small_slots, self.total)


@dataclass(frozen=True)
class Lease:
    number: int
    holder: str


class _SeatTaken(Exception):
    """Another check of the same client took the seat this one was about to take: look again."""


def worker_nice(size: int) -> int:
    """How much to lower the CPU priority of the worker that checks a file of `size` bytes."""
    small = int(getattr(settings, "VERIFY_SMALL_FILE_BYTES", DEFAULT_SMALL_FILE_BYTES))
    return 0 if size <= small else LARGE_FILE_NICE


def slot_take(*, client: str, size: int, config: QueueSettings | None = None) -> Lease:
    """Wait for a slot for a check of `size` bytes from `client` (the public verification's queue).

    Raises ApplicationError rate_limited when the client has its share of checks running already, and
    verify_busy when no slot came free within the wait.
    """
    config = config or QueueSettings.from_settings()
    client = client[:64]
    started = time.monotonic()
    deadline = started + config.wait_seconds
    poll = POLL_SECONDS_SMALL if size <= config.small_file_bytes else POLL_SECONDS
    while True:
        try:
            lease = slot_try_take(client=client, size=size, config=config, now=clock.now())
        except _SeatTaken:
            lease = None  # the next attempt sees that check's seat (and may refuse this one)
        if lease is not None:
            waited = time.monotonic() - started
            if waited >= 1:
                logger.info("verification: waited %.1f s for check slot %d", waited, lease.number)
            return lease
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            logger.warning(
                "verification: no check slot came free within %.1f s (%d bytes): busy",
                config.wait_seconds,
                size,
            )
            raise ApplicationError("verify_busy", details={"retry_after_seconds": config.retry_after_seconds})
        time.sleep(min(remaining, poll * random.uniform(0.5, 1.5)))


def slot_try_take(*, client: str, size: int, config: QueueSettings, now: dt.datetime) -> Lease | None:
    """One attempt: a slot for this check, or None when every slot it may take is held."""
    rows = _slots()
    missing = set(range(config.total)) - {r.number for r in rows}
    if missing:
        CheckSlot.objects.bulk_create((CheckSlot(number=n) for n in sorted(missing)), ignore_conflicts=True)
        rows = _slots()

    def held(slot: CheckSlot) -> bool:
        return bool(slot.holder) and slot.expires_at is not None and slot.expires_at > now

    mine = [r for r in rows if r.client == client and r.client_seat is not None]
    seats = set(range(config.per_client)) - {r.client_seat for r in mine if held(r)}
    if not seats:
        raise ApplicationError(
            "rate_limited",
            "您已有文件正在验真，请等它完成后再上传下一份。",
            details={
                "max_concurrent_checks": config.per_client,
                "retry_after_seconds": config.retry_after_seconds,
            },
        )
    if stale := [r.number for r in mine if not held(r)]:
        # This client's lapsed leases still hold their seats in the unique constraint: give them back
        # (only while still lapsed: a slot taken again since has a lease in the future).
        CheckSlot.objects.filter(number__in=stale, expires_at__lte=now).update(**_FREE)
    by_number = {r.number: r for r in rows}
    for number in config.allowed(size):
        slot = by_number.get(number)
        if slot is None or held(slot):
            continue
        holder = secrets.token_hex(16)
        try:
            with transaction.atomic():
                taken = CheckSlot.objects.filter(Q(holder="") | Q(expires_at__lte=now), number=number).update(
                    holder=holder,
                    client=client,
                    client_seat=min(seats),
                    file_bytes=size,
                    taken_at=now,
                    expires_at=now + dt.timedelta(seconds=config.lease_seconds),
                )
        except IntegrityError as exc:
            raise _SeatTaken from exc
        if taken:
            return Lease(number=number, holder=holder)
        # Another check took this slot between our read and our update: try the next one.
    return None


def _slots() -> list[CheckSlot]:
    """Every slot row as of now (a few rows: reading them all is one short query). What they say may be
    stale by the time of the UPDATE: that is why the UPDATE compares before it sets."""
    return list(CheckSlot.objects.all())


def slot_release(lease: Lease) -> None:
    """Give the slot back, unless its lease ran out and another check has it now."""
    CheckSlot.objects.filter(number=lease.number, holder=lease.holder).update(**_FREE)


@contextlib.contextmanager
def check_slot(*, client: str, size: int) -> Iterator[Lease]:
    """Hold a slot for the duration of one check (see slot_take for the refusals)."""
    lease = slot_take(client=client, size=size)
    try:
        yield lease
    finally:
        slot_release(lease)


def slots_held(now: dt.datetime | None = None) -> list[CheckSlot]:
    """The slots held now (for monitoring and tests)."""
    now = now or clock.now()
    return list(CheckSlot.objects.exclude(holder="").filter(expires_at__gt=now).order_by("number"))

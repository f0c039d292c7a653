"""What a scan of the audit anchors finds (epolicy.anchoring.verify makes it, epolicy.audit.selectors
compares it with the chain): plain data, so the audit log depends on nothing above it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Literal


@dataclasses.dataclass(frozen=True)
class Anchor:
    """An anchor with a valid token (in at least one location)."""

    object_key: str
    seq: int
    hash: str
    key_id: str
    anchored_at: str
    timestamped_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class AnchorProblem:
    problem: Literal["anchor_invalid", "anchor_missing"]
    object_key: str
    seq: int | None
    location: str | None
    message: str


@dataclasses.dataclass(frozen=True)
class AnchorScan:
    anchors: tuple[Anchor, ...]  # by seq
    problems: tuple[AnchorProblem, ...]

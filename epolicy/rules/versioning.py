"""Effective-dated versions of rate and product tables: which data a figure came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class TableVersion:
    """Which version of which data file a figure came from (printed into quotes for audit)."""

    name: str
    effective_from: date
    effective_to: date | None = None  # inclusive
    source: str = ""
    confirmed: bool = True
    digest: str = ""

    def __post_init__(self) -> None:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(f"{self.name}: effective_to {self.effective_to} before {self.effective_from}")

    def covers(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    @property
    def label(self) -> str:
        text = f"{self.name}@{self.effective_from.isoformat()}"
        return f"{text}#{self.digest}" if self.digest else text

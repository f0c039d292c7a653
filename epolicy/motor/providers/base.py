"""The industry platform's claim history of a vehicle (车险信息平台), which drives the commercial NCD
(无赔款优待系数): an interface, a deterministic sandbox beside it, the insurer's adapter in production.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


class ClaimsHistoryUnavailable(Exception):
    """The platform did not answer (timeout, outage): the quote is refused and may be asked again."""


@dataclass(frozen=True)
class ClaimHistory:
    """What the platform says of one vehicle before a new commercial cover starts.

    `claims_by_year`: claims counted in each of the last cover years, most recent first (at most the 4
    the NCD rules look at); `insured_years`: consecutive cover years before this one; `lapse_months`:
    whole months between the end of the last cover and this start (0: continuous); `new_vehicle`: no
    earlier cover at all (a new car, or one whose owner changed, starts at level 0).
    """

    reference: str
    insured_years: int
    claims_by_year: tuple[int, ...]
    lapse_months: int
    new_vehicle: bool

    @property
    def claim_free_years(self) -> int:
        """Consecutive claim-free cover years, most recent first."""
        years = 0
        for claims in self.claims_by_year[: self.insured_years]:
            if claims:
                break
            years += 1
        return years

    @property
    def claims_last_year(self) -> int:
        return self.claims_by_year[0] if self.claims_by_year and self.insured_years else 0


class ClaimsHistoryProvider(Protocol):
    def history(self, *, vin: str, region_code: str, on: dt.date) -> ClaimHistory:
        """The vehicle's history as of `on`; raises ClaimsHistoryUnavailable when the platform fails."""
        ...

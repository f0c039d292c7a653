"""A sandbox of the industry platform's claim history, deterministic by VIN so tests and demos can
choose a history: the VIN's last digit (the serial's last character; a letter counts as 0) decides.

    0  new vehicle, no earlier cover                        → NCD level 0
    1  1 claim-free year          2  2 claim-free years    3  3 claim-free years
    4  4 or more claim-free years (the 4th year back checked as well)
    5  1 claim last year          6  2 claims last year     7  3 claims last year
    8  2 claim-free years, then a lapse of 8 months (more than 6: back to level 0)
    9  the platform times out on the first call for that VIN in a 10-minute window, then answers as 2
       (a retry succeeds, as with the real platform's transient failures)

A VIN whose serial ends in "99999" is an outage: every call fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.core.cache import cache

from .base import ClaimHistory, ClaimsHistoryUnavailable

_HISTORIES: dict[str, tuple[int, tuple[int, ...], int, bool]] = {
    "0": (0, (), 0, True),
    "1": (1, (0,), 0, False),
    "2": (2, (0, 0), 0, False),
    "3": (3, (0, 0, 0), 0, False),
    "4": (4, (0, 0, 0, 0), 0, False),
    "5": (3, (1, 0, 0), 0, False),
    "6": (3, (2, 0, 0), 0, False),
    "7": (3, (3, 0, 0), 0, False),
    "8": (2, (0, 0), 8, False),
}


class SandboxClaimsHistory:
    def history(self, *, vin: str, region_code: str, on: dt.date) -> ClaimHistory:
        vin = vin.strip().upper()
        if vin.endswith("99999"):
            raise ClaimsHistoryUnavailable("sandbox outage")
        last = vin[-1:] if vin[-1:].isdigit() else "0"
        if last == "9":
            key = "sandbox-claims-history:" + hashlib.sha256(vin.encode()).hexdigest()[:32]
            if cache.add(key, 1, timeout=600):
                raise ClaimsHistoryUnavailable("sandbox timeout (first call)")
            last = "2"
        insured, claims, lapse, new = _HISTORIES[last]
        reference = "SBX-" + hashlib.sha256(f"{vin}|{on.isoformat()}".encode()).hexdigest()[:16].upper()
        return ClaimHistory(
            reference=reference,
            insured_years=insured,
            claims_by_year=claims,
            lapse_months=lapse,
            new_vehicle=new,
        )

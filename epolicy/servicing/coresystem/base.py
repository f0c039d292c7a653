"""The core-system port (life guide §6.5–6.6): validate, quote, apply and history of a policy change.

The platform talks to "the core system" through this port only. The built-in implementation is this
platform's own engine and services; the HTTP adapter speaks the JSON contract of
docs/core-system-contract.md to an insurer's existing core system. Inputs and outputs are small
JSON-able records, exactly what travels over that contract.

Errors: a refusal of the change is raised as `ChangeRefused` (code life_change_refused, every reason
in `.refusals`); any other coded refusal as `ApplicationError`; a core system that cannot be reached
or does not answer by the contract as `CoreSystemUnavailable`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from epolicy.common.errors import ApplicationError
from epolicy.rules.life import Refusal


class CoreSystemUnavailable(ApplicationError):
    """The core system did not answer by the contract (unreachable, 5xx after retries, bad signature,
    refused our credentials); nothing can be said about the change: an apply may be retried with the
    same idempotency key. The customer sees code core_system_unavailable (503)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__("core_system_unavailable", details={"reason": reason})


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string")
    return value


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}: expected an integer")
    return value


@dataclass(frozen=True)
class ChangeRequest:
    """One change asked for: which policy, which item, its params, who asks, through which channel
    (api / console / self_service) and with what evidence of the requester's identity."""

    policy_number: str
    item: str
    params: dict[str, Any] = field(default_factory=dict)
    actor: str = "system"
    channel: str = "api"
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """What travels over the contract; the evidence as its summary (methods, results, provider
        references, times: no personal data leaves the platform)."""
        from ..evidence import evidence_summary

        return {
            "policy_number": self.policy_number,
            "item": self.item,
            "params": self.params,
            "actor": self.actor,
            "channel": self.channel,
            "evidence": evidence_summary(self.evidence),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeRequest:
        params = data.get("params", {})
        if not isinstance(params, dict):
            raise ValueError("params: expected an object")
        channel = data.get("channel", "api")
        if not isinstance(channel, str):
            raise ValueError("channel: expected a string")
        evidence = data.get("evidence") or {}
        if not isinstance(evidence, dict):
            raise ValueError("evidence: expected an object")
        return cls(
            _text(data, "policy_number"), _text(data, "item"), params, _text(data, "actor"), channel, evidence
        )


@dataclass(frozen=True)
class Reason:
    """One refusal reason: stable code, Chinese sentence, details."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, refusal: Refusal) -> Reason:
        return cls(refusal.code, refusal.message_zh, dict(refusal.details))

    def refusal(self) -> Refusal:
        return Refusal(self.code, self.message, self.details)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reason:
        details = data.get("details") or {}
        if not isinstance(details, dict):
            raise ValueError("details: expected an object")
        return cls(_text(data, "code"), _text(data, "message"), details)


@dataclass(frozen=True)
class QuoteResult:
    """The change worked out (ChangeQuote.to_json(): amounts as decimal strings) and its base version."""

    quote: dict[str, Any]
    based_on_version: int

    def to_json(self) -> dict[str, Any]:
        return {"quote": self.quote, "based_on_version": self.based_on_version}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QuoteResult:
        quote = data.get("quote")
        version = _optional_int(data, "based_on_version")
        if not isinstance(quote, dict) or version is None:
            raise ValueError("quote result: expected quote and based_on_version")
        return cls(quote, version)


@dataclass(frozen=True)
class ChangeRecord:
    """A change as the core system recorded it (applied, pending_review, rejected or failed)."""

    change_number: str
    policy_number: str
    item: str
    status: str
    idempotency_key: str
    based_on_version: int
    result_version: int | None
    effective_date: str  # ISO date
    amount_to_pay: str  # decimal string, yuan
    amount_to_receive: str
    endorsement_number: str
    created_at: str  # ISO 8601 with offset
    review_reason: str = ""
    # Not part of the record: this answer repeats the first one (same key, same request; nothing was
    # applied this time). Travels beside the record in an apply's answer ({"change", "replayed"}).
    replayed: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["replayed"]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeRecord:
        version = _optional_int(data, "based_on_version")
        if version is None:
            raise ValueError("based_on_version: expected an integer")
        return cls(
            change_number=_text(data, "change_number"),
            policy_number=_text(data, "policy_number"),
            item=_text(data, "item"),
            status=_text(data, "status"),
            idempotency_key=_text(data, "idempotency_key"),
            based_on_version=version,
            result_version=_optional_int(data, "result_version"),
            effective_date=_text(data, "effective_date"),
            amount_to_pay=_text(data, "amount_to_pay"),
            amount_to_receive=_text(data, "amount_to_receive"),
            endorsement_number=_text(data, "endorsement_number"),
            created_at=_text(data, "created_at"),
            review_reason=str(data.get("review_reason") or ""),
        )


class CoreSystem(Protocol):
    """Where policy changes are checked, worked out and made (life guide §6.5)."""

    name: str

    def validate(self, request: ChangeRequest) -> tuple[Reason, ...]:
        """Every reason the change cannot be made today; () when it can. Writes nothing."""
        ...

    def quote(self, request: ChangeRequest) -> QuoteResult:
        """The change worked out and the version it is based on; ChangeRefused if it cannot be made."""
        ...

    def apply(
        self, request: ChangeRequest, *, idempotency_key: str, expected_version: int | None = None
    ) -> ChangeRecord:
        """Make the change once per idempotency key (a repeat returns the first result, with
        `replayed` set)."""
        ...

    def history(self, policy_number: str) -> tuple[ChangeRecord, ...]:
        """The policy's changes, newest first."""
        ...

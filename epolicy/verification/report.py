"""The verifier's report as it comes back from a worker (JSON values), read defensively into plain types.

The worker sends whatever fields `epolicy.signing.verify` puts in its report (worker.plain); this module
reads the ones the page and the API show, tolerates any of them missing, and keeps the rest for the
API as they are. Nothing here trusts the shape of what it reads: a worker answer that is not what we
expect becomes `check_failed`, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from epolicy.signing.verify import MESSAGES as VERIFIER_MESSAGES

# Result codes of this service on top of the verifier's (docs/verification.md lists them all).
MESSAGES: dict[str, str] = {
    "check_timeout": "文件过于复杂，无法在规定时间内完成验证，请向保险公司重新获取电子保单。",
    "check_failed": (
        "文件过于复杂或结构异常，超出了验真服务的处理能力，未能完成验证。"
        "请向保险公司重新获取电子保单；如仍有问题，请联系客服。"
    ),
    "policy_not_found": "签名有效，但没有找到对应的保单记录，请联系保险公司核实。",
}

# The five checks of a signature (motor standard §3.8, §6.4): stable key, and the label on the page.
CHECKS: tuple[tuple[str, str], ...] = (
    ("integrity", "完整性"),
    ("chain", "证书链"),
    ("revocation", "吊销状态"),
    ("timestamp", "时间戳"),
    ("modification", "签后修改"),
)
_KEY_OF = {label: key for key, label in CHECKS} | {key: key for key, _ in CHECKS}
_LABEL_OF = dict(CHECKS)

ROLE_LABELS = {"insurer": "保险公司电子签章", "applicant": "投保人电子签名"}


def message_for(code: str) -> str:
    return MESSAGES.get(code) or VERIFIER_MESSAGES.get(code) or MESSAGES["check_failed"]


@dataclass(frozen=True)
class SignatureCheck:
    key: str  # integrity | chain | revocation | timestamp | modification (or the verifier's own name)
    label: str  # 完整性 …
    ok: bool
    message_zh: str

    def as_json(self) -> dict[str, object]:
        return {"key": self.key, "name": self.label, "ok": self.ok, "message": self.message_zh}


@dataclass(frozen=True)
class SignatureReport:
    field_name: str
    signer_name: str
    signer_role: str
    signing_time: str | None
    timestamp_time: str | None
    intact: bool
    trusted: bool
    covers_whole_file: bool
    valid: bool
    checks: tuple[SignatureCheck, ...]
    # True when the verifier gave no per-signature checks and they were read off the flags above.
    checks_derived: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.signer_role, "其他签名")

    def as_json(self) -> dict[str, object]:
        return {
            **self.extra,
            "field": self.field_name,
            "signer": self.signer_name,
            "signer_role": self.signer_role,
            "signing_time": self.signing_time,
            "timestamp_time": self.timestamp_time,
            "intact": self.intact,
            "trusted": self.trusted,
            "covers_whole_file": self.covers_whole_file,
            "valid": self.valid,
            "checks": [c.as_json() for c in self.checks],
        }


@dataclass(frozen=True)
class CheckReport:
    """What the verifier said about the file (or why it could not say anything)."""

    code: str
    message_zh: str
    document_sha256: str
    document_kind: str | None = None
    document_number: str | None = None
    signatures: tuple[SignatureReport, ...] = ()
    document_timestamps: tuple[dict[str, Any], ...] = ()
    lta: bool | None = None
    lta_valid_until: str | None = None
    has_dss: bool | None = None
    validation_time: str | None = None
    check_ms: float | None = None
    # What follows the last signature that no signature covers and that is not proven validation data
    # (one plain Chinese sentence each; code unsigned_additions).
    unsigned_additions: tuple[str, ...] = ()
    # Revisions after the last signature's (in a genuine file: proven validation data or timestamps);
    # None when the verifier did not say.
    updates_after_last_signature: int | None = None

    @property
    def genuine(self) -> bool:
        return self.code == "genuine"

    @property
    def completed(self) -> bool:
        """False when the check itself did not finish (time or memory limit, worker failure)."""
        return self.code not in ("check_timeout", "check_failed")

    @classmethod
    def stopped(cls, code: str, sha256: str, check_ms: float | None = None) -> CheckReport:
        return cls(code=code, message_zh=message_for(code), document_sha256=sha256, check_ms=check_ms)

    @classmethod
    def from_payload(cls, payload: dict[str, Any], sha256: str) -> CheckReport:
        """Read a worker payload; anything unexpected in it makes the report `check_failed`."""
        outcome = payload.get("outcome")
        check_ms = _number(payload.get("check_ms"))
        if outcome == "timeout":
            return cls.stopped("check_timeout", sha256, check_ms)
        if outcome != "ok":
            return cls.stopped("check_failed", sha256, check_ms)
        try:
            return cls._read(payload["report"], sha256, check_ms)
        except (KeyError, TypeError, ValueError, AttributeError):
            return cls.stopped("check_failed", sha256, check_ms)

    @classmethod
    def _read(cls, raw: dict[str, Any], sha256: str, check_ms: float | None) -> CheckReport:
        code = _text(raw["code"])
        if not code:
            raise ValueError("no code")
        if _text(raw.get("document_sha256")) not in (None, sha256):
            raise ValueError("the worker checked other bytes")  # cannot happen unless it is broken
        return cls(
            code=code,
            message_zh=_text(raw.get("message_zh")) or message_for(code),
            document_sha256=sha256,
            document_kind=_text(raw.get("document_kind")),
            document_number=_text(raw.get("document_number")),
            signatures=tuple(_signature(s) for s in raw.get("signatures") or ()),
            document_timestamps=tuple(dict(t) for t in raw.get("document_timestamps") or ()),
            lta=_flag(raw.get("lta")),
            lta_valid_until=_text(raw.get("lta_valid_until")),
            has_dss=_flag(raw.get("has_dss")),
            validation_time=_text(raw.get("validation_time")),
            check_ms=check_ms,
            unsigned_additions=tuple(_text(a) or "" for a in raw.get("unsigned_additions") or ()),
            updates_after_last_signature=_count(raw.get("updates_after_last_signature")),
        )


_KNOWN_SIGNATURE_FIELDS = {
    "field_name",
    "signer_name",
    "signer_role",
    "signing_time",
    "timestamp_time",
    "intact",
    "trusted",
    "covers_whole_file",
    "valid",
    "checks",
}


def _signature(raw: dict[str, Any]) -> SignatureReport:
    intact, trusted = bool(raw.get("intact")), bool(raw.get("trusted"))
    covers = bool(raw.get("covers_whole_file"))
    given = raw.get("checks")
    checks = tuple(_check(c) for c in given) if given else ()
    extra = {
        k: v
        for k, v in raw.items()
        if k not in _KNOWN_SIGNATURE_FIELDS and k not in ("signer_subject", "certificate_serial")
    }
    timestamp_time = _text(raw.get("timestamp_time"))
    return SignatureReport(
        field_name=_text(raw.get("field_name")) or "",
        signer_name=_text(raw.get("signer_name")) or "",
        signer_role=_text(raw.get("signer_role")) or "unknown",
        signing_time=_text(raw.get("signing_time")),
        timestamp_time=timestamp_time,
        intact=intact,
        trusted=trusted,
        covers_whole_file=covers,
        valid=bool(raw.get("valid")),
        checks=checks
        or _derived_checks(intact, trusted, covers, raw.get("modification_level"), timestamp_time),
        checks_derived=not checks,
        extra=extra,
    )


def _check(raw: dict[str, Any]) -> SignatureCheck:
    name = _text(raw.get("name")) or ""
    key = _KEY_OF.get(name, name)
    return SignatureCheck(
        key=key,
        label=_LABEL_OF.get(key, name),
        ok=bool(raw.get("ok")),
        message_zh=_text(raw.get("message_zh") or raw.get("message")) or "",
    )


def _derived_checks(
    intact: bool, trusted: bool, covers: bool, level: object, timestamp_time: str | None
) -> tuple[SignatureCheck, ...]:
    """Checks read off a report that has none (a verifier without per-signature checks)."""
    unmodified = covers or level in ("NONE", "LTA_UPDATES")
    rows = (
        (
            "integrity",
            intact,
            "签名值与文件内容一致，签章覆盖的内容未被改动。",
            "签名值与签章覆盖的内容不符：文件在签章后被改动或已损坏。",
        ),
        (
            "chain",
            trusted,
            "签章证书可追溯到本公司信任的根证书。",
            "签章证书不能追溯到本公司信任的根证书，或已不在有效期内。",
        ),
        (
            "timestamp",
            timestamp_time is not None,
            f"签章时间 {timestamp_time} 由时间戳证明。",
            "签章未附可信时间戳。",
        ),
        (
            "modification",
            unmodified,
            "签章后文件未被修改。",
            "签章后文件被修改过，签章不再对应当前内容。",
        ),
    )
    return tuple(
        SignatureCheck(key=key, label=_LABEL_OF[key], ok=ok, message_zh=good if ok else bad)
        for key, ok, good, bad in rows
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _flag(value: object) -> bool | None:
    return None if value is None else bool(value)


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

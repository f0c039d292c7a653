"""Deterministic sandbox identity providers that behave like the real services.

They keep their own books (SandboxRealNameCheck, SandboxIdentitySession: what a vendor keeps on its
servers; names and ID numbers encrypted, card and phone numbers masked) and show their hosted pages at
/sandbox/identity/face/<reference>/ and /sandbox/identity/video/<reference>/, where a tester picks the
outcome. The rules below are the whole behaviour; docs/identity-providers.md has them as a table.

Real-name four-element check, in this order (the first rule that applies decides):
  1. a bank card whose digits end in 9999: the FIRST call of each request_id records the result and
     then raises ProviderUnavailable (the vendor did the check, its answer was lost); a retry with the
     same request_id answers the recorded result (by rules 2-8);
  2. name shorter than 2 or longer than 30 characters -> failed;
  3. ID number not a valid GB 11643 number (format, birth date, check character) -> failed;
  4. bank card not 16-19 digits with a Luhn check digit -> failed;
  5. phone not a mainland mobile number -> failed;
  6. bank card ending in 0000 -> failed 银行卡与身份信息不一致;
  7. phone ending in 0000 -> failed 手机号码与银行预留手机号不一致;
  8. otherwise passed.

Face and video sessions:
  - start with an ID number whose sequence code (digits 15-17) is 999: the first start of each
    request_id opens the session and then raises ProviderUnavailable; the retry returns that session;
  - start with a name or ID number that rules 2-3 refuse: the session is failed at once;
  - otherwise the session is pending until the page is used (the outcome buttons below), and a
    pending session past expires_at (face 10 minutes, video 30 minutes) is "expired";
  - the outcome "…（首次查询超时）" makes the next result query raise ProviderUnavailable once.

The simulated timeouts are written to these books before the exception: a caller that asks inside its
own transaction rolls them back with its work, and then times out again on every retry (base.py: call
providers outside a transaction, as a vendor's books would not roll back either).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse

from epolicy.common import clock
from epolicy.common.crypto import blind_index
from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import validate_bank_card, validate_id_number, validate_phone
from epolicy.common.masking import mask_bank_card, mask_phone

from ..models import SandboxIdentitySession, SandboxRealNameCheck
from .base import (
    FaceResult,
    FaceSession,
    ProviderUnavailable,
    RealNameResult,
    UnknownReference,
    VideoResult,
    VideoSession,
)

log = logging.getLogger(__name__)

# --- the magic values (docs/identity-providers.md) ----------------------------------------------
NAME_LENGTH = (2, 30)
REALNAME_TIMEOUT_CARD_SUFFIX = "9999"
REALNAME_MISMATCH_CARD_SUFFIX = "0000"
REALNAME_MISMATCH_PHONE_SUFFIX = "0000"
SESSION_TIMEOUT_ID_SEQUENCE = "999"  # digits 15-17 of the ID number
ID_SEQUENCE = slice(14, 17)
FACE_SESSION_MINUTES = 10
VIDEO_SESSION_MINUTES = 30
FACE_SCORE_MATCH = 0.93
FACE_SCORE_LOW = 0.72  # passed by the sandbox, below a strict caller threshold
FACE_SCORE_MISMATCH = 0.41
SANDBOX_AGENT = "沙箱坐席 A001"
REQUEST_ID_MAX = 64

REASON_NAME = "姓名格式不正确（2–30 个字），请核对。"
REASON_ID_NUMBER = "身份证号码不正确，请核对。"
REASON_BANK_CARD = "银行卡号不正确，请核对卡号。"
REASON_PHONE = "手机号码不正确，请填写银行预留的 11 位手机号码。"
REASON_CARD_MISMATCH = "银行卡与身份信息不一致"
REASON_PHONE_MISMATCH = "手机号码与银行预留手机号不一致"
REASON_PERSON = "姓名或身份证号码有误，无法与公安身份信息比对，请核对。"


# --- shared checks ------------------------------------------------------------------------------


def _check_request_id(request_id: str) -> None:
    if not request_id or len(request_id) > REQUEST_ID_MAX:
        raise ValueError(f"request_id must be 1-{REQUEST_ID_MAX} characters")


def _check_return_url(url: str) -> None:
    """Like a vendor's registered callback domain: only the platform's own site."""
    site, target = urlsplit(settings.SITE_URL), urlsplit(url)
    if (target.scheme, target.netloc) != (site.scheme, site.netloc):
        raise ValueError("return_url must be an absolute URL on settings.SITE_URL")


def _fingerprint(*parts: str) -> str:
    return blind_index("\x1f".join(parts), context="identity.sandbox.request")


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _person_problem(name: str, id_number: str) -> str:
    """Why a name and ID number cannot belong to anybody ("" when they can)."""
    if not NAME_LENGTH[0] <= len(name.strip()) <= NAME_LENGTH[1]:
        return REASON_NAME
    try:
        validate_id_number(id_number, today=clock.today())
    except ApplicationError:
        return REASON_ID_NUMBER
    return ""


def realname_outcome(
    *, name: str, id_number: str, bank_card: str, phone: str
) -> tuple[Literal["passed", "failed"], str]:
    """The sandbox real-name verdict by rules 2-8 of the module docstring: (status, reason_zh)."""
    problem = _person_problem(name, id_number)
    if problem:
        return "failed", problem
    try:
        card = validate_bank_card(bank_card)
    except ApplicationError:
        return "failed", REASON_BANK_CARD
    try:
        mobile = validate_phone(phone)
    except ApplicationError:
        return "failed", REASON_PHONE
    if card.endswith(REALNAME_MISMATCH_CARD_SUFFIX):
        return "failed", REASON_CARD_MISMATCH
    if mobile.endswith(REALNAME_MISMATCH_PHONE_SUFFIX):
        return "failed", REASON_PHONE_MISMATCH
    return "passed", ""


# --- real-name ----------------------------------------------------------------------------------


class SandboxRealName:
    name = "sandbox"

    def verify(
        self, *, name: str, id_number: str, bank_card: str, phone: str, request_id: str
    ) -> RealNameResult:
        _check_request_id(request_id)
        card_digits = _digits(bank_card)
        fingerprint = _fingerprint(
            "realname", name.strip(), id_number.strip().upper(), card_digits, _digits(phone)
        )
        check = SandboxRealNameCheck.objects.filter(request_id=request_id).first()
        if check is None:
            status, reason = realname_outcome(
                name=name, id_number=id_number, bank_card=bank_card, phone=phone
            )
            try:
                with transaction.atomic():
                    check = SandboxRealNameCheck.objects.create(
                        request_id=request_id,
                        reference="RN" + secrets.token_hex(12).upper(),
                        fingerprint=fingerprint,
                        name=name.strip(),
                        id_number=id_number.strip().upper(),
                        bank_card_masked=mask_bank_card(card_digits)[:24],
                        phone_masked=mask_phone(phone)[:24],
                        status=status,
                        reason_zh=reason,
                        checked_at=clock.now(),
                    )
            except IntegrityError:
                check = None  # the same request arrived twice at once: the other one was recorded
            else:
                if card_digits.endswith(REALNAME_TIMEOUT_CARD_SUFFIX):
                    log.info("sandbox real-name %s: simulated timeout (rule 1)", check.reference)
                    raise ProviderUnavailable("realname", "sandbox: simulated timeout")
                return _realname_result(check)
            check = SandboxRealNameCheck.objects.get(request_id=request_id)
        if check.fingerprint != fingerprint:
            raise ValueError("request_id was already used for another real-name check")
        SandboxRealNameCheck.objects.filter(pk=check.pk).update(calls=F("calls") + 1)
        return _realname_result(check)


def _realname_result(check: SandboxRealNameCheck) -> RealNameResult:
    return RealNameResult(
        status="passed" if check.status == "passed" else "failed",
        reference=check.reference,
        reason_zh=check.reason_zh,
        checked_at=check.checked_at,
    )


# --- face and video sessions --------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One button of a sandbox page: what the simulated capture or agent decides."""

    label_zh: str
    status: Literal["passed", "failed"]
    reason_zh: str = ""
    liveness: bool | None = None
    score: float | None = None
    result_timeouts: int = 0  # result queries that time out before the answer comes
    primary: bool = True  # shown first; the others under "更多模拟情形"


class SandboxSessions:
    """What the face and video sandboxes share: sessions, their page, expiry, simulated timeouts."""

    name = "sandbox"
    kind: ClassVar[Literal["face", "video"]]
    session_minutes: ClassVar[int]
    outcomes: ClassVar[dict[str, Outcome]]

    def page_url(self, reference: str) -> str:
        return settings.SITE_URL + reverse(f"identity_sandbox:{self.kind}", args=[reference])

    def _open(self, *, name: str, id_number: str, request_id: str, return_url: str) -> SandboxIdentitySession:
        _check_request_id(request_id)
        _check_return_url(return_url)
        fingerprint = _fingerprint(self.kind, name.strip(), id_number.strip().upper())
        session = SandboxIdentitySession.objects.filter(kind=self.kind, request_id=request_id).first()
        if session is None:
            now = clock.now()
            problem = REASON_PERSON if _person_problem(name, id_number) else ""
            try:
                with transaction.atomic():
                    session = SandboxIdentitySession.objects.create(
                        kind=self.kind,
                        reference=secrets.token_urlsafe(32),
                        request_id=request_id,
                        fingerprint=fingerprint,
                        name=name.strip(),
                        id_number=id_number.strip().upper(),
                        return_url=return_url,
                        status="failed" if problem else "pending",
                        reason_zh=problem,
                        created_at=now,
                        expires_at=now + dt.timedelta(minutes=self.session_minutes),
                        completed_at=now if problem else None,
                    )
            except IntegrityError:
                session = SandboxIdentitySession.objects.get(kind=self.kind, request_id=request_id)
            else:
                if id_number.strip()[ID_SEQUENCE] == SESSION_TIMEOUT_ID_SEQUENCE:
                    log.info("sandbox %s session %s: simulated timeout", self.kind, session.pk)
                    raise ProviderUnavailable(self.kind, "sandbox: simulated timeout")
                return session
        if session.fingerprint != fingerprint:
            raise ValueError(f"request_id was already used for another {self.kind} session")
        return session

    def _answered(self, reference: str) -> SandboxIdentitySession:
        """The session a result query reads, after any simulated timeout that is due."""
        with transaction.atomic():
            session = (
                SandboxIdentitySession.objects.select_for_update()
                .filter(kind=self.kind, reference=reference)
                .first()
            )
            if session is None:
                raise UnknownReference(f"no sandbox {self.kind} session with this reference")
            timeout = session.result_timeouts_due > 0
            if timeout:
                session.result_timeouts_due -= 1
                session.save(update_fields=["result_timeouts_due"])
        if timeout:
            raise ProviderUnavailable(self.kind, "sandbox: simulated timeout of a result query")
        return session

    @staticmethod
    def status_of(session: SandboxIdentitySession) -> Literal["pending", "passed", "failed", "expired"]:
        if session.status == "passed":
            return "passed"
        if session.status == "failed":
            return "failed"
        return "expired" if clock.now() >= session.expires_at else "pending"

    # --- the hosted page's side ---------------------------------------------------------------
    def session(self, reference: str) -> SandboxIdentitySession | None:
        return SandboxIdentitySession.objects.filter(kind=self.kind, reference=reference).first()

    def complete(self, *, reference: str, outcome: str) -> bool:
        """The tester picked an outcome on the page; False when the session is no longer open."""
        spec = self.outcomes.get(outcome)
        if spec is None:
            raise ValueError(f"unknown {self.kind} outcome {outcome!r}")
        with transaction.atomic():
            session = (
                SandboxIdentitySession.objects.select_for_update()
                .filter(kind=self.kind, reference=reference)
                .first()
            )
            if session is None:
                raise UnknownReference(f"no sandbox {self.kind} session with this reference")
            if self.status_of(session) != "pending":
                return False
            session.status = spec.status
            session.outcome = outcome
            session.reason_zh = spec.reason_zh
            session.liveness = spec.liveness
            session.score = spec.score
            session.result_timeouts_due = spec.result_timeouts
            if self.kind == "video":
                session.recording_reference = "REC" + secrets.token_hex(10).upper()
                session.agent = SANDBOX_AGENT
            session.completed_at = clock.now()
            session.save()
        log.info("sandbox %s session %s: outcome %s", self.kind, session.pk, outcome)
        return True


class SandboxFace(SandboxSessions):
    kind = "face"
    session_minutes = FACE_SESSION_MINUTES
    outcomes = {
        "pass": Outcome("完成人脸识别（通过）", "passed", liveness=True, score=FACE_SCORE_MATCH),
        "mismatch": Outcome(
            "模拟识别不通过",
            "failed",
            "人脸与公安身份证照片比对不一致，请本人重新识别或改用视频认证。",
            liveness=True,
            score=FACE_SCORE_MISMATCH,
        ),
        "spoof": Outcome(
            "模拟活体检测失败",
            "failed",
            "活体检测未通过，请本人正对手机、在光线充足处重新识别。",
            liveness=False,
        ),
        "low": Outcome(
            f"通过，但相似度偏低（{FACE_SCORE_LOW}）",
            "passed",
            liveness=True,
            score=FACE_SCORE_LOW,
            primary=False,
        ),
        "pass_slow": Outcome(
            "通过（首次查询结果超时）",
            "passed",
            liveness=True,
            score=FACE_SCORE_MATCH,
            result_timeouts=1,
            primary=False,
        ),
    }

    def start(self, *, name: str, id_number: str, request_id: str, return_url: str) -> FaceSession:
        session = self._open(name=name, id_number=id_number, request_id=request_id, return_url=return_url)
        return FaceSession(
            reference=session.reference,
            capture_url=self.page_url(session.reference),
            expires_at=session.expires_at,
        )

    def result(self, *, reference: str) -> FaceResult:
        session = self._answered(reference)
        return FaceResult(
            status=self.status_of(session),
            liveness=session.liveness,
            score=session.score,
            reason_zh=session.reason_zh,
            completed_at=session.completed_at,
        )


class SandboxVideo(SandboxSessions):
    kind = "video"
    session_minutes = VIDEO_SESSION_MINUTES
    outcomes = {
        "confirmed": Outcome("坐席确认本人", "passed"),
        "rejected": Outcome("坐席判定非本人", "failed", "视频认证未通过：坐席无法确认为本人。"),
        "confirmed_slow": Outcome(
            "坐席确认本人（首次查询结果超时）", "passed", result_timeouts=1, primary=False
        ),
    }

    def start(self, *, name: str, id_number: str, request_id: str, return_url: str) -> VideoSession:
        session = self._open(name=name, id_number=id_number, request_id=request_id, return_url=return_url)
        return VideoSession(
            reference=session.reference,
            room_url=self.page_url(session.reference),
            expires_at=session.expires_at,
        )

    def result(self, *, reference: str) -> VideoResult:
        session = self._answered(reference)
        return VideoResult(
            status=self.status_of(session),
            recording_reference=session.recording_reference,
            agent=session.agent,
            reason_zh=session.reason_zh,
            completed_at=session.completed_at,
        )

"""The identity-check ports (life guide §6.2.2.2 实名认证, §6.2.2.4 视频识别, §6.2.2.5 生物识别).

Three outside services, each chosen by a dotted path in settings.PROVIDERS ("realname", "face",
"video") and loaded with epolicy.common.providers.get_provider(kind):

- real-name four-element check: ID number + name + bank card + the phone the bank holds for the card;
- face verification: liveness on the customer's phone, then a comparison with the ID-card photo held
  by the public-security source; the customer is sent to the provider's capture page and comes back;
- video session: a recorded session with a human agent (the fallback when face verification fails).

Rules every implementation keeps:
- `request_id` is the caller's id of one attempt. Calling again with the same request_id (after a
  timeout, a crash, a double click) is the same request: the same result, the same session, never a
  second charge at the vendor. A new attempt takes a new request_id.
- A timeout or outage raises ProviderUnavailable: the outcome is unknown, so the caller retries with
  the same request_id (or tells the customer to try again: ApplicationError
  "identity_provider_unavailable"). Everything else is an answer: "failed" is not an error.
- Call a provider outside a database transaction: a remote call must not hold locks, and the
  provider's own books (a vendor's servers, the sandbox's tables) must not vanish with a rollback.
- Never log names, ID numbers, card numbers or phone numbers; references and request ids may be logged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Protocol

from epolicy.common.errors import ApplicationError

UNAVAILABLE_CODE = "identity_provider_unavailable"


class ProviderUnavailable(Exception):
    """The service timed out or is down: nothing is known about the outcome; retry the same request_id."""

    code = UNAVAILABLE_CODE

    def __init__(self, kind: str, detail: str = ""):
        self.kind = kind  # "realname", "face" or "video"
        self.detail = detail  # for the log: never personal data
        super().__init__(f"{kind} provider unavailable" + (f": {detail}" if detail else ""))

    def as_application_error(self) -> ApplicationError:
        """What the caller raises to the customer: 503, 服务繁忙，请稍后重试."""
        return ApplicationError(self.code, details={"provider": self.kind, "retryable": True})


class UnknownReference(LookupError):
    """The provider has no session under this reference (a typo, another environment's reference)."""


# --- real-name four-element check ---------------------------------------------------------------


@dataclass(frozen=True)
class RealNameResult:
    status: Literal["passed", "failed"]
    reference: str  # the provider's id of this check (for the evidence record and disputes)
    reason_zh: str  # why it failed, in words the customer may see ("" when passed)
    checked_at: dt.datetime


class RealNameProvider(Protocol):
    name: str

    def verify(
        self, *, name: str, id_number: str, bank_card: str, phone: str, request_id: str
    ) -> RealNameResult:
        """Check that the bank card is the person's and the phone is the one the bank holds for it.

        Idempotent on request_id: the same request_id answers the first result (a request_id reused
        with other data is a programming error: ValueError). Raises ProviderUnavailable on a timeout or
        outage (retry with the same request_id).
        """
        ...


# --- face verification (liveness + comparison with the public-security photo) -------------------


@dataclass(frozen=True)
class FaceSession:
    reference: str  # unguessable: whoever holds capture_url can take the capture
    capture_url: str  # where the customer's browser goes; it comes back to return_url
    expires_at: dt.datetime


@dataclass(frozen=True)
class FaceResult:
    status: Literal["pending", "passed", "failed", "expired"]
    liveness: bool | None  # None until a capture was made
    score: float | None  # similarity 0..1 to the ID-card photo; None when there was no live face
    reason_zh: str
    completed_at: dt.datetime | None


class FaceProvider(Protocol):
    name: str

    def start(self, *, name: str, id_number: str, request_id: str, return_url: str) -> FaceSession:
        """Open a capture session for this person; the same request_id returns the same session.

        return_url must be on the platform's own site (settings.SITE_URL), like a vendor's registered
        callback domain. Raises ProviderUnavailable on a timeout or outage.
        """
        ...

    def result(self, *, reference: str) -> FaceResult:
        """The session's state. "passed" means a live face was captured and compared; the provider
        reports the similarity `score`, and the CALLER decides whether the score is high enough (its
        own threshold, by the risk of the change): a "passed" with a score below the caller's threshold
        is a failure for the caller. "failed" means the provider itself refused (no live face, no
        photo on file). Raises UnknownReference, or ProviderUnavailable on a timeout or outage.
        """
        ...


# --- video session with a human agent ------------------------------------------------------------


@dataclass(frozen=True)
class VideoSession:
    reference: str  # unguessable: whoever holds room_url can join the session
    room_url: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class VideoResult:
    status: Literal["pending", "passed", "failed", "expired"]
    recording_reference: str  # the provider's id of the recording ("" until the session was held)
    agent: str  # the agent's work number or name, as the provider reports it
    reason_zh: str
    completed_at: dt.datetime | None


class VideoProvider(Protocol):
    name: str

    def start(self, *, name: str, id_number: str, request_id: str, return_url: str) -> VideoSession:
        """Open a session room for this person; the same request_id returns the same session.
        Raises ProviderUnavailable on a timeout or outage."""
        ...

    def result(self, *, reference: str) -> VideoResult:
        """The agent's verdict ("passed": the agent confirmed the person; "failed": not the person).
        Raises UnknownReference, or ProviderUnavailable on a timeout or outage."""
        ...

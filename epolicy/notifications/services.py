"""The notification service: the domain emits an event, each channel's message is rendered and recorded,
and an outbox job per channel delivers it after the emitter's commit, retried until it is sent.

    notification = notify(event="life.change_applied", recipient=Recipient(phone=..., email=...),
                          context={...}, attachments=(Attachment(obj.pk, "E123.pdf"),),
                          dedupe_key=change.number, actor="system")

Delivery is at least once: a process killed after the gateway accepted a message and before it was
recorded sends it again on the retry (no gateway lets a sender know for sure). E-mails keep one
Message-ID per notification, so mail servers and clients see the repeat as the same message; SMS and
WeChat gateways get the delivery's stable reference (WeChat's client_msg_id).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from epolicy.archive.models import ArchivedObject
from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.failpoints import failpoint
from epolicy.common.providers import get_provider
from epolicy.ops.models import OutboxJob
from epolicy.ops.outbox import NOTIFY_EMAIL, NOTIFY_SMS, NOTIFY_WECHAT, outbox_enqueue, outbox_run

from .channels import SENDERS, DeliveryError
from .events import EventKind, event_kind, render
from .masking import mask_address
from .models import DEDUPE_KEY_MAX, Delivery, Notification, NotificationAttachment

log = logging.getLogger("epolicy.notifications")

# The outbox kind that delivers each channel (epolicy.ops.outbox.KINDS).
JOB_KINDS = {"sms": NOTIFY_SMS, "email": NOTIFY_EMAIL, "wechat": NOTIFY_WECHAT}


@dataclass(frozen=True)
class Recipient:
    """Where the customer is reached; a blank address skips its channel. Never shown in a repr."""

    phone: str = field(default="", repr=False)
    email: str = field(default="", repr=False)
    wechat_openid: str = field(default="", repr=False)

    def address(self, channel: str) -> str:
        value = {"sms": self.phone, "email": self.email, "wechat": self.wechat_openid}[channel]
        return (value or "").strip()


@dataclass(frozen=True)
class Attachment:
    """A file for the e-mail: an archived object, read (and hash-checked) when the e-mail is sent."""

    archived_object_id: int
    filename: str  # shown to the customer; never personal data (e.g. "<policy number>.pdf")
    content_type: str = "application/pdf"


# --- emitting ---------------------------------------------------------------------------------------------
def notify(
    *,
    event: str,
    recipient: Recipient,
    context: dict[str, Any],
    attachments: tuple[Attachment, ...] = (),
    dedupe_key: str,
    actor: str,
) -> Notification:
    """Record `event` for the recipient with one delivery per channel, sent after the caller commits.

    Call it inside the transaction of the change it tells about: the notification and its jobs commit
    with the change or not at all. Idempotent on (event, dedupe_key): emitting again returns the first
    notification and sends nothing more. A channel without an address is recorded as skipped.
    Raises ValueError for an unknown event, a missing context variable or a missing attachment.
    """
    kind = event_kind(event)
    kind.check_context(context)
    if not 0 < len(dedupe_key) <= DEDUPE_KEY_MAX:
        raise ValueError(f"dedupe_key must be 1 to {DEDUPE_KEY_MAX} characters")
    if attachments and "email" not in kind.channels:
        raise ValueError(f"event {event} has no e-mail channel to carry attachments")
    with transaction.atomic():
        existing = Notification.objects.filter(event=event, dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
        wanted = {a.archived_object_id for a in attachments}
        if ArchivedObject.objects.filter(pk__in=wanted).count() != len(wanted):
            raise ValueError("an attachment names an archived object that does not exist")
        # Rendered before anything is written: a broken template fails the caller, not a job later.
        plans = [_plan(kind, channel, recipient, context, dedupe_key) for channel in kind.channels]
        now = clock.now()
        try:
            with transaction.atomic():  # a concurrent emit of the same key wins; this one returns it
                notification = Notification.objects.create(
                    event=event, dedupe_key=dedupe_key, actor=actor[:150], created_at=now
                )
        except IntegrityError:
            return Notification.objects.get(event=event, dedupe_key=dedupe_key)
        NotificationAttachment.objects.bulk_create(
            NotificationAttachment(
                notification=notification,
                archived_object_id=a.archived_object_id,
                filename=a.filename,
                content_type=a.content_type,
            )
            for a in attachments
        )
        for channel, address, payload, skip_reason in plans:
            delivery = Delivery.objects.create(
                notification=notification,
                channel=channel,
                status=Delivery.Status.SKIPPED if skip_reason else Delivery.Status.PENDING,
                address=address,
                address_masked=mask_address(channel, address),
                payload=payload,
                skip_reason=skip_reason,
                created_at=now,
            )
            if not skip_reason:
                outbox_enqueue(kind=JOB_KINDS[channel], subject=delivery.pk, reference=dedupe_key[:64])
    return notification


def _plan(
    kind: EventKind, channel: str, recipient: Recipient, context: dict[str, Any], dedupe_key: str
) -> tuple[str, str, dict[str, Any], str]:
    """(channel, address, rendered message, skip reason) of one channel."""
    address = recipient.address(channel)
    if not address:
        return channel, "", {}, "no_address"
    template_id = ""
    if channel == "wechat":
        template_id = get_provider("wechat").template_for(kind.name)
        if not template_id:
            return channel, address, {}, "not_configured"
    payload = render(kind, channel, context, dedupe_key=dedupe_key, wechat_template_id=template_id)
    return channel, address, payload, ""


def notification_deliver_now(*, notification: Notification) -> None:
    """Send the notification's pending deliveries at once, in this process (a customer waits for a code).

    Call it after the transaction that emitted the notification has committed. It runs the same outbox
    jobs (claimed with their lease), so a worker that picks them up too does nothing twice; a failure
    leaves them to the outbox's retries.
    """
    subjects = [
        str(pk)
        for pk in notification.deliveries.filter(
            status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED], gave_up_at__isnull=True
        ).values_list("pk", flat=True)
    ]
    for job_id in OutboxJob.objects.filter(kind__in=JOB_KINDS.values(), subject__in=subjects).values_list(
        "pk", flat=True
    ):
        outbox_run(job_id)


# --- delivering (the outbox job) ----------------------------------------------------------------------------
def delivery_send(*, delivery_id: int) -> str:
    """Send one delivery unless it is done, and record the attempt; idempotent.

    Returns the delivery's status. Raises DeliveryError (its code only) when the attempt failed and
    another may succeed: the outbox tries again with back-off. A failure no retry can cure (a refused
    address, an expired code, a purged attachment) is recorded and ends the job.
    """
    delivery = Delivery.objects.select_related("notification").get(pk=delivery_id)
    if delivery.status in (Delivery.Status.SENT, Delivery.Status.SKIPPED) or delivery.gave_up_at:
        return delivery.status
    kind = event_kind(delivery.notification.event)
    expiry = kind.expires_after()
    if expiry is not None and clock.now() > delivery.notification.created_at + expiry:
        _record_failure(delivery, kind, "expired", permanent=True)
        return Delivery.Status.FAILED
    failpoint(f"notification.{delivery.channel}.before_send")
    try:
        sent = SENDERS[delivery.channel](delivery)
    except DeliveryError as exc:
        _record_failure(delivery, kind, exc.code, permanent=exc.permanent)
        if exc.permanent:
            return Delivery.Status.FAILED
        raise
    except Exception as exc:
        # A bug or an outage we did not foresee: its message may carry personal data; keep the class.
        code = f"internal_{exc.__class__.__name__}"[:64]
        _record_failure(delivery, kind, code, permanent=False)
        raise DeliveryError(code) from None
    now = clock.now()
    changes: dict[str, Any] = {
        "status": Delivery.Status.SENT,
        "attempts": F("attempts") + 1,
        "last_attempt_at": now,
        "sent_at": now,
        "last_error_code": "",
        "provider": sent.provider[:40],
        "provider_message_id": sent.message_id[:128],
    }
    if kind.secret:
        changes["payload"] = {}  # the code has done its work; it is not kept
    Delivery.objects.filter(pk=delivery.pk).update(**changes)
    log.info("notification %s: %s sent (%s)", delivery.notification_id, delivery.channel, sent.provider)
    return Delivery.Status.SENT


def _record_failure(delivery: Delivery, kind: EventKind, code: str, *, permanent: bool) -> None:
    now = clock.now()
    changes: dict[str, Any] = {
        "status": Delivery.Status.FAILED,
        "last_attempt_at": now,
        "last_error_code": code[:64],
    }
    if code != "expired":  # not an attempt: nothing was sent
        changes["attempts"] = F("attempts") + 1
    if permanent:
        changes["gave_up_at"] = now
        if kind.secret:
            changes["payload"] = {}
    Delivery.objects.filter(pk=delivery.pk).update(**changes)
    log.warning(
        "notification %s: %s attempt failed (%s)%s",
        delivery.notification_id,
        delivery.channel,
        code,
        "; not retried" if permanent else "",
    )


# --- staff ------------------------------------------------------------------------------------------------
def delivery_retry(*, delivery_id: int, actor: str) -> Delivery:
    """Staff asks for another attempt of a failed delivery at once (the console's 重新发送); audited."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("notification")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            raise ApplicationError("not_found", "没有这条通知记录。")
        if delivery.status != Delivery.Status.FAILED:
            raise ApplicationError("delivery_state")
        if not delivery.payload:  # a code's message, erased when it was given up
            raise ApplicationError("delivery_state", "验证码短信已失效，不能重发；请客户重新获取验证码。")
        if delivery.gave_up_at is not None:
            delivery.gave_up_at = None
            delivery.save(update_fields=["gave_up_at"])
        outbox_enqueue(
            kind=JOB_KINDS[delivery.channel],
            subject=delivery.pk,
            reference=delivery.notification.dedupe_key[:64],
            reopen=True,
        )
        audit_record(
            action="notification.retry_requested",
            actor=actor,
            subject_type="notification_delivery",
            subject_id=str(delivery.pk),
            data={
                "event": delivery.notification.event,
                "dedupe_key": delivery.notification.dedupe_key,
                "channel": delivery.channel,
                "attempts": delivery.attempts,
                "last_error_code": delivery.last_error_code,
            },
        )
    return delivery

"""Sending one delivery on its channel through the configured provider.

Every failure becomes a `DeliveryError` with a stable code (docs/notifications.md lists them) and no
message of its own: provider and SMTP exceptions can carry the address, and the outbox logs what the
handler raises. `permanent` says whether trying again can help.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from epolicy.archive.services import archive_read
from epolicy.common.errors import ApplicationError
from epolicy.common.providers import get_provider

from .models import Delivery, NotificationAttachment
from .providers.base import ProviderError


class DeliveryError(Exception):
    """A delivery attempt failed; `code` is recorded on the delivery and shown in the console."""

    def __init__(self, code: str, *, permanent: bool = False):
        super().__init__(code)
        self.code = code
        self.permanent = permanent


@dataclass(frozen=True)
class Sent:
    provider: str
    message_id: str


def _reference(delivery: Delivery) -> str:
    return f"epolicy-{delivery.pk}"


def send_sms(delivery: Delivery) -> Sent:
    provider = get_provider("sms")
    try:
        message_id = provider.send(
            phone=delivery.address, text=delivery.payload["text"], reference=_reference(delivery)
        )
    except ProviderError as exc:
        raise DeliveryError(exc.code, permanent=exc.permanent) from None
    except OSError:
        raise DeliveryError("sms_unreachable") from None
    return Sent(provider.name, str(message_id))


def send_wechat(delivery: Delivery) -> Sent:
    provider = get_provider("wechat")
    payload = delivery.payload
    try:
        message_id = provider.send(
            openid=delivery.address,
            template_id=payload["template_id"],
            url=payload.get("url", ""),
            data=payload["data"],
            reference=_reference(delivery),
        )
    except ProviderError as exc:
        raise DeliveryError(exc.code, permanent=exc.permanent) from None
    except OSError:
        raise DeliveryError("wechat_unreachable") from None
    return Sent(provider.name, str(message_id))


def _attachment(att: NotificationAttachment) -> bytes:
    try:
        return archive_read(att.archived_object)
    except ApplicationError as exc:
        # A purged object stays gone; a damaged one may be restored (then a retry works).
        raise DeliveryError("attachment_unavailable", permanent=exc.code == "not_found") from None


def send_email(delivery: Delivery) -> Sent:
    payload = delivery.payload
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["body"],
        to=[delivery.address],
        # The same Message-ID on every attempt: a message sent twice after a crash is recognised as one.
        headers={"Message-ID": payload["message_id"]},
    )
    if payload.get("html"):
        message.attach_alternative(payload["html"], "text/html")
    for att in delivery.notification.attachments.select_related("archived_object"):
        message.attach(att.filename, _attachment(att), att.content_type)
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        permanent = all(code >= 500 for code, _msg in exc.recipients.values())
        raise DeliveryError("email_refused", permanent=permanent) from None
    except smtplib.SMTPResponseException:  # sender or data refused: may be the server's setup
        raise DeliveryError("email_refused") from None
    except OSError:  # connection refused, timeouts, TLS, other SMTP errors
        raise DeliveryError("email_unreachable") from None
    backend = str(settings.EMAIL_BACKEND).rsplit(".", 2)  # e.g. "smtp", "filebased"
    return Sent(backend[-2] if len(backend) > 2 else "email", payload["message_id"])


SENDERS: dict[str, Callable[[Delivery], Sent]] = {
    "sms": send_sms,
    "email": send_email,
    "wechat": send_wechat,
}

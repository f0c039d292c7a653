"""Sending SMS through the configured provider and e-policies by e-mail through Django's mail backends."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage

from epolicy.common import clock
from epolicy.common.masking import mask_email
from epolicy.common.providers import get_provider

from .models import EmailMessageLog

log = logging.getLogger(__name__)


def sms_send(*, phone: str, text: str) -> str:
    provider = get_provider("sms")
    return str(provider.send(phone=phone, text=text))


def email_send_policy(
    *, to: str, policy_number: str, applicant_name: str, pdf: bytes, verify_url: str
) -> bool:
    """E-mail the signed e-policy to the applicant (motor standard 6.1: sent to the e-mail on file)."""
    insurer = settings.INSURER
    subject = f"【{insurer['short_name']}】您的交强险电子保单 {policy_number}"
    body = (
        f"尊敬的{applicant_name}：\n\n"
        f"您投保的机动车交通事故责任强制保险已承保，保单号 {policy_number}。电子保单见附件（PDF），"
        f"带有{insurer['name']}的可靠电子签名，与纸质保单具有同等法律效力。\n\n"
        f"验真：上传附件到 {settings.SITE_URL}/verify/ ，或扫描保单右上角二维码（{verify_url}）。\n"
        f"查询与下载：{settings.SITE_URL}/query/\n\n"
        f"客服电话：{insurer['hotline']}\n{insurer['name']}\n"
    )
    # One Message-ID per policy: should a crash make the outbox send it again, mail clients and servers
    # recognise the same message.
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "epolicy.invalid"
    message = EmailMessage(
        subject=subject, body=body, to=[to], headers={"Message-ID": f"<epolicy.{policy_number}@{domain}>"}
    )
    message.attach(f"{policy_number}.pdf", pdf, "application/pdf")
    status, error = "sent", ""
    try:
        message.send(fail_silently=False)
    except OSError as exc:  # SMTP refusals and connection errors; the outbox retries later
        status, error = "failed", str(exc)[:300]
        log.warning("e-policy mail for %s failed: %s", policy_number, exc.__class__.__name__)
    EmailMessageLog.objects.create(
        to_masked=mask_email(to),
        subject=subject,
        policy_number=policy_number,
        status=status,
        error=error,
        created_at=clock.now(),
    )
    return status == "sent"

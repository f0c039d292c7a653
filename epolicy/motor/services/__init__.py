"""The e-application's writes (motor standard 4.2), by stage; the reads are in epolicy.motor.selectors
and a few are named here too for the callers that reach them through the services."""

from ..selectors import (
    APPLICATION_FORM,
    application_by_token,
    bundle_of,
    document_content,
    document_digest,
    link_expires_at,
    products_short_name,
    required_documents,
    unread_documents,
)
from .applications import application_approve, application_create, application_regenerate
from .confirmation import (
    OTP_PURPOSE,
    OTP_VALID_FOR_PAYMENT,
    application_document_served,
    application_mark_paid,
    application_otp_send,
    application_otp_verify,
    application_sign,
    require_ready_to_pay,
)

__all__ = [
    "APPLICATION_FORM",
    "OTP_PURPOSE",
    "OTP_VALID_FOR_PAYMENT",
    "application_approve",
    "application_by_token",
    "application_create",
    "application_document_served",
    "application_mark_paid",
    "application_otp_send",
    "application_otp_verify",
    "application_regenerate",
    "application_sign",
    "bundle_of",
    "document_content",
    "document_digest",
    "link_expires_at",
    "products_short_name",
    "require_ready_to_pay",
    "required_documents",
    "unread_documents",
]

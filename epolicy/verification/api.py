"""Public endpoints without login: captcha, policy query and download, and verification of a PDF."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files.uploadedfile import UploadedFile as DjangoUploadedFile
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Router, Schema, Status

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.request_meta import ClientInfo
from epolicy.identity.captcha import captcha_check, captcha_data_url, captcha_issue
from epolicy.identity.ratelimit import rate_limit_hit
from epolicy.policies.models import Policy
from epolicy.policies.selectors import download_token, policy_find, policy_from_download_token

from .services import policy_summary, verify_document

router = Router(tags=["public (query, download, verification)"])
VERIFY_PER_IP_PER_HOUR = 60


class CaptchaOut(Schema):
    captcha_id: str
    image: str


class QueryIn(Schema):
    policy_number: str
    id_number: str
    plate: str
    captcha_id: str
    captcha_answer: str


class EndorsementLink(Schema):
    number: str
    kind_name: str
    effective_on: str
    download_url: str


class QueryOut(Schema):
    summary: dict
    download_url: str
    mark_download_url: str | None = None
    # The e-policy set (motor standard 4.3.3 a): the policy, its e-endorsements and the mark.
    endorsements: list[EndorsementLink] = []


class ErrorOut(Schema):
    """The API's error body (config/api.py), declared where a handler answers an error itself."""

    code: str
    message: str
    details: dict


@router.post("/captcha", response=CaptchaOut, summary="获取图形验证码")
def new_captcha(request: HttpRequest) -> dict:
    captcha, answer = captcha_issue(client_key=ClientInfo.of(request).client_key)
    return {
        "captcha_id": captcha.token,
        "image": captcha_data_url(answer),
    }


def query_policy(*, request: HttpRequest, payload: QueryIn) -> tuple[Policy, str]:
    """Shared by the API and the query page: rate limit, captcha, three-fact match, download link."""
    rate_limit_hit(
        bucket="policy_query",
        client=ClientInfo.of(request).client_key,
        limit=settings.QUERY_MAX_PER_IP_PER_HOUR,
    )
    captcha_check(token=payload.captcha_id, answer=payload.captcha_answer)
    policy = policy_find(
        policy_number=payload.policy_number, id_number=payload.id_number, plate=payload.plate
    )
    return policy, f"{settings.SITE_URL}/api/v1/public/policies/download/{download_token(policy)}"


@router.post(
    "/policies/query", response=QueryOut, summary="保单查询（保单号 + 投保人证件号 + 车牌 + 验证码）"
)
def query(request: HttpRequest, payload: QueryIn) -> dict:
    policy, url = query_policy(request=request, payload=payload)
    mark = f"{url}?doc=mark" if policy.mark_document_id else None
    return {
        "summary": policy_summary(policy),
        "download_url": url,
        "mark_download_url": mark,
        "endorsements": endorsement_links(policy, url),
    }


def endorsement_links(policy: Policy, url: str) -> list[dict[str, str]]:
    """The policy's applied e-endorsements, oldest first, each downloadable with the same token."""
    from epolicy.motor.endorsements.selectors import applied_endorsements
    from epolicy.products.motor_endorsements import endorsement_catalogue

    return [
        {
            "number": e.number,
            "kind_name": endorsement_catalogue().kind(e.kind).label_zh,
            "effective_on": str(e.effective_on),
            "download_url": f"{url}?doc={e.number}",
        }
        for e in applied_endorsements(policy)
    ]


@router.get("/policies/download/{token}", summary="下载电子保单 PDF（查询后 15 分钟内有效）")
def download(request: HttpRequest, token: str) -> HttpResponse:
    from epolicy.archive.services import archive_read

    policy = policy_from_download_token(token)
    doc = request.GET.get("doc", "")
    if doc and doc != "mark":  # one of the policy's e-endorsements, by its number
        from epolicy.motor.endorsements.selectors import applied_endorsement

        e = applied_endorsement(doc, policy=policy)
        if e is None or e.document is None:
            raise ApplicationError("not_found", "该保单没有这个批单号的电子批单。")
        response = HttpResponse(archive_read(e.document), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{e.number}.pdf"'
        return response
    if doc == "mark":  # the electronic 交强险 mark of the same policy
        if policy.mark_document is None:
            raise ApplicationError("not_found", "该保单没有电子交强险标志（只有交强险保单有）。")
        response = HttpResponse(archive_read(policy.mark_document), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{policy.number}-mark.pdf"'
        return response
    response = HttpResponse(archive_read(policy.document), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{policy.number}.pdf"'
    return response


def verify_upload(*, request: HttpRequest, upload: DjangoUploadedFile | None) -> dict:
    """Shared by the API and the page: rate limit, size limit, then the bounded check and the report."""
    client = ClientInfo.of(request).client_key
    rate_limit_hit(
        bucket="verify",
        client=client,
        limit=getattr(settings, "VERIFY_MAX_PER_IP_PER_HOUR", VERIFY_PER_IP_PER_HOUR),
    )
    limit = settings.VERIFY_MAX_UPLOAD_BYTES
    if upload is None or not upload.size:
        raise ApplicationError("verify_file_missing", details={"field": "file"})
    if upload.size > limit:
        raise ApplicationError("verify_file_too_large", details={"field": "file", "max_bytes": limit})
    data = upload.read(limit + 1)
    if len(data) > limit:  # the declared size is the client's word; the bytes are what count
        raise ApplicationError("verify_file_too_large", details={"field": "file", "max_bytes": limit})
    result = verify_document(data, client=client)  # waits for a slot of the checks' queue (slots.py)
    return {**result.as_json(), "checked_at": clock.fmt_local(clock.now())}


def uploaded_file(request: HttpRequest) -> DjangoUploadedFile | None:
    """The "file" part of a multipart upload; None for any other body (including a broken multipart one)."""
    try:
        return request.FILES.get("file")
    except (MultiPartParserError, SuspiciousOperation):
        return None


_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary", "description": "电子保单 PDF"}},
                "required": ["file"],
            }
        }
    },
}


@router.post(
    "/verify",
    response={200: dict, 429: ErrorOut, 503: ErrorOut},
    summary="电子保单验真：上传 PDF，返回是否真实未被篡改",
    description=(
        "multipart/form-data，字段 file（不超过 10 MB）。每次验证在独立进程中运行，有时间与内存上限；"
        "报告的 code 见 docs/verification.md（check_timeout / check_failed 表示未能完成验证）。"
        "同时进行的验证有全平台与每个客户端的上限：繁忙时等待片刻，仍无空位则返回 503 verify_busy，"
        "同一客户端已有验证在进行时返回 429 rate_limited；两者都带 Retry-After 头。"
    ),
    openapi_extra={"requestBody": _UPLOAD_BODY},
)
def verify(request: HttpRequest, response: HttpResponse) -> dict | Status:
    # The body is read here, not by ninja, so that a broken multipart body is our clear 422 and not
    # a bare 400 page; the page shares verify_upload.
    try:
        return verify_upload(request=request, upload=uploaded_file(request))
    except ApplicationError as exc:
        retry_after = exc.details.get("retry_after_seconds")
        if retry_after is None:
            raise
        # The API's error body, plus the header an HTTP client or proxy acts on (busy, too many at once).
        response["Retry-After"] = str(int(retry_after))
        return Status(exc.status, exc.as_dict())


QR_NOT_FOUND = "没有找到与该二维码对应的电子保单。请扫描保单上的二维码，或上传 PDF 文件验真。"


@router.get(
    "/policies/{number}/verification",
    summary="二维码验真：保单状态及正本文件的 SHA-256（须带二维码中的验证码 c）",
)
def policy_verification(request: HttpRequest, number: str, c: str = "") -> dict:
    """What the e-policy's QR code shows. Policy numbers are sequential: without the random code printed
    in the QR link the answer is the same not_found for every number, so nothing can be enumerated."""
    rate_limit_hit(
        bucket="policy_verification",
        client=ClientInfo.of(request).client_key,
        limit=settings.POLICY_VERIFICATION_MAX_PER_CLIENT_PER_HOUR,
    )
    code = (c or "").strip()
    # Most codes scanned are policies': look for the policy first, for an e-endorsement only when no
    # policy has the number (the two kinds never share one: an endorsement's starts with E).
    policy = (
        Policy.objects.select_related("document").filter(number=number.strip().upper()).first()
        if 16 <= len(code) <= 64
        else None
    )
    if policy is None:
        endorsement = _endorsement_verification(number, code)
        if endorsement is not None:
            return endorsement
    if policy is None or not policy.verify_code or not hmac.compare_digest(policy.verify_code, code):
        raise ApplicationError("not_found", QR_NOT_FOUND)
    return {
        "policy_number": policy.number,
        "status": policy.get_status_display(),
        "confirmed_at": clock.fmt_local(policy.confirmed_at),
        "insurer": settings.INSURER["name"],
        "document_sha256": policy.document.sha256,
    }


def _endorsement_verification(number: str, code: str) -> dict | None:
    """An e-endorsement's QR code: the endorsement, the policy it amends and that policy's state now."""
    from epolicy.motor.endorsements.selectors import applied_endorsement
    from epolicy.products.motor_endorsements import endorsement_catalogue

    if not 16 <= len(code) <= 64:
        return None
    e = applied_endorsement(number)
    if e is None or e.document is None:
        return None
    if not e.verify_code or not hmac.compare_digest(e.verify_code, code):
        raise ApplicationError("not_found", QR_NOT_FOUND)
    return {
        "policy_number": e.policy.number,
        "endorsement_number": e.number,
        "change": endorsement_catalogue().kind(e.kind).label_zh,
        "effective_on": str(e.effective_on),
        "status": e.policy.get_status_display(),
        "confirmed_at": clock.fmt_local(e.applied_at) if e.applied_at else "",
        "insurer": settings.INSURER["name"],
        "document_sha256": e.document.sha256,
    }

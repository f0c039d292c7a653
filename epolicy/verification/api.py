"""Public endpoints without login: captcha, policy query and download, and verification of a PDF."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files.uploadedfile import UploadedFile as DjangoUploadedFile
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Router, Schema

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.request_meta import ClientInfo
from epolicy.identity.captcha import captcha_check, captcha_create, captcha_data_url
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


class QueryOut(Schema):
    summary: dict
    download_url: str


@router.post("/captcha", response=CaptchaOut, summary="获取图形验证码")
def new_captcha(request: HttpRequest) -> dict:
    captcha, answer = captcha_create()
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
    return {"summary": policy_summary(policy), "download_url": url}


@router.get("/policies/download/{token}", summary="下载电子保单 PDF（查询后 15 分钟内有效）")
def download(request: HttpRequest, token: str) -> HttpResponse:
    from epolicy.archive.services import archive_read

    policy = policy_from_download_token(token)
    response = HttpResponse(archive_read(policy.document), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{policy.number}.pdf"'
    return response


def verify_upload(*, request: HttpRequest, upload: DjangoUploadedFile | None) -> dict:
    """Shared by the API and the page: rate limit, size limit, then the bounded check and the report."""
    rate_limit_hit(
        bucket="verify",
        client=ClientInfo.of(request).client_key,
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
    result = verify_document(data)
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
    summary="电子保单验真：上传 PDF，返回是否真实未被篡改",
    description=(
        "multipart/form-data，字段 file（不超过 10 MB）。每次验证在独立进程中运行，有时间与内存上限；"
        "报告的 code 见 docs/verification.md（check_timeout / check_failed 表示未能完成验证）。"
    ),
    openapi_extra={"requestBody": _UPLOAD_BODY},
)
def verify(request: HttpRequest) -> dict:
    # The body is read here, not by ninja, so that a broken multipart body is our clear 422 and not
    # a bare 400 page; the page shares verify_upload.
    return verify_upload(request=request, upload=uploaded_file(request))


@router.get("/policies/{number}/verification", summary="二维码验真：保单是否存在及正本文件的 SHA-256")
def policy_verification(request: HttpRequest, number: str) -> dict:
    policy = Policy.objects.select_related("document").filter(number=number.strip().upper()).first()
    if policy is None:
        raise ApplicationError("not_found", "没有这个保单号的电子保单，请核对二维码或保单号。")
    return {
        "policy_number": policy.number,
        "status": policy.get_status_display(),
        "confirmed_at": clock.fmt_local(policy.confirmed_at),
        "insurer": settings.INSURER["name"],
        "document_sha256": policy.document.sha256,
    }

"""The platform PKI over HTTP: the TSA, and the public repository of CA certificates and CRLs.

- `tsa_view` (RFC 3161 §3.4): POST a TimeStampReq, get a TimeStampResp, signed with the platform's
  `tsa` credential at the platform clock; other systems of the insurer (an API key with scope "tsa" in
  X-API-Key) and pyHanko's HTTPTimeStamper can use it. Mounted by the project's URLconf (e.g. at /tsa).
- `crl_view` and `ca_certificate_view` (RFC 5280 §4.2.1.13, §4.2.2.1): each CA's newest CRL and its
  certificate, DER, public and unauthenticated, at the URLs that the certificates the CA issued name
  (see `repository`; mounted at /pki/ by `epolicy.signing.urls`).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography import x509
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from epolicy.common import clock
from epolicy.common.schemas import api_client_for_key

from . import crl, repository
from .models import SigningCredential
from .tsa import MAX_REQUEST_BYTES, tsa_respond

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
CRL_TYPE = "application/pkix-crl"
CERT_TYPE = "application/pkix-cert"
# A revocation reissues the CRL at once; shared caches may keep the previous one at most this long.
CRL_MAX_AGE = dt.timedelta(hours=1)
# ...and never until its nextUpdate: a relying party handed an expired CRL has no status at all.
CRL_CACHE_MARGIN = dt.timedelta(hours=1)
# A keyed name always means the same CA certificate; a bare role follows rotations.
CA_MAX_AGE = dt.timedelta(days=1)
ALIAS_MAX_AGE = dt.timedelta(hours=1)
_UNKNOWN = (
    "No such CA. Names are root-ca, issuing-ca or customer-ca, optionally followed by a hyphen and the "
    "first 16 hex digits of the CA's key identifier, as the URLs in our certificates give them.\n"
)


@csrf_exempt
@require_POST
def tsa_view(request: HttpRequest) -> HttpResponse:
    # Timestamps in the insurer's name are for the insurer's own systems: an API key with scope "tsa".
    client = (
        api_client_for_key(request.headers.get("X-API-Key", "")) if request.headers.get("X-API-Key") else None
    )
    if client is None:
        return HttpResponse(
            "send X-API-Key of a client with scope tsa", status=401, content_type="text/plain"
        )
    request.api_client = client  # type: ignore[attr-defined]  # logged by ApiRequestLogMiddleware
    if not client.has_scope("tsa"):
        return HttpResponse("this API client lacks scope tsa", status=403, content_type="text/plain")
    if request.content_type != QUERY_TYPE:
        return HttpResponse(f"send {QUERY_TYPE}", status=415, content_type="text/plain")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_REQUEST_BYTES:
        return HttpResponse("request too large", status=413, content_type="text/plain")
    body = request.read(MAX_REQUEST_BYTES + 1)
    response = HttpResponse(tsa_respond(body), content_type=REPLY_TYPE)
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def crl_view(request: HttpRequest, filename: str) -> HttpResponse:
    """GET /pki/crl/<name>.crl: the CA's newest CRL (reissued first when close to its nextUpdate)."""
    ca = _ca_for(filename, repository.CRL_SUFFIX)
    if ca is None:
        return _not_found(_UNKNOWN)
    row = crl.published_crl(ca)
    if row is None:
        return _not_found("This CA has not issued a CRL.\n")
    return _published(
        request,
        bytes(row.der),
        content_type=CRL_TYPE,
        filename=_keyed_name(ca) + repository.CRL_SUFFIX,
        last_modified=row.this_update,
        max_age=crl_max_age(row.next_update, clock.now()),
    )


@require_safe
def ca_certificate_view(request: HttpRequest, filename: str) -> HttpResponse:
    """GET /pki/ca/<name>.crt: the CA's certificate (caIssuers of the certificates it issued)."""
    ca = _ca_for(filename, repository.CA_SUFFIX)
    if ca is None:
        return _not_found(_UNKNOWN)
    alias = repository.is_alias(filename.removesuffix(repository.CA_SUFFIX))
    return _published(
        request,
        bytes(ca.certificate),
        content_type=CERT_TYPE,
        filename=_keyed_name(ca) + repository.CA_SUFFIX,
        last_modified=ca.created_at,
        max_age=ALIAS_MAX_AGE if alias else CA_MAX_AGE,
    )


def crl_max_age(next_update: dt.datetime, now: dt.datetime) -> dt.timedelta:
    """How long shared caches may keep a CRL: CRL_MAX_AGE, ending CRL_CACHE_MARGIN before nextUpdate."""
    return max(dt.timedelta(0), min(CRL_MAX_AGE, next_update - CRL_CACHE_MARGIN - now))


def _ca_for(filename: str, suffix: str) -> SigningCredential | None:
    if not filename.endswith(suffix):
        return None
    return repository.find_ca(filename.removesuffix(suffix))


def _keyed_name(ca: SigningCredential) -> str:
    return repository.ca_name(ca.role, x509.load_der_x509_certificate(bytes(ca.certificate)))


def _not_found(message: str) -> HttpResponse:
    response = HttpResponse(message, status=404, content_type="text/plain; charset=utf-8")
    patch_cache_control(response, public=True, max_age=60)
    return response


def _published(
    request: HttpRequest,
    body: bytes,
    *,
    content_type: str,
    filename: str,
    last_modified: dt.datetime,
    max_age: dt.timedelta,
) -> HttpResponse:
    """A public DER object with validators (ETag, Last-Modified) and cache lifetime; 304 when unchanged."""
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    modified = int(last_modified.timestamp())
    response = HttpResponse(body, content_type=content_type)
    response["ETag"] = etag
    response["Last-Modified"] = http_date(modified)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    patch_cache_control(response, public=True, no_transform=True, max_age=int(max_age.total_seconds()))
    conditional = get_conditional_response(request, etag=etag, last_modified=modified, response=response)
    return conditional if conditional is not None else response


def sm_envelope_certificate_view(request: HttpRequest) -> HttpResponse:
    """The platform's SM2 envelope certificate (PEM), for partners who seal requests to it
    (docs/sm-envelope.md); the same as `epolicy api_client envelope-key`."""
    from epolicy.common.envelope_middleware import platform_certificate_pem
    from epolicy.common.errors import ApplicationError

    try:
        pem = platform_certificate_pem()
    except ApplicationError:
        return _not_found("本平台尚未配置国密报文密钥。")
    response = HttpResponse(pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = 'inline; filename="sm-envelope.pem"'
    response["Cache-Control"] = "public, max-age=3600"
    return response

"""The platform TSA over HTTP (RFC 3161 §3.4): POST a TimeStampReq, get a TimeStampResp.

Mounted by the project's URLconf (e.g. at /tsa). The TSA signs with the platform's `tsa` credential at
the platform clock; other systems of the insurer and pyHanko's HTTPTimeStamper can use it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .tsa import MAX_REQUEST_BYTES, tsa_respond

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


@csrf_exempt
@require_POST
def tsa_view(request: HttpRequest) -> HttpResponse:
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

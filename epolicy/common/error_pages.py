"""The answer to an exception no view handled (Django's handler500, config/urls.py).

A database that cannot be reached (PostgreSQL restarting, a failover, the network) is not a fault of the
platform's code and nothing was committed: pages answer 503 with a page saying to try again in a moment,
API paths the coded `database_unavailable`, both with Retry-After. Anything else is the usual 500 page.
Neither touches the database (no context processors, no session).
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .errors import ApplicationError

RETRY_AFTER_SECONDS = 5


def _database_unreachable() -> bool:
    exc = sys.exc_info()[1]
    while exc is not None:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    if not _database_unreachable():
        return HttpResponse(render_to_string("500.html"), status=500)
    err = ApplicationError("database_unavailable", details={"retry_after_seconds": RETRY_AFTER_SECONDS})
    response: HttpResponse
    if request.path_info.startswith("/api/"):
        response = JsonResponse(err.as_dict(), status=err.status, json_dumps_params={"ensure_ascii": False})
    else:
        response = HttpResponse(render_to_string("503.html", {"message": err.message_zh}), status=err.status)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response

"""The JSON API v1 (OpenAPI at /api/v1/docs). Every error is {"code", "message", "details"}."""

from __future__ import annotations

import functools
import logging
import uuid
from pathlib import Path
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.docs import Swagger

from epolicy.common.errors import ApplicationError
from epolicy.common.logredact import redact
from epolicy.common.schemas import validation_message

logger = logging.getLogger("epolicy.api")


class OwnSwagger(Swagger):
    """Swagger UI from the platform's own static files, never from a CDN (intranets, the CSP).

    ninja renders its CDN page unless "ninja" is an installed app; it is not one (config/settings.py:
    the app registry would import it for every command). This renders ninja's own page, which the
    settings find with its static files, through the CDN page's path.
    """

    template_cdn = str(Path(Swagger.template_cdn).with_name("swagger.html"))


class EpolicyAPI(NinjaAPI):
    """The OpenAPI schema (/api/v1/openapi.json, which anyone may fetch) is built once per process and
    path prefix: ninja builds it from every route's pydantic models on each request, 0.06–0.2 s of CPU
    for ~68 kB that cannot change while the process runs. Every caller gets the same dict and only reads
    it (ninja's view serialises it); a copy for each would cost a third of a rebuild."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        schemas: dict[str, Any] = self.__dict__.setdefault("_epolicy_schemas", {})
        schema = schemas.get(path_prefix)
        if schema is None:
            schema = schemas[path_prefix] = super().get_openapi_schema(path_prefix=path_prefix)
        return schema


api = EpolicyAPI(
    title="epolicy API",
    version="1",
    description="电子保单与保全平台接口。错误统一返回 {code, message, details}，code 见 docs/errors.md。",
    urls_namespace="api-1",
    docs=OwnSwagger(),
)


def _error(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, body, status=status)


@api.exception_handler(ApplicationError)
def _application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    response = _error(request, exc.status, exc.as_dict())
    retry_after = exc.details.get("retry_after_seconds")
    if isinstance(retry_after, int | float) and retry_after > 0:
        response["Retry-After"] = str(int(retry_after))  # rate_limited, verify_busy, otp_cooldown
    return response


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    message, fields = validation_message(exc.errors)
    return _error(
        request, 422, {"code": "validation_error", "message": message, "details": {"fields": fields}}
    )


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    err = ApplicationError("not_authenticated")
    return _error(request, err.status, err.as_dict())


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {404: "not_found", 403: "permission_denied", 401: "not_authenticated"}.get(
        exc.status_code, "validation_error"
    )
    err = ApplicationError(code)
    return _error(request, exc.status_code, err.as_dict())


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    err = ApplicationError("not_found")
    return _error(request, err.status, err.as_dict())


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database cannot be reached (restart, failover, network) or is busy: nothing was committed,
    so the client may simply try again. A coded 503 with Retry-After, not a server error; the next
    request gets a new connection (CONN_HEALTH_CHECKS)."""
    logger.warning(
        "API %s %s: database unavailable (%s)", request.method, redact(request.path), type(exc).__name__
    )
    err = ApplicationError("database_unavailable", details={"retry_after_seconds": 5})
    response = _error(request, err.status, err.as_dict())
    response["Retry-After"] = "5"
    return response


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Anything else: a coded 500 with an error id; the traceback goes to the server log only."""
    error_id = uuid.uuid4().hex[:16]
    logger.error("API %s %s failed [error %s]", request.method, redact(request.path), error_id, exc_info=exc)
    err = ApplicationError("internal_error")
    return _error(request, err.status, {**err.as_dict(), "details": {"error_id": error_id}})


def _register() -> None:
    from epolicy.archive.api import router as archive_router
    from epolicy.motor.api import customer_router
    from epolicy.motor.api import router as motor_router
    from epolicy.motor.endorsements.api import router as endorsement_router
    from epolicy.payments.api import router as payments_router
    from epolicy.policies.api import router as policy_archive_router
    from epolicy.selfservice.api import router as selfservice_router
    from epolicy.servicing.api import router as servicing_router
    from epolicy.verification.api import router as public_router

    api.add_router("/motor", motor_router)
    api.add_router("/motor", endorsement_router)
    api.add_router("/customer", customer_router)
    api.add_router("/payments", payments_router)
    api.add_router("/public", public_router)
    api.add_router("/archive", archive_router)
    api.add_router("/archive", policy_archive_router)
    api.add_router("/servicing", servicing_router)
    api.add_router("/selfservice", selfservice_router)
    _time_verifications(public_router)


def _time_verifications(router: Any) -> None:
    """The public PDF verification is counted and timed by verdict (epolicy.ops.metrics), like the page's."""
    from epolicy.ops.metrics import verification_timed

    for operation in router.path_operations["/verify"].operations:
        view = operation.view_func

        @functools.wraps(view)  # the URL keeps its name (api-1:verify)
        def timed(request: HttpRequest, _view: Any = view, **kwargs: Any) -> Any:
            return verification_timed("api", lambda: _view(request, **kwargs))

        operation.view_func = timed


_register()

"""No request body over the global ceiling is read at all: refused by its declared length, coded."""

from __future__ import annotations

import io

import pytest
from django.test import Client

PATHS = ["/api/v1/public/verify", "/verify/", "/api/v1/life/self-service/requests/x/photos/id_card", "/life/"]


class Untouchable(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def read(self, *args, **kwargs):  # type: ignore[override]
        raise AssertionError("the body was read")

    readline = read


@pytest.mark.parametrize("path", PATHS)
def test_a_body_over_the_ceiling_is_refused_unread(db, settings, path):
    client = Client()
    response = client.generic(
        "POST",
        path,
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(settings.MAX_REQUEST_BODY_BYTES + 1),
        **{"wsgi.input": Untouchable()},
    )
    assert response.status_code == 413
    if path.startswith("/api/"):
        body = response.json()
        assert body["code"] == "request_too_large" and "过大" in body["message"]
        assert body["details"]["limit_bytes"] == settings.MAX_REQUEST_BODY_BYTES
    else:
        assert 'data-code="request_too_large"' in response.content.decode()


@pytest.mark.parametrize("headers", [{"HTTP_TRANSFER_ENCODING": "chunked"}, {"CONTENT_LENGTH": "-5"}])
def test_a_body_of_unknown_or_invalid_length_is_refused(db, headers):
    environ = {"wsgi.input": Untouchable(), **headers}
    if "CONTENT_LENGTH" not in headers:
        environ["CONTENT_LENGTH"] = ""
    response = Client().generic(
        "POST", "/api/v1/public/verify", b"", content_type="application/pdf", **environ
    )
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"


def test_a_body_under_the_ceiling_reaches_the_view(db, settings, pki):
    settings.VERIFY_MAX_UPLOAD_BYTES = 1000
    response = Client().post("/api/v1/public/verify", {"file": io.BytesIO(b"%PDF" + b"0" * 2000)})
    # The view's own, smaller limit answers: the body got through the ceiling.
    assert response.status_code == 413 and response.json()["code"] == "verify_file_too_large"


def test_a_path_with_its_own_larger_contract_has_its_own_ceiling(db, settings):
    """The signing service answers bodies over its 20 MB itself; the global ceiling stands above it."""
    over_global = settings.MAX_REQUEST_BODY_BYTES + 1
    response = Client().generic(
        "POST",
        "/internal/signing/v1/seal",
        b"",
        content_type="application/json",
        CONTENT_LENGTH=str(over_global),
        **{"wsgi.input": io.BytesIO(b"")},
    )
    assert response.status_code != 413 or response.json().get("code") != "request_too_large"
    response = Client().generic(
        "POST",
        "/internal/signing/v1/seal",
        b"",
        content_type="application/json",
        CONTENT_LENGTH=str(settings.REQUEST_BODY_LIMITS["/internal/signing/"] + 1),
        **{"wsgi.input": Untouchable()},
    )
    assert response.status_code == 413

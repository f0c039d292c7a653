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


@pytest.mark.django_db
def test_a_script_name_sent_in_front_of_the_path_changes_no_limit(client, settings):
    """gunicorn takes SCRIPT_NAME from a request header of a same-host proxy: the flood floor and the body
    limits must go by the path the URLs resolve, not by one a client can put a prefix in front of."""
    settings.PUBLIC_REQUESTS_PER_MINUTE = 2
    codes = [
        client.get("/ops/health", SCRIPT_NAME="/x", REMOTE_ADDR="203.0.113.61").status_code for _ in range(5)
    ]
    assert 429 in codes
    settings.PUBLIC_REQUESTS_PER_MINUTE = 10_000
    big = b"x" * (settings.MAX_REQUEST_BODY_BYTES + 1)
    resp = client.post(
        "/api/v1/public/captcha",
        data=big,
        content_type="application/octet-stream",
        SCRIPT_NAME="/internal/signing",
    )
    assert resp.status_code == 413


@pytest.mark.django_db
def test_the_api_schema_and_docs_are_under_the_flood_floor_and_the_schema_is_built_once(
    client, settings, monkeypatch
):
    import ninja.main

    settings.PUBLIC_REQUESTS_PER_MINUTE = 10_000
    built = []
    real = ninja.main.get_schema
    monkeypatch.setattr(ninja.main, "get_schema", lambda **kw: built.append(1) or real(**kw))
    first = client.get("/api/v1/openapi.json", REMOTE_ADDR="203.0.113.62")
    second = client.get("/api/v1/openapi.json", REMOTE_ADDR="203.0.113.62")
    assert first.status_code == second.status_code == 200 and first.json() == second.json()
    assert len(built) <= 1  # built by an earlier test in this process, or once here
    settings.PUBLIC_REQUESTS_PER_MINUTE = 2
    codes = [client.get("/api/v1/openapi.json", REMOTE_ADDR="203.0.113.63").status_code for _ in range(5)]
    assert 429 in codes
    codes = [client.get("/api/v1/docs", REMOTE_ADDR="203.0.113.64").status_code for _ in range(5)]
    assert 429 in codes


@pytest.mark.django_db
def test_the_favicon_is_an_empty_answer_not_a_logged_404(client, caplog):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 204 and "max-age=86400" in resp["Cache-Control"]
    assert not [r for r in caplog.records if r.name == "django.request"]

"""While the database cannot be reached, the API answers a coded 503 (`database_unavailable`, with
Retry-After) that a client may simply retry, not a server error (the PostgreSQL restart test sees it on a
real outage; this is the same answer without one)."""

from __future__ import annotations

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client


@pytest.mark.parametrize(
    "error",
    [
        OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused'),
        InterfaceError("connection already closed"),
    ],
)
def test_the_api_answers_503_database_unavailable_when_the_database_is_gone(db, monkeypatch, error):
    def unreachable(**kwargs):
        raise error

    monkeypatch.setattr("epolicy.verification.api.captcha_issue", unreachable)
    resp = Client(raise_request_exception=False).post("/api/v1/public/captcha")
    assert resp.status_code == 503
    body = resp.json()
    assert body["code"] == "database_unavailable"
    assert resp["Retry-After"] == "5" and body["details"] == {"retry_after_seconds": 5}
    assert "5432" not in resp.content.decode()  # nothing of the error itself reaches the client


def test_an_integrity_error_is_still_a_server_error(db, monkeypatch):
    from django.db import IntegrityError

    def broken(**kwargs):
        raise IntegrityError("duplicate key")

    monkeypatch.setattr("epolicy.verification.api.captcha_issue", broken)
    resp = Client(raise_request_exception=False).post("/api/v1/public/captcha")
    assert resp.status_code == 500 and resp.json()["code"] == "internal_error"

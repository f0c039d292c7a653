"""An exception no view handled: a database that cannot be reached answers 503 (page or coded JSON, with
Retry-After), anything else the 500 page (config/urls.py handler500)."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_query(monkeypatch):
    """The policy query page's view meets an exception (making its captcha)."""
    from epolicy.portal import views

    def fail_with(exc: Exception) -> None:
        def captcha_issue(*args, **kwargs):
            raise exc

        monkeypatch.setattr(views, "captcha_issue", captcha_issue)

    return fail_with


def _client() -> Client:
    return Client(raise_request_exception=False)


def test_a_page_answers_503_when_the_database_is_unreachable(failing_query):
    failing_query(OperationalError("connection to server at 127.0.0.1 failed: Connection refused"))
    resp = _client().get("/query/")
    assert resp.status_code == 503
    assert resp["Retry-After"] == "5"
    body = resp.content.decode()
    assert 'data-code="database_unavailable"' in body and "请过几秒钟再试" in body
    assert "Connection refused" not in body


def test_any_other_exception_is_the_500_page(failing_query):
    failing_query(RuntimeError("boom"))
    resp = _client().get("/query/")
    assert resp.status_code == 500
    assert 'data-code="http_500"' in resp.content.decode() and "boom" not in resp.content.decode()


def test_a_database_error_wrapped_in_another_is_recognised():
    import sys

    from epolicy.common import error_pages

    try:
        try:
            raise OperationalError("server closed the connection unexpectedly")
        except OperationalError as inner:
            raise RuntimeError("while rendering") from inner
    except RuntimeError:
        assert error_pages._database_unreachable()
    assert sys.exc_info()[1] is None and not error_pages._database_unreachable()

"""A POST without an API key and without a session is 401 not_authenticated, as documented — not the
403 of the session authentication's CSRF check, which guards a logged-in session only."""

from __future__ import annotations

import pytest
from django.test import Client

from epolicy.servicing.models import PolicyChange

pytestmark = pytest.mark.django_db

POSTS = [
    ("/api/v1/servicing/policies/X/changes", {"item": "surrender", "params": {}}),
    ("/api/v1/servicing/policies/DEMO-L0001/changes/quote", {"item": "surrender", "params": {}}),
    ("/api/v1/motor/applications", {}),
]


@pytest.mark.parametrize(("path", "body"), POSTS)
def test_a_post_without_key_or_session_is_401(demo, path, body):
    browser = Client(enforce_csrf_checks=True)  # as a real client: Django's test client skips CSRF
    resp = browser.post(path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    assert resp.status_code == 401, resp.content
    assert resp.json()["code"] == "not_authenticated"
    assert PolicyChange.objects.count() == 0


@pytest.mark.parametrize(("path", "body"), POSTS)
def test_a_post_with_a_wrong_key_is_401(demo, path, body):
    browser = Client(enforce_csrf_checks=True)
    resp = browser.post(
        path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1", HTTP_X_API_KEY="ep_nope"
    )
    assert resp.status_code == 401 and resp.json()["code"] == "not_authenticated"


def test_a_post_with_a_key_needs_no_csrf_token(demo, api_key):
    browser = Client(enforce_csrf_checks=True)
    resp = browser.post(
        "/api/v1/servicing/policies/DEMO-L0001/changes/quote",
        {"item": "address_change", "params": {"address": "北京市朝阳区建国路88号"}},
        content_type="application/json",
        HTTP_X_API_KEY=api_key,
    )
    assert resp.status_code == 200, resp.content


def test_a_staff_session_without_a_csrf_token_is_refused(demo, django_user_model):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(django_user_model.objects.create_user("bob", password="pw-123456", is_staff=True))
    resp = browser.post(
        "/api/v1/servicing/policies/DEMO-L0001/changes",
        {"item": "address_change", "params": {"address": "北京市朝阳区建国路88号"}},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert resp.status_code == 403
    assert resp.json()["code"] == "permission_denied"
    assert PolicyChange.objects.count() == 0


def test_a_staff_session_with_its_csrf_token_is_accepted(demo, django_user_model):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(django_user_model.objects.create_user("bob", password="pw-123456", is_staff=True))
    browser.get("/console/life/")  # the console page sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    resp = browser.post(
        "/api/v1/servicing/policies/DEMO-L0001/changes",
        {"item": "address_change", "params": {"address": "北京市朝阳区建国路88号"}},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k1",
        HTTP_X_CSRFTOKEN=token,
    )
    assert resp.status_code == 201, resp.content
    assert PolicyChange.objects.get().actor == "staff:bob"


def test_an_api_key_is_looked_up_once_per_request(demo, api_key):
    """The SM envelope middleware (may this client send plaintext?) and the authentication share it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        resp = Client().post(
            "/api/v1/servicing/policies/DEMO-L0001/changes/quote",
            {"item": "address_change", "params": {"address": "北京市朝阳区建国路88号"}},
            content_type="application/json",
            HTTP_X_API_KEY=api_key,
        )
    assert resp.status_code == 200, resp.content
    lookups = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "common_apiclient"')]
    assert len(lookups) == 1, lookups

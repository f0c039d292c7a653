"""A quote (the life API's most frequent call) reads the policy with its current version in one statement,
and an unknown policy is still the coded not_found."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db
QUOTE = "/api/v1/servicing/policies/{}/changes/quote"
BODY = {"item": "address_change", "params": {"address": "北京市朝阳区建国路88号"}}


def _quote(api_key: str, number: str):
    return Client().post(QUOTE.format(number), BODY, content_type="application/json", HTTP_X_API_KEY=api_key)


def test_the_policy_and_its_version_are_one_statement(demo, api_key):
    with CaptureQueriesContext(connection) as queries:
        resp = _quote(api_key, "DEMO-L0001")
    assert resp.status_code == 200, resp.content
    sqls = [q["sql"] for q in queries.captured_queries]
    froms = [sql.split(" FROM ", 1)[1].split()[0] for sql in sqls if " FROM " in sql]
    assert '"servicing_lifepolicy"' not in froms, froms  # never on its own
    assert froms.count('"servicing_lifepolicyversion"') == 1, froms
    assert resp.json()["based_on_version"] >= 1


def test_an_unknown_policy_is_not_found(demo, api_key):
    resp = _quote(api_key, "DEMO-L9999")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"

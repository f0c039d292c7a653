"""Partner systems get only what is theirs: every route of the OpenAPI document is either public by
design or needs a scope; a client sees only the applications it submitted (and their archive) unless its
scope says otherwise; payout items need their own scope; keys can be listed, rotated and revoked, and
each use is logged."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from config.api import api
from epolicy.audit.models import AuditEvent
from epolicy.common import clock
from epolicy.common.models import SCOPES, ApiClient, ApiRequestLog
from tests.conftest import application_payload

pytestmark = pytest.mark.django_db

# Every operation of the insurer-systems API and the scope it needs. A new route must be added here
# (the first test fails until it is), so no route is ever left open by accident.
SCOPED = {
    ("POST", "/api/v1/motor/quotes"): "motor:write",
    ("POST", "/api/v1/motor/applications"): "motor:write",
    ("GET", "/api/v1/motor/applications/{number}"): "motor:read",
    ("POST", "/api/v1/motor/applications/{number}/approve"): "motor:write",
    ("POST", "/api/v1/motor/applications/{number}/regenerate"): "motor:write",
    ("POST", "/api/v1/motor/policies/{number}/endorsements"): "motor:write",
    ("GET", "/api/v1/motor/policies/{number}/endorsements"): "motor:read",
    ("GET", "/api/v1/motor/policies/{number}/endorsements/{endorsement}"): "motor:read",
    ("POST", "/api/v1/motor/policies/{number}/endorsements/{endorsement}/withdraw"): "motor:write",
    ("GET", "/api/v1/archive/policies/{number}"): "archive:read",
    ("GET", "/api/v1/archive/objects/{object_id}/download"): "archive:read",
    ("GET", "/api/v1/servicing/policies/{number}"): "servicing:read",
    ("GET", "/api/v1/servicing/policies/{number}/items"): "servicing:read",
    ("POST", "/api/v1/servicing/policies/{number}/changes/validate"): "servicing:write",
    ("POST", "/api/v1/servicing/policies/{number}/changes/quote"): "servicing:write",
    ("POST", "/api/v1/servicing/policies/{number}/changes"): "servicing:write",
    ("GET", "/api/v1/servicing/policies/{number}/changes"): "servicing:read",
    ("GET", "/api/v1/servicing/changes/{change_number}/endorsement.pdf"): "servicing:read",
}
# Open without a key by design: the applicant's own steps (authorised by the link's secret), the public
# query and verification (captcha, rate limits), the gateway's signed callbacks, and the life customer's
# self-service (its own bearer token from an SMS sign-in; tests/selfservice check it route by route).
PUBLIC_PREFIXES = ("/api/v1/customer/", "/api/v1/public/", "/api/v1/payments/notify/", "/api/v1/selfservice/")


def operations() -> dict[tuple[str, str], dict]:
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    return {
        (method.upper(), path): op
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }


def filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "NO-SUCH-1", path)


def call(client, method: str, path: str, key: str | None = None):
    headers = {"HTTP_X_API_KEY": key} if key else {}
    if method == "GET":
        return client.get(filled(path), **headers)
    return client.post(filled(path), data="{}", content_type="application/json", **headers)


def key_with(*scopes: str, name: str | None = None) -> str:
    return ApiClient.create_with_key(name or f"client-{'-'.join(scopes) or 'none'}", scopes=list(scopes))[1]


def test_every_route_is_either_public_by_design_or_scoped():
    ops = operations()
    customer = {k for k in ops if k[1].startswith("/api/v1/selfservice/")}
    secured = {k for k, op in ops.items() if op.get("security")} - customer
    public = {k for k, op in ops.items() if not op.get("security")} | customer
    assert secured == set(SCOPED), "a route without an entry in SCOPED (or a stale entry)"
    assert all(path.startswith(PUBLIC_PREFIXES) for _method, path in public), sorted(public)


@pytest.mark.parametrize(("method", "path"), sorted(SCOPED))
def test_a_route_refuses_no_key_and_a_key_without_its_scope(client, method, path):
    scope = SCOPED[(method, path)]
    assert call(client, method, path).status_code == 401
    assert call(client, method, path, "ep_not-a-key").status_code == 401
    others = [s for s in SCOPES if s != scope]
    refused = call(client, method, path, key_with(*others, name="all-but"))
    assert refused.status_code == 403 and refused.json()["code"] == "scope_denied"
    assert refused.json()["details"]["scope"] == scope
    allowed = call(client, method, path, key_with(scope, name="just-this"))
    assert allowed.status_code not in (401, 403), allowed.content


def test_a_client_sees_only_the_applications_it_submitted(client, pki):
    own = key_with("motor:read", "motor:write", name="channel-a")
    other = key_with("motor:read", "motor:write", name="channel-b")
    everything = key_with("motor:read", "motor:all", name="core")
    created = client.post(
        "/api/v1/motor/applications",
        data=application_payload(),
        content_type="application/json",
        HTTP_X_API_KEY=own,
    )
    assert created.status_code == 201
    number = created.json()["number"]
    url = f"/api/v1/motor/applications/{number}"
    assert client.get(url, HTTP_X_API_KEY=own).status_code == 200
    # Another channel cannot read, approve or regenerate it; it looks like an unknown number.
    assert client.get(url, HTTP_X_API_KEY=other).status_code == 404
    assert client.post(f"{url}/approve", HTTP_X_API_KEY=other).status_code == 404
    assert client.post(f"{url}/regenerate", HTTP_X_API_KEY=other).status_code == 404
    assert client.get(url, HTTP_X_API_KEY=everything).status_code == 200
    approved = client.post(f"{url}/approve", HTTP_X_API_KEY=own)
    assert approved.status_code == 200


def test_the_archive_is_bounded_by_ownership_and_walked_by_nobody(client, make_policy):
    from epolicy.archive.models import ArchivedObject
    from epolicy.motor.models import Application

    mine, theirs = (key_with("archive:read", name=n) for n in ("channel-a", "channel-b"))
    policy = make_policy(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))
    owner = ApiClient.objects.get(name="channel-a")
    Application.objects.filter(pk=policy.application_id).update(created_by_client=owner)
    obj = ArchivedObject.objects.get(pk=policy.document_id)
    listing = f"/api/v1/archive/policies/{policy.number}"
    download = f"/api/v1/archive/objects/{obj.public_id}/download"
    assert client.get(listing, HTTP_X_API_KEY=mine).status_code == 200
    assert client.get(download, HTTP_X_API_KEY=mine).status_code == 200
    assert client.get(listing, HTTP_X_API_KEY=theirs).status_code == 404
    assert client.get(download, HTTP_X_API_KEY=theirs).status_code == 404
    archivist = key_with("archive:read", "archive:all", name="archivist")
    assert client.get(download, HTTP_X_API_KEY=archivist).status_code == 200
    # Sequential ids lead nowhere, whoever asks.
    for object_id in range(1, ArchivedObject.objects.count() + 2):
        assert (
            client.get(f"/api/v1/archive/objects/{object_id}/download", HTTP_X_API_KEY=archivist).status_code
            == 404
        )


@pytest.fixture
def life_demo(db, pki):
    from epolicy.products.life_tables import load_life_catalogue
    from tests.servicing.conftest import register_demo

    return register_demo(load_life_catalogue(), clock.today())


def test_money_out_needs_the_payout_scope(client, life_demo):
    from epolicy.servicing.models import LifePolicy

    number = LifePolicy.objects.filter(status="in_force").order_by("number").first().number
    url = f"/api/v1/servicing/policies/{number}/changes"
    writer = key_with("servicing:read", "servicing:write", name="channel")
    refused = client.post(
        url,
        data={"item": "surrender", "params": {}},
        content_type="application/json",
        HTTP_X_API_KEY=writer,
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert refused.status_code == 403 and refused.json()["details"]["scope"] == "servicing:payout"
    account = client.post(
        url,
        data={"item": "payment_account_change", "params": {}},
        content_type="application/json",
        HTTP_X_API_KEY=writer,
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert account.status_code == 403
    from epolicy.servicing.models import PolicyChange

    assert not PolicyChange.objects.exists()
    payer = key_with("servicing:read", "servicing:write", "servicing:payout", name="core")
    allowed = client.post(
        url,
        data={"item": "surrender", "params": {}},
        content_type="application/json",
        HTTP_X_API_KEY=payer,
        HTTP_IDEMPOTENCY_KEY="k-3",
    )
    assert allowed.status_code not in (401, 403), allowed.content


def test_each_use_of_a_key_is_logged(client, pki):
    key = key_with("motor:read", name="channel-a")
    client.get("/api/v1/motor/applications/TDZA-NONE", HTTP_X_API_KEY=key)
    client.post("/api/v1/motor/quotes", data="{}", content_type="application/json", HTTP_X_API_KEY=key)
    log = list(ApiRequestLog.objects.order_by("id").values_list("client__name", "method", "path", "status"))
    assert log == [
        ("channel-a", "GET", "/api/v1/motor/applications/TDZA-NONE", 404),
        ("channel-a", "POST", "/api/v1/motor/quotes", 403),
    ]
    assert ApiClient.objects.get(name="channel-a").last_used_at is not None


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("api_client", *args, stdout=out)
    return out.getvalue()


def key_of(output: str) -> str:
    return re.search(r"X-API-Key: (\S+)", output).group(1)


def test_keys_are_created_listed_granted_rotated_and_revoked(client, settings):
    assert run("list").startswith("no API clients yet")
    with pytest.raises(CommandError):
        run("create", "claims")  # no scope: refused
    key = key_of(run("create", "claims", "--scope", "motor:read", "--owner", "理赔部"))
    url = "/api/v1/motor/applications/TDZA-NONE"
    assert client.get(url, HTTP_X_API_KEY=key).status_code == 404
    listing = run("list")
    assert "claims" in listing and "motor:read" in listing and key[:10] in listing and key not in listing
    assert client.get("/api/v1/archive/policies/X", HTTP_X_API_KEY=key).status_code == 403
    run("grant", "claims", "--scope", "archive:read")
    assert client.get("/api/v1/archive/policies/X", HTTP_X_API_KEY=key).status_code == 404
    run("revoke-scope", "claims", "--scope", "archive:read")
    assert client.get("/api/v1/archive/policies/X", HTTP_X_API_KEY=key).status_code == 403

    new = key_of(run("rotate", "claims", "--overlap-hours", "1"))
    assert new != key
    assert client.get(url, HTTP_X_API_KEY=new).status_code == 404
    assert client.get(url, HTTP_X_API_KEY=key).status_code == 404  # still works during the overlap
    with clock.frozen_clock(clock.now() + dt.timedelta(hours=1, seconds=1)):
        assert client.get(url, HTTP_X_API_KEY=key).status_code == 401
        assert client.get(url, HTTP_X_API_KEY=new).status_code == 404

    run("revoke", "claims")
    assert client.get(url, HTTP_X_API_KEY=new).status_code == 401
    actions = list(AuditEvent.objects.filter(subject_type="api_client").values_list("action", flat=True))
    assert actions == [
        "api_client.created",
        "api_client.scopes_granted",
        "api_client.scopes_revoked",
        "api_client.key_rotated",
        "api_client.revoked",
    ]
    stored = ApiClient.objects.get(name="claims")
    assert key not in (stored.key_hash, stored.previous_key_hash) and new not in stored.key_hash


def test_last_use_is_written_at_most_once_a_minute(client, pki):
    """Each call is logged, but the client's "last used" is to the minute: a busy client's concurrent
    calls do not all write (and queue on) its one row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from epolicy.common import clock

    key = key_with("motor:read", name="channel-b")
    with clock.frozen_clock(clock.now()):
        client.get("/api/v1/motor/applications/TDZA-NONE", HTTP_X_API_KEY=key)
        first = ApiClient.objects.get(name="channel-b").last_used_at
        with CaptureQueriesContext(connection) as queries:
            client.get("/api/v1/motor/applications/TDZA-NONE", HTTP_X_API_KEY=key)
        assert not [q for q in queries if 'UPDATE "common_apiclient"' in q["sql"]]
    assert first is not None
    with clock.frozen_clock(first + dt.timedelta(seconds=61)):
        client.get("/api/v1/motor/applications/TDZA-NONE", HTTP_X_API_KEY=key)
    assert ApiClient.objects.get(name="channel-b").last_used_at == first + dt.timedelta(seconds=61)
    assert ApiRequestLog.objects.filter(client__name="channel-b").count() == 3

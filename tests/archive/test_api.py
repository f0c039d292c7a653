"""Real-time retrieval by policy number and download (motor standard §7.1.4 a), for insurer systems."""

import datetime as dt
import logging

import pytest

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_add_version, archive_put

pytestmark = pytest.mark.django_db
API = "/api/v1/archive"


@pytest.fixture
def policy(make_policy):
    policy = make_policy(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))
    form = ArchivedObject.objects.of(policy.application).get(kind=ArchivedObject.Kind.APPLICATION_FORM)
    archive_add_version(previous=form, data=b"application form, regenerated", reason="regenerated")
    archive_put(
        data=b'{"event": "otp"}',
        kind=ArchivedObject.Kind.EVIDENCE,
        name="otp",
        content_type="application/json",
        subject=policy.application,
        retention=dt.date(2030, 12, 31),
    )
    return policy


def test_authentication_is_required(client, policy):
    listing = client.get(f"{API}/policies/{policy.number}")
    assert listing.status_code == 401
    assert listing.json()["code"] == "not_authenticated"
    obj = ArchivedObject.objects.get(pk=policy.document_id)
    assert client.get(f"{API}/objects/{obj.public_id}/download").status_code == 401
    bad_key = client.get(f"{API}/policies/{policy.number}", HTTP_X_API_KEY="ep_wrong")
    assert bad_key.status_code == 401


def test_lists_the_policys_documents_with_versions(system, policy):
    resp = system.get(f"{API}/policies/{policy.number.lower()}")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["policy_number"] == policy.number
    kinds = {d["kind"]: d for d in body["documents"]}
    assert set(kinds) == {"application_form", "policy", "evidence"}

    form = kinds["application_form"]
    assert [v["version"] for v in form["versions"]] == [1, 2]
    assert form["versions"][0]["superseded_by"] == form["versions"][1]["id"] == form["id"]
    assert form["size"] == len(b"application form, regenerated")
    assert form["retention_until"] == "2030-12-31"
    assert form["download_url"].endswith(f"/api/v1/archive/objects/{form['id']}/download")

    doc = kinds["policy"]
    stored = ArchivedObject.objects.get(pk=policy.document_id)
    assert doc["sha256"] == stored.sha256 and doc["versions"][0]["replicated"] is True
    assert kinds["evidence"]["content_type"] == "application/json"


def test_objects_are_addressed_by_a_random_id_never_a_sequential_one(system, policy):
    obj = ArchivedObject.objects.get(pk=policy.document_id)
    assert len(obj.public_id) >= 24 and not obj.public_id.isdigit()
    assert system.get(f"{API}/objects/{obj.pk}/download").status_code == 404
    assert system.get(f"{API}/objects/{obj.public_id}/download").status_code == 200


def test_unknown_policy_is_not_found(system, db):
    resp = system.get(f"{API}/policies/PDZA000000000000")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"


def test_download_serves_the_latest_version_checked_against_its_hash(system, policy, primary_dir):
    first = ArchivedObject.objects.of(policy.application).get(
        kind=ArchivedObject.Kind.APPLICATION_FORM, superseded_by__isnull=False
    )
    resp = system.get(f"{API}/objects/{first.public_id}/download")
    assert resp.status_code == 200
    assert resp.content == b"application form, regenerated"
    assert resp["X-Content-SHA256"] == first.superseded_by.sha256
    assert resp["Content-Type"] == "application/pdf"

    exact = system.get(f"{API}/objects/{first.public_id}/download?exact=true")
    assert exact.status_code == 200
    assert exact.content == (primary_dir / first.key).read_bytes() != resp.content


def test_bad_primary_copy_is_served_from_the_backup_logged_and_repaired(system, policy, primary_dir, caplog):
    obj = ArchivedObject.objects.get(pk=policy.document_id)
    good = (primary_dir / obj.key).read_bytes()
    (primary_dir / obj.key).write_bytes(b"%PDF-1.7 swapped content")

    with caplog.at_level(logging.WARNING, logger="epolicy.archive"):
        resp = system.get(f"{API}/objects/{obj.public_id}/download")

    assert resp.status_code == 200 and resp.content == good
    assert any("served the second copy" in r.getMessage() for r in caplog.records)
    assert (primary_dir / obj.key).read_bytes() == good  # the repair task ran after the request


def test_both_copies_bad_is_an_error_not_wrong_bytes(system, policy, primary_dir, backup_dir):
    obj = ArchivedObject.objects.get(pk=policy.document_id)
    (primary_dir / obj.key).write_bytes(b"bad")
    (backup_dir / obj.key).unlink()
    resp = system.get(f"{API}/objects/{obj.public_id}/download")
    assert resp.status_code in (409, 503)
    assert b"bad" not in resp.content


def test_deleted_object_answers_not_found_but_stays_listed(system, policy):
    obj = ArchivedObject.objects.get(pk=policy.document_id)
    ArchivedObject.objects.filter(pk=obj.pk).update(deleted_at=dt.datetime(2031, 1, 2, tzinfo=dt.UTC))
    resp = system.get(f"{API}/objects/{obj.public_id}/download")
    assert resp.status_code == 404 and "删除" in resp.json()["message"]
    listing = system.get(f"{API}/policies/{policy.number}").json()
    assert any(d["id"] == obj.public_id and d["deleted"] for d in listing["documents"])

"""Anchors: the head fixed outside the database; truncation, rewrites and forged or missing anchors caught."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.core.management.base import CommandError
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from epolicy.anchoring import anchor as anchor_module
from epolicy.anchoring.anchor import ANCHOR_FORMAT, anchor_key, audit_anchor, record_digest
from epolicy.anchoring.tasks import audit_anchor_task
from epolicy.anchoring.verify import verify_token
from epolicy.archive.storage import archive_storage, backup_storage
from epolicy.audit.keys import signing_key
from epolicy.audit.models import AuditAnchor, AuditChainHead, AuditEvent, canonical_json
from epolicy.audit.selectors import audit_verify_chain
from epolicy.signing import pki as p
from epolicy.signing import tsa as tsa_module
from epolicy.signing.verify import load_trust

from .util import delete_tail, make_chain, rewrite_from

pytestmark = pytest.mark.django_db


def stored(location: str, name: str) -> Path:
    storage = archive_storage() if location == "archive" else backup_storage()
    return Path(storage.path(name))


def anchor_files(tmp_path: Path, location: str = "archive") -> list[str]:
    folder = tmp_path / ("archive" if location == "archive" else "archive-backup") / "audit-anchors"
    return sorted(f.name for f in folder.iterdir()) if folder.exists() else []


def problems(report) -> list[tuple[str, int | None]]:
    return [(f.problem, f.seq) for f in report.findings]


def verify_command() -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def put_both(name: str, data: bytes) -> None:
    for path in (stored("archive", name), stored("archive_backup", name)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def anchor_object(record: dict, token_der: bytes) -> bytes:
    document = {"format": ANCHOR_FORMAT, "record": record, "token": base64.b64encode(token_der).decode()}
    return canonical_json(document).encode()


def platform_token(digest: bytes) -> bytes:
    return asyncio.run(tsa_module.timestamper().async_timestamp(digest, "sha256")).dump()


# ---------------------------------------------------------------------------------------------------------
# Writing anchors


def test_anchor_writes_one_timestamped_record_of_the_head_to_both_locations(pki, tmp_path):
    events = make_chain(3)

    result = audit_anchor()

    name = anchor_key(3, events[-1].hash)
    assert (result.status, result.seq, result.hash, result.object_key) == (
        "anchored",
        3,
        events[-1].hash,
        name,
    )
    assert name == f"audit-anchors/000000000003-{events[-1].hash[:16]}.json"
    primary = stored("archive", name).read_bytes()
    assert stored("archive_backup", name).read_bytes() == primary
    document = json.loads(primary)
    record = document["record"]
    assert document["format"] == ANCHOR_FORMAT
    assert {k: record[k] for k in ("seq", "hash", "key_id")} == {
        "seq": 3,
        "hash": events[-1].hash,
        "key_id": signing_key().key_id,
    }
    # The token covers the SHA-256 of the record's canonical JSON, and a trusted TSA signed it.
    digest = hashlib.sha256(canonical_json(record).encode()).digest()
    assert digest == record_digest(record)
    gen_time, problem = verify_token(base64.b64decode(document["token"]), digest, load_trust())
    assert problem is None and gen_time is not None

    row = AuditAnchor.objects.get()
    assert (row.seq, row.hash, row.object_key, row.timestamped_at) == (3, events[-1].hash, name, gen_time)

    report = audit_verify_chain()
    assert report.ok, report
    assert (report.anchors_checked, report.newest_anchor.seq, report.unanchored_events) == (1, 3, 0)


def test_the_task_anchors_only_when_the_head_moved(pki, tmp_path):
    assert audit_anchor_task.enqueue().return_value["status"] == "empty"
    make_chain(2)

    first = audit_anchor_task.enqueue().return_value
    again = audit_anchor_task.enqueue().return_value
    assert (first["status"], first["seq"], again["status"], again["seq"]) == ("anchored", 2, "unchanged", 2)
    assert len(anchor_files(tmp_path)) == 1

    make_chain(1, start=3)
    moved = audit_anchor_task.enqueue().return_value
    assert (moved["status"], moved["seq"]) == ("anchored", 3)
    assert len(anchor_files(tmp_path)) == len(anchor_files(tmp_path, "backup")) == 2
    assert list(AuditAnchor.objects.values_list("seq", flat=True)) == [3, 2]
    assert audit_verify_chain().anchors_checked == 2


def test_a_copy_missing_from_one_location_is_put_back_from_the_other(pki, tmp_path):
    make_chain(2)
    name = audit_anchor().object_key
    original = stored("archive", name).read_bytes()
    stored("archive", name).unlink()

    assert audit_anchor().status == "repaired"
    assert stored("archive", name).read_bytes() == original == stored("archive_backup", name).read_bytes()
    assert audit_verify_chain().ok


def test_two_runs_racing_for_one_head_leave_identical_copies(pki, tmp_path, monkeypatch):
    make_chain(2)
    head = AuditChainHead.objects.get()
    name = anchor_key(head.last_seq, head.last_hash)
    real_new_anchor = anchor_module._new_anchor

    def slower(seq, hash_, key_id):
        ours = real_new_anchor(seq, hash_, key_id)
        # Meanwhile another run anchored the same head and wrote its primary copy first.
        archive_storage().save(name, io.BytesIO(real_new_anchor(seq, hash_, key_id)))
        return ours

    monkeypatch.setattr(anchor_module, "_new_anchor", slower)
    audit_anchor()

    assert stored("archive", name).read_bytes() == stored("archive_backup", name).read_bytes()
    assert audit_verify_chain().ok


def test_an_external_tsa_anchors_once_its_root_is_trusted(pki, tmp_path, monkeypatch):
    root, tsa_cert, tsa_key = foreign_tsa()
    monkeypatch.setattr(
        tsa_module,
        "timestamper",
        lambda credential=None: DummyTimeStamper(
            tsa_cert=p.to_asn1(tsa_cert), tsa_key=p.key_to_asn1(tsa_key)
        ),
    )
    make_chain(2)
    audit_anchor()
    assert problems(audit_verify_chain()) == [("anchor_invalid", 2)]

    p.trust_tsa_root(root.public_bytes(serialization.Encoding.DER))
    assert audit_verify_chain().ok


# ---------------------------------------------------------------------------------------------------------
# What verification catches


def test_truncation_of_the_last_five_events_is_detected(pki):
    make_chain(8)
    audit_anchor()
    delete_tail(5)  # raw SQL (trigger off on PostgreSQL), head moved back to event 3

    report = audit_verify_chain()

    assert (report.ok, report.problem, report.first_bad_seq) == (False, "truncated", 4)
    assert report.events_checked == 3
    assert "events 4–8 at least were removed" in report.message
    status, _out, err = verify_command()
    assert status == 1
    assert "末尾的事件被删除" in err and "BROKEN at seq 4 (truncated)" in err


def test_truncation_is_detected_up_to_the_last_anchor_and_not_after_it(pki):
    make_chain(6)
    audit_anchor()  # fixes event 6
    make_chain(4, start=7)

    delete_tail(4)  # events 7–10: after the anchor, which only the key protected
    report = audit_verify_chain()
    assert report.ok and report.unanchored_events == 0

    delete_tail(1)  # event 6, which the anchor fixes
    assert problems(audit_verify_chain()) == [("truncated", 6)]


def test_a_rewrite_with_the_key_before_the_last_anchor_is_detected(pki):
    make_chain(5)
    audit_anchor()
    rewrite_from(2, signing_key(), change={"actor": "staff:mallory"})  # chain recomputed, head moved

    report = audit_verify_chain()

    assert problems(report) == [("anchor_mismatch", 5)]
    assert report.events_checked == 5  # the chain itself is consistent: only the anchor shows the rewrite


def test_a_chain_rewritten_wholesale_as_legacy_events_is_detected_by_its_anchor(pki):
    make_chain(4)
    audit_anchor()
    rewrite_from(1, None, change={"actor": "staff:mallory"}, key_id="")

    assert problems(audit_verify_chain()) == [("anchor_mismatch", 4)]


def test_a_rewrite_without_the_key_is_caught_by_both(pki):
    make_chain(5)
    audit_anchor()
    rewrite_from(3, None, change={"data": {"step": 3, "premium": "1.00"}})

    assert problems(audit_verify_chain()) == [("hash_mismatch", 3), ("anchor_mismatch", 5)]


@pytest.mark.parametrize("location", ["archive", "archive_backup"])
def test_an_anchor_deleted_from_one_location_is_reported(pki, location):
    make_chain(3)
    name = audit_anchor().object_key
    stored(location, name).unlink()  # bypassing the write-once wrapper, as someone with storage access

    report = audit_verify_chain()

    assert problems(report) == [("anchor_missing", 3)]
    assert location in report.message
    status, _out, err = verify_command()
    assert status == 1
    assert "锚点在某一存储位置缺失" in err and "(anchor_missing)" in err


def test_an_anchor_deleted_from_both_locations_is_reported_from_the_console_row(pki):
    make_chain(3)
    name = audit_anchor().object_key
    stored("archive", name).unlink()
    stored("archive_backup", name).unlink()

    assert problems(audit_verify_chain()) == [("anchor_missing", 3), ("anchor_missing", 3)]


def test_the_console_rows_are_not_trusted(pki):
    make_chain(8)
    audit_anchor()
    delete_tail(5)
    AuditAnchor.objects.all().delete()  # whoever truncated also removes the rows: the objects remain

    assert problems(audit_verify_chain()) == [("truncated", 4)]


def forged_record(seq: int = 99) -> dict:
    return {
        "seq": seq,
        "hash": "ab" * 32,
        "key_id": signing_key().key_id,
        "anchored_at": "2026-12-01T00:00:00+00:00",
    }


def test_an_anchor_with_a_token_over_other_data_is_forged(pki):
    make_chain(3)
    record = forged_record()
    put_both(
        anchor_key(99, record["hash"]), anchor_object(record, platform_token(hashlib.sha256(b"x").digest()))
    )

    report = audit_verify_chain()

    # Reported (the same bytes in both locations), and not believed: no truncation is claimed from it.
    assert problems(report) == [("anchor_invalid", 99)]
    assert "archive and archive_backup" in report.message
    assert "does not cover this record" in report.message


def test_an_edited_anchor_record_no_longer_matches_its_token(pki):
    make_chain(3)
    name = audit_anchor().object_key
    document = json.loads(stored("archive", name).read_bytes())
    document["record"]["anchored_at"] = "2020-01-01T00:00:00+00:00"
    stored("archive", name).write_bytes(canonical_json(document).encode())

    report = audit_verify_chain()

    assert problems(report) == [("anchor_invalid", 3)]
    assert "archive:" in report.message and "does not cover this record" in report.message


def foreign_tsa():
    now = dt.datetime.now(dt.UTC)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Mallory TSA root")])
    root = p._build_certificate(
        subject=name,
        public_key=root_key.public_key(),
        issuer=None,
        issuer_key=root_key,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=365),
        ca=True,
    )
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_cert = p._build_certificate(
        subject=x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Mallory TSA")]),
        public_key=tsa_key.public_key(),
        issuer=root,
        issuer_key=root_key,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=300),
        ca=False,
        timestamping=True,
    )
    return root, tsa_cert, tsa_key


@pytest.mark.parametrize(
    "forge",
    ["untrusted_tsa", "seal_not_tsa", "garbage_token", "renamed", "not_json"],
)
def test_forged_anchors_are_invalid(pki, forge):
    events = make_chain(3)
    record = forged_record(seq=3) | {"hash": events[-1].hash}
    name = anchor_key(3, events[-1].hash)
    if forge == "untrusted_tsa":
        _root, cert, key = foreign_tsa()
        stamper = DummyTimeStamper(tsa_cert=p.to_asn1(cert), tsa_key=p.key_to_asn1(key))
        data = anchor_object(
            record, asyncio.run(stamper.async_timestamp(record_digest(record), "sha256")).dump()
        )
    elif forge == "seal_not_tsa":
        # Our own seal certificate chains to the trusted root, but it is not a time-stamping certificate.
        seal = p.load_credential(p.Role.SEAL)
        stamper = DummyTimeStamper(tsa_cert=seal.cert_asn1, tsa_key=seal.key_asn1)
        data = anchor_object(
            record, asyncio.run(stamper.async_timestamp(record_digest(record), "sha256")).dump()
        )
    elif forge == "garbage_token":
        data = anchor_object(record, b"\x30\x03\x02\x01\x01")
    elif forge == "renamed":
        name = anchor_key(2, events[1].hash)
        data = anchor_object(record, platform_token(record_digest(record)))
    else:
        data = b"{not json"
    put_both(name, data)

    report = audit_verify_chain()

    assert [f.problem for f in report.findings] == ["anchor_invalid"]


def test_the_command_reports_the_anchors_or_their_absence(pki):
    make_chain(3)
    status, out, _err = verify_command()
    assert status == 0
    assert "Audit chain OK: 3 events checked." in out and "No anchors yet" in out and "尚无锚点" in out

    audit_anchor()
    make_chain(2, start=4)
    status, out, _err = verify_command()
    assert status == 0
    assert "Anchors OK: 1, newest fixes seq 3" in out
    assert "2 events after it are not anchored yet" in out and "其后 2 条事件尚未锚定" in out
    assert AuditEvent.objects.count() == 5


def test_a_foreign_object_under_the_heads_anchor_name_is_not_copied(pki, tmp_path):
    events = make_chain(2)
    name = anchor_key(2, events[-1].hash)
    stored("archive", name).parent.mkdir(parents=True)
    stored("archive", name).write_bytes(b"not an anchor")

    assert audit_anchor().status == "inconsistent"
    assert not stored("archive_backup", name).exists()
    assert not AuditAnchor.objects.exists()
    assert problems(audit_verify_chain()) == [("anchor_missing", 2), ("anchor_invalid", 2)]

"""Key and certificate management (motor standard §7.1.3 a–b): status, expiry warnings, rotation."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from epolicy.audit.models import AuditEvent
from epolicy.common import clock
from epolicy.signing import lifecycle, signers
from epolicy.signing import pki as pki_mod
from epolicy.signing.models import SigningCredential
from epolicy.signing.verify import verify_pdf

from .conftest import SEAL_BOX

Role = SigningCredential.Role


def active(role: str) -> SigningCredential:
    cred = SigningCredential.active_for(role)
    assert cred is not None
    return cred


@pytest.mark.django_db
def test_pki_status_lists_every_credential_with_days_left(pki):
    out = io.StringIO()
    call_command("pki_status", stdout=out)
    text = out.getvalue()
    for role in pki_mod.ROTATABLE_ROLES:
        cred = active(role)
        assert cred.serial in text
        assert role in text
    seal_line = next(line for line in text.splitlines() if active(Role.SEAL).serial in line)
    assert "active" in seal_line and "days left" in seal_line
    assert str((active(Role.SEAL).not_after - clock.now()).days) in seal_line
    assert "WARNING" not in text  # a fresh PKI has nothing about to expire


@pytest.mark.django_db
def test_expiry_warnings_within_the_configured_window(pki, settings):
    settings.CERT_EXPIRY_WARNING_DAYS = 90
    seal_expiry = active(Role.SEAL).not_after
    assert lifecycle.expiry_warnings() == []
    with clock.frozen_clock(seal_expiry - dt.timedelta(days=100)):
        assert [w for w in lifecycle.expiry_warnings() if w.kind == "certificate"] == []
    with clock.frozen_clock(seal_expiry - dt.timedelta(days=30)):
        # By then the offline root's CRL (a year) needs renewing too: a warning of its own kind.
        (warning,) = [w for w in lifecycle.expiry_warnings() if w.kind == "certificate"]
        assert warning.role == Role.SEAL and warning.days_left in (29, 30)
        assert "pki_rotate seal" in warning.message_zh
        out = io.StringIO()
        call_command("pki_status", stdout=out)  # exits 0 and prints the warning
        assert f"WARNING seal {warning.serial}" in out.getvalue()
    with clock.frozen_clock(seal_expiry + dt.timedelta(days=1)):
        assert "已于" in lifecycle.expiry_warnings()[0].message_zh
    settings.CERT_EXPIRY_WARNING_DAYS = 2000
    settings.ROOT_CRL_WARNING_DAYS = 2000
    assert {(w.role, w.kind) for w in lifecycle.expiry_warnings()} == {
        (Role.SEAL, "certificate"),
        (Role.ROOT_CA, "crl"),  # the root's CRL (a year) is within 2000 days of its nextUpdate too
    }


@pytest.mark.django_db
def test_the_tsa_is_warned_about_before_archive_timestamps_need_it(pki, settings):
    settings.CERT_EXPIRY_WARNING_DAYS = 90
    settings.LTA_RENEW_BEFORE_DAYS = 365
    tsa_expiry = active(Role.TSA).not_after
    with clock.frozen_clock(tsa_expiry - dt.timedelta(days=400)):
        roles = {w.role for w in lifecycle.expiry_warnings()}
    assert Role.TSA in roles


@pytest.mark.django_db
def test_rotating_the_seal_keeps_old_documents_genuine_and_new_ones_carry_the_new_serial(pki, policy_pdf):
    old = active(Role.SEAL)
    before = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert before.certificate_serial == old.serial

    out = io.StringIO()
    call_command("pki_rotate", "seal", "--actor", "staff:alice", stdout=out)
    new = active(Role.SEAL)
    assert new.serial != old.serial and f"serial {new.serial}" in out.getvalue()
    old.refresh_from_db()
    assert not old.active and old.deactivated_at is not None
    # Only the seal was replaced; its issuer stays.
    assert SigningCredential.objects.filter(role=Role.ISSUING_CA).count() == 1
    assert AuditEvent.objects.filter(
        action="pki.credential_rotated", subject_id=new.serial, actor="staff:alice"
    ).exists()

    after = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert after.certificate_serial == new.serial
    for result, serial in ((before, old.serial), (after, new.serial)):
        report = verify_pdf(result.pdf)
        assert report.code == "genuine", report
        (sig,) = report.signatures
        assert sig.signer_role == "insurer" and sig.certificate_serial == serial

    out = io.StringIO()
    call_command("pki_status", stdout=out)
    assert old.serial in out.getvalue() and "inactive" in out.getvalue()


@pytest.mark.django_db
def test_rotating_a_ca_takes_its_descendants_along(pki, policy_pdf, root_key):
    before = signers.seal_document(policy_pdf, box=SEAL_BOX)
    created = pki_mod.pki_rotate("issuing_ca", root_key=root_key)
    assert set(created) == {Role.ISSUING_CA, Role.SEAL}
    after = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert verify_pdf(before.pdf).genuine and verify_pdf(after.pdf).genuine
    with pytest.raises(ValueError, match="unknown role"):
        pki_mod.pki_rotate("printer")

"""Motor standard 4.2.4 c: a withdrawn application regenerated and signed again replaces the earlier
signed copy in the archive, which stays retrievable."""

import pytest

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_latest, archive_read
from epolicy.common.request_meta import ClientInfo
from epolicy.motor import services
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import drawn_signature_png, read_all_documents
from epolicy.motor.models import Application

pytestmark = pytest.mark.django_db
CLIENT = ClientInfo(ip="10.0.0.9", user_agent="test")


def signed(seed=71):
    app = services.application_create(data=demo_application_input(seed), actor="test")
    app, _ = services.application_approve(application_id=app.pk, actor="test")
    read_all_documents(app)
    return services.application_sign(app_id=app.pk, signature=drawn_signature_png(), client=CLIENT)


def test_regenerated_application_supersedes_the_earlier_signature(pki):
    old = signed()
    first_signed = old.signed_document
    old_token = old.access_token
    new, _token = services.application_regenerate(application_id=old.pk, actor="staff:bob")
    old.refresh_from_db()
    assert old.status == "withdrawn" and not old.access_token
    assert new.replaces_id == old.pk and new.status == "approved" and new.number != old.number
    assert (new.plate, new.premium, new.applicant_id) == (old.plate, old.premium, old.applicant_id)
    with pytest.raises(Exception) as exc:
        services.application_by_token(old_token)  # the old link no longer opens anything
    assert exc.value.code == "not_found"
    read_all_documents(new)
    new = services.application_sign(app_id=new.pk, signature=drawn_signature_png(), client=CLIENT)
    first_signed.refresh_from_db()
    assert first_signed.superseded_by_id == new.signed_document_id
    assert archive_latest(first_signed).pk == new.signed_document_id
    assert archive_read(first_signed).startswith(b"%PDF")  # still retrievable
    assert ArchivedObject.objects.filter(kind="application_signed").count() == 2


def test_paid_or_paying_applications_cannot_be_regenerated(pki):
    from epolicy.payments.services import payment_start

    app = signed(72)
    from epolicy.motor.journey import latest_sms_code

    masked = services.application_otp_send(app=app, client=CLIENT)
    services.application_otp_verify(app_id=app.pk, code=latest_sms_code(masked), client=CLIENT)
    payment_start(application_id=app.pk, actor="test")
    with pytest.raises(Exception) as exc:
        services.application_regenerate(application_id=app.pk, actor="staff:bob")
    assert exc.value.code == "application_state"
    assert Application.objects.get(pk=app.pk).status == "signed"


def test_console_regenerate_button(client, pki):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("bob", password="pw-123456", is_staff=True))
    old = signed(73)
    resp = client.post(f"/console/applications/{old.number}/regenerate/")
    new = Application.objects.get(replaces=old)
    assert resp.status_code == 302 and new.number in resp["Location"]
    again = client.post(f"/console/applications/{old.number}/regenerate/")
    assert again.status_code == 409 and 'data-code="application_state"' in again.content.decode()

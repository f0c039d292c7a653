"""Staff can read the audit log in the admin but cannot add, change or delete anything there."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import path, reverse

from epolicy.audit.models import AuditEvent
from epolicy.audit.selectors import audit_verify_chain
from epolicy.audit.services import audit_record

# Only the admin's URLs: these tests must not depend on the rest of the project's URL configuration.
urlpatterns = [path("admin/", admin.site.urls)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.fixture
def event() -> AuditEvent:
    return audit_record(
        action="policy.issued",
        actor="staff:alice",
        subject_type="policy",
        subject_id="PDAA2026",
        data={"v": 2},
    )


def test_superuser_can_list_and_view_events(admin_client, event):
    listing = admin_client.get(reverse("admin:audit_auditevent_changelist"), {"q": "PDAA2026"})
    detail = admin_client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))
    head = admin_client.get(reverse("admin:audit_auditchainhead_changelist"))

    assert listing.status_code == 200
    assert "policy.issued" in listing.content.decode()
    assert detail.status_code == 200
    assert event.hash in detail.content.decode()
    assert head.status_code == 200


def test_superuser_cannot_add_change_or_delete(admin_client, event):
    add = admin_client.get(reverse("admin:audit_auditevent_add"))
    change = admin_client.post(
        reverse("admin:audit_auditevent_change", args=[event.pk]), {"actor": "staff:mallory", "action": "x"}
    )
    delete = admin_client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"})
    bulk = admin_client.post(
        reverse("admin:audit_auditevent_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )

    assert add.status_code == 403
    assert change.status_code == 403
    assert delete.status_code == 403
    assert bulk.status_code in {200, 302, 403}
    assert AuditEvent.objects.get(pk=event.pk).actor == "staff:alice"
    assert audit_verify_chain().ok

"""Servicing tests: the demo life policies registered as they stand today, the archive under tmp_path."""

from __future__ import annotations

import pytest

from epolicy.archive.models import ArchivedObject
from epolicy.audit.models import AuditEvent
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life.demo import demo_policies
from epolicy.servicing.models import LedgerEntry, LifePolicyVersion, PolicyChange, SandboxTransfer

VALID_CARD = "6225881414207430"  # domain-reference §4.6 worked example (Luhn-valid)
ACCOUNT = {
    "holder_name": "张伟",
    "bank_name": "中国建设银行",
    "card_number": VALID_CARD,
    "account_token": "tok-new-account",
}


@pytest.fixture(autouse=True)
def _archive_locations(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "archive")},
        },
        "archive_backup": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "archive-backup")},
        },
    }


@pytest.fixture(scope="session")
def catalogue():
    return load_life_catalogue()


def register_demo(catalogue, today):
    """Register every demo policy; returns {demo name: policy number}."""
    from epolicy.servicing.services import life_policy_create

    numbers = {}
    for name, state in demo_policies(catalogue, today).items():
        life_policy_create(state=state, actor="test:seed")
        numbers[name] = state.policy_number
    return numbers


@pytest.fixture
def demo(db, pki, catalogue):
    """The demo policies in the database (and the PKI to seal their endorsements)."""
    from epolicy.common import clock

    return register_demo(catalogue, clock.today())


def counts() -> dict[str, int]:
    """What a change writes: compare before and after to see that a refusal wrote nothing."""
    return {
        "versions": LifePolicyVersion.objects.count(),
        "changes": PolicyChange.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "archive": ArchivedObject.objects.count(),
        "audit_applied": AuditEvent.objects.filter(action__startswith="life_change.").count(),
        "transfers": SandboxTransfer.objects.count(),
    }

"""The backup's database copy holds no readable personal data of the self-service journey: names,
ID numbers, phones, e-mails, bank cards and new addresses are all encrypted (raw bytes scanned)."""

from __future__ import annotations

import pytest
from django.db import connection

from epolicy.archive.backup import backup_create

from .conftest import EMAIL, ID_NUMBER, NAME, PHONE, last_code
from .test_pages_flow import luhn_card, pass_sms, sign, start

NEW_ADDRESS = "北京市朝阳区建国路88号"


@pytest.mark.django_db(transaction=True)
def test_a_backup_of_the_database_reads_as_ciphertext(customer, life_demo, client, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip(
            "the raw scan reads the SQLite backup file (tests/security/test_pii_at_rest.py reads PostgreSQL)"
        )
    number = life_demo["endowment_in_force"]
    customer.ready(number)
    rid = start(client, number, "address_change", {"address": NEW_ADDRESS, "postcode": "100022"})
    client.post(f"/s/r/{rid}/", {"action": "confirm_sms_send"})
    client.post(f"/s/r/{rid}/", {"action": "confirm_sms", "code": last_code(PHONE)})
    card = luhn_card("622202020000765432")
    rid = start(client, number, "payment_account_change", {"bank_name": "中国银行", "card_number": card})
    pass_sms(client, rid)
    client.post(
        f"/s/r/{rid}/", {"action": "realname", "id_number": ID_NUMBER, "bank_card": card, "bank_phone": PHONE}
    )
    assert sign(client, rid).status_code == 302
    result = backup_create(out_dir=tmp_path / "backup")
    raw = (
        (result.directory / "database.sqlite3").read_bytes()
        if hasattr(result, "directory")
        else (tmp_path / "backup" / "database.sqlite3").read_bytes()
    )
    found = []
    for value in (NAME, ID_NUMBER, PHONE, EMAIL, card, NEW_ADDRESS, "安徽省合肥市蜀山区长江西路100号"):
        for form in (value.encode(), value.encode("unicode_escape")):
            if form in raw:
                found.append(value)
    assert not found, f"in clear in the backup: {found}"

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epolicy.common import clock, crypto
from epolicy.common.money import cny_upper, fen_int, fmt_cny, from_fen, to_fen


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("665.00", "人民币陆佰陆拾伍元整"),
        ("712.50", "人民币柒佰壹拾贰元伍角"),
        ("1132.50", "人民币壹仟壹佰叁拾贰元伍角"),
        ("200000", "人民币贰拾万元整"),
        ("1005.07", "人民币壹仟零伍元零柒分"),
        ("100010", "人民币壹拾万零壹拾元整"),
        ("0.05", "人民币零元零伍分"),
        ("10000000", "人民币壹仟万元整"),
        ("120000000.01", "人民币壹亿贰仟万元零壹分"),
    ],
)
def test_amount_in_capital_figures(amount, words):
    assert cny_upper(Decimal(amount)) == words


def test_fen_rounding_is_half_up():
    assert to_fen(Decimal("712.495")) == Decimal("712.50")
    assert to_fen(Decimal("712.494")) == Decimal("712.49")
    assert fen_int(Decimal("1132.50")) == 113250 and from_fen(113250) == Decimal("1132.50")
    assert fmt_cny(Decimal("1132.5")) == "1,132.50"


@given(st.integers(min_value=0, max_value=10**12))
def test_fen_round_trip(fen):
    assert fen_int(from_fen(fen)) == fen


def test_encryption_round_trip_is_bound_to_its_column(settings):
    token = crypto.encrypt("11010519491231002X", context="parties.customer.id_number")
    assert token.startswith("v1:") and "1101" not in token
    assert crypto.decrypt(token, context="parties.customer.id_number") == "11010519491231002X"
    with pytest.raises(ValueError):
        crypto.decrypt(token, context="parties.customer.phone")
    assert crypto.encrypt("x", context="c") != crypto.encrypt("x", context="c")  # fresh nonce each time


def test_key_rotation_keeps_old_rows_readable(settings):
    import base64
    import os

    old = crypto.encrypt("13812345678", context="phone")
    new_key = base64.b64encode(os.urandom(32)).decode()
    settings.DATA_KEYS = f"2:{new_key},{settings.DATA_KEYS}"
    fresh = crypto.encrypt("13812345678", context="phone")
    assert crypto.key_version(fresh) == 2 and crypto.key_version(old) == 1
    assert crypto.decrypt(old, context="phone") == crypto.decrypt(fresh, context="phone") == "13812345678"


def test_blind_index_matches_equal_values_only():
    a = crypto.blind_index("11010519491231002X", context="id_number")
    assert a == crypto.blind_index("11010519491231002X", context="id_number")
    assert a != crypto.blind_index("440524188001010014", context="id_number")
    assert a != crypto.blind_index("11010519491231002X", context="phone")


def test_bad_key_configuration_is_refused(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.DATA_KEYS = "1:c2hvcnQ="
    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt("x", context="c")


def test_frozen_clock_and_business_date():
    at = dt.datetime(2026, 12, 31, 17, 0, tzinfo=dt.UTC)  # 01:00 on 1 January in Shanghai
    with clock.frozen_clock(at):
        assert clock.now() == at
        assert clock.today() == dt.date(2027, 1, 1)
    assert clock.now() != at
    with pytest.raises(ValueError), clock.frozen_clock(dt.datetime(2026, 1, 1)):
        pass


@pytest.mark.django_db
def test_document_numbers_never_repeat():
    from epolicy.common.numbering import document_number

    numbers = [document_number("PDZA", "20261121") for _ in range(5)]
    assert numbers == [f"PDZA20261121{i:06d}" for i in range(1, 6)]
    assert document_number("PDZA", "20261122") == "PDZA20261122000001"


@pytest.mark.django_db
def test_issue_demo_policy_command(tmp_path, pki):
    from django.core.management import call_command

    out = tmp_path / "p.pdf"
    call_command("issue_demo_policy", "--out", str(out), "--seed", "3")
    assert out.read_bytes().startswith(b"%PDF")
    from epolicy.verification.services import verify_document

    assert verify_document(out.read_bytes()).genuine

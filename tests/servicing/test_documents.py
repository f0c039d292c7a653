"""The e-endorsement says what changed, from when, and the money; fonts embedded; sealed; and the demo
seeding command registers the demo policies once."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from epolicy.archive.services import archive_read
from epolicy.common.masking import mask_bank_card
from epolicy.common.money import cny_upper, fmt_cny
from epolicy.servicing import services
from epolicy.servicing.models import LifePolicy, LifePolicyVersion
from tests.documents import compact, pdf_fonts, pdf_text

from .conftest import ACCOUNT


def test_the_endorsement_of_a_surrender(demo, tmp_path):
    number = demo["endowment_with_loan"]
    change = services.change_apply(
        policy_number=number, item="surrender", params={}, idempotency_key="s", actor="customer:test"
    )
    pdf = archive_read(change.endorsement)
    text = compact(pdf_text(pdf, tmp_path))
    quote = change.quote
    for expected in (
        "两全保险",
        f"批单号{change.endorsement_number}",
        number,
        change.change_number,
        "退保",
        "第1版→第2版",
        "张伟",
        f"{fmt_cny(change.amount_to_receive)}元",
        cny_upper(change.amount_to_receive),
        "现金价值",
        "借款本金",
        *quote["endorsement_lines"],
    ):
        assert compact(expected) in text, expected
    for row in pdf_fonts(pdf, tmp_path):
        assert (row["emb"], row["sub"]) == ("yes", "yes"), row


def test_the_endorsement_of_an_account_change_shows_only_the_masked_card(demo, tmp_path):
    change = services.change_apply(
        policy_number=demo["endowment_in_force"],
        item="payment_account_change",
        params=ACCOUNT,
        idempotency_key="a",
        actor="customer:test",
    )
    text = compact(pdf_text(archive_read(change.endorsement), tmp_path))
    assert compact(mask_bank_card(ACCOUNT["card_number"])) in text
    assert ACCOUNT["card_number"] not in text
    assert "交费账号变更" in text


def test_seed_life_demo_is_idempotent(db):
    out = StringIO()
    call_command("seed_life_demo", stdout=out)
    assert LifePolicy.objects.count() == 9
    assert "DEMO-L0003" in out.getvalue() and "保单复效" in out.getvalue()
    again = StringIO()
    call_command("seed_life_demo", stdout=again)
    assert LifePolicy.objects.count() == 9 and LifePolicyVersion.objects.count() == 9
    assert "已存在" in again.getvalue()
    # the applicant's ID number is kept only as its blind index
    policy = LifePolicy.objects.get(number="DEMO-L0001")
    assert len(policy.applicant_id_index) == 64
    assert not LifePolicy.objects.filter(applicant_id_index__startswith="3401").exists()

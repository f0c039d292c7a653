"""Motor e-endorsements end to end on the services: each kind, the order of steps enforced by the
server, the sealed e-endorsement (pdfsig, qpdf, verify_pdf), the policy version, the new mark, the
cancellation refund through the payment gateway, and the retention of a cancelled policy."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
from decimal import Decimal

import pytest

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_read
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.request_meta import ClientInfo
from epolicy.motor.demo import demo_application_input
from epolicy.motor.endorsements import services as es
from epolicy.motor.endorsements.state import current_view
from epolicy.motor.journey import drawn_signature_png, latest_sms_code, run_journey
from epolicy.motor.models import Endorsement
from epolicy.ops.outbox import outbox_sweep
from epolicy.payments.models import PaymentRefund, SandboxTransaction
from epolicy.policies.models import Policy
from epolicy.verification.services import verify_document

pytestmark = pytest.mark.django_db
CLIENT = ClientInfo(ip="203.0.113.9", user_agent="pytest")
GOOD_CARD = "6222020200112233446"
GOOD_BANK_PHONE = "13800138000"


def _journey(seed: int, *, unregistered: bool = False) -> Policy:
    data = demo_application_input(seed)
    if unregistered:
        vehicle = dataclasses.replace(
            data.vehicle, plate="", unregistered=True, registered_on=clock.today() - dt.timedelta(days=3)
        )
        data = dataclasses.replace(data, vehicle=vehicle)
    return run_journey(data)


@pytest.fixture
def policy(pki, committed):
    with committed(execute=True):
        return _journey(71)


@pytest.fixture
def new_car_policy(pki, committed):
    with committed(execute=True):
        return _journey(72, unregistered=True)


def _through(e: Endorsement, *, realname: bool = False, consent: bool = False) -> Endorsement:
    es.endorsement_sign(number=e.number, signature=drawn_signature_png(), client=CLIENT)
    masked = es.endorsement_otp_send(number=e.number, client=CLIENT)
    es.endorsement_otp_verify(number=e.number, code=latest_sms_code(masked), client=CLIENT)
    if realname:
        es.endorsement_realname(
            number=e.number, bank_card=GOOD_CARD, bank_phone=GOOD_BANK_PHONE, client=CLIENT
        )
    if consent:
        masked = es.endorsement_consent_send(number=e.number, client=CLIENT)
        es.endorsement_consent_verify(number=e.number, code=latest_sms_code(masked), client=CLIENT)
    return es.endorsement_apply(number=e.number, actor="customer:test")


def _checked_pdf(data: bytes, tmp_path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    assert subprocess.run(["qpdf", "--check", str(path)], capture_output=True).returncode == 0
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in out


def test_plate_after_registration_makes_a_sealed_endorsement_and_a_new_mark(
    new_car_policy, committed, tmp_path
):
    policy = new_car_policy
    assert policy.plate == "" and policy.mark_document_id
    old_mark = policy.mark_document_id
    old_mark_pdf = archive_read(policy.mark_document)
    e = es.endorsement_request(
        policy_number=policy.number, kind="plate", changes={"plate": "京A9K321"}, actor="customer:test"
    )
    with committed(execute=True):
        e = _through(e)
    policy.refresh_from_db()
    assert e.status == Endorsement.Status.APPLIED and e.version == 2
    assert policy.plate == "京A9K321"
    assert policy.mark_document_id != old_mark
    assert policy.versions.count() == 2
    assert current_view(policy).plate == "京A9K321"
    doc = archive_read(e.document)
    _checked_pdf(doc, tmp_path)
    result = verify_document(doc, bounded=False)
    assert result.genuine, result.as_json()
    assert result.report.document_kind == "endorsement"
    assert result.report.document_number == e.number
    assert result.byte_identical
    summary = result.as_json()["endorsement"]
    assert summary["policy_number"] == policy.number and summary["change"] == "新车上牌后补录号牌"
    # The mark issued before the plate: still genuine, but replaced, and the report says so.
    old = verify_document(old_mark_pdf, bounded=False).as_json()
    assert old["genuine"] and "已作废" in old["notice"]
    # The new mark shows the plate and verifies as the policy's mark.
    mark = archive_read(policy.mark_document)
    current = verify_document(mark, bounded=False)
    assert current.genuine and current.as_json()["notice"] is None
    text = subprocess.run(["pdftotext", "-", "-"], input=mark, capture_output=True).stdout.decode()
    assert "京A9K321" in text


def test_out_of_order_steps_are_refused_and_write_nothing(policy):
    e = es.endorsement_request(
        policy_number=policy.number,
        kind="contact",
        changes={"email": "new@example.com"},
        actor="customer:test",
    )
    with pytest.raises(ApplicationError) as err:
        es.endorsement_otp_send(number=e.number, client=CLIENT)
    assert err.value.code == "not_signed"
    with pytest.raises(ApplicationError) as err:
        es.endorsement_apply(number=e.number, actor="customer:test")
    assert err.value.code == "not_signed"
    es.endorsement_sign(number=e.number, signature=drawn_signature_png(), client=CLIENT)
    with pytest.raises(ApplicationError) as err:
        es.endorsement_apply(number=e.number, actor="customer:test")
    assert err.value.code == "otp_required"
    e.refresh_from_db()
    assert e.status == Endorsement.Status.SIGNED and e.document_id is None
    # A second request while one is open is refused.
    with pytest.raises(ApplicationError) as err:
        es.endorsement_request(
            policy_number=policy.number, kind="contact", changes={"email": "x@example.com"}, actor="c"
        )
    assert err.value.code == "endorsement_open"


def test_ctpl_cancellation_needs_a_lawful_ground_and_refunds_by_day(policy, committed, tmp_path):
    with pytest.raises(ApplicationError) as err:
        es.endorsement_request(
            policy_number=policy.number, kind="cancel", changes={"ground": "customer_request"}, actor="c"
        )
    assert err.value.code == "cancel_ground_invalid"
    e = es.endorsement_request(
        policy_number=policy.number, kind="cancel", changes={"ground": "deregistered"}, actor="customer:test"
    )
    # Issued for a start tomorrow, cancelled effective tomorrow: before the start, all of it back.
    assert e.effective_on == clock.today() + dt.timedelta(days=1)
    assert e.refund == policy.premium
    with pytest.raises(ApplicationError) as err:
        _through(e)  # realname missing
    assert err.value.code == "realname_required"
    with committed(execute=True):
        es.endorsement_realname(
            number=e.number, bank_card=GOOD_CARD, bank_phone=GOOD_BANK_PHONE, client=CLIENT
        )
        e = es.endorsement_apply(number=e.number, actor="customer:test")
    policy.refresh_from_db()
    assert policy.status == Policy.Status.CANCELLED
    refund = PaymentRefund.objects.get(reference=e.number)
    assert refund.amount_fen == int(policy.premium * 100)
    outbox_sweep()
    refund.refresh_from_db()
    assert refund.refunded_at is not None
    txn = SandboxTransaction.objects.get(merchant_order_no=refund.order.order_no)
    assert txn.refunded_fen == refund.amount_fen
    _checked_pdf(archive_read(e.document), tmp_path)
    # Cancelled: kept 5 years from the day before the cancellation took effect.
    ended = e.effective_on - dt.timedelta(days=1)
    dates = set(ArchivedObject.objects.of(policy).values_list("retention_until", flat=True))
    assert dates == {ended.replace(year=ended.year + 5)}
    with pytest.raises(ApplicationError) as err:
        es.endorsement_request(
            policy_number=policy.number, kind="contact", changes={"email": "a@b.cn"}, actor="c"
        )
    assert err.value.code == "policy_state"


def test_transfer_needs_the_new_owners_consent(policy, committed):
    e = es.endorsement_request(
        policy_number=policy.number,
        kind="transfer",
        changes={"new_owner": {"name": "钱新主", "id_number": "110105198503070019", "phone": "13911112222"}},
        actor="customer:test",
    )
    with pytest.raises(ApplicationError) as err:
        _through(e, realname=True)
    assert err.value.code == "consent_required"
    with committed(execute=True):
        masked = es.endorsement_consent_send(number=e.number, client=CLIENT)
        es.endorsement_consent_verify(number=e.number, code=latest_sms_code(masked), client=CLIENT)
        e = es.endorsement_apply(number=e.number, actor="customer:test")
    view = current_view(Policy.objects.get(pk=policy.pk))
    assert view.owner.name == "钱新主" and view.insured.name == "钱新主"
    assert view.applicant.pk == policy.applicant_id
    assert e.refund == Decimal("0.00")


@pytest.fixture
def commercial_policy(pki, committed, settings):
    from epolicy.motor.demo import demo_commercial_input

    settings.MOTOR_ALLOW_UNCONFIRMED_RATES = True
    with committed(execute=True):
        first = run_journey(demo_commercial_input("family", seed=73))
    return Policy.objects.get(application=first.application, product="commercial")


def _pay_endorsement(e: Endorsement) -> None:
    from epolicy.common.providers import get_provider
    from epolicy.payments.services import payment_sync

    url = es.endorsement_pay(number=e.number, actor="customer:test")
    assert "/sandbox/pay/" in url
    txn = SandboxTransaction.objects.order_by("-id").first()
    applicant = e.policy.applicant
    get_provider("payment").payer_submits(
        txn, payer_name=applicant.name, payer_id_number=applicant.id_number, succeed=True
    )
    payment_sync(order_no=txn.merchant_order_no, actor="customer:test")


def test_adding_a_rider_mid_term_is_paid_by_day_before_it_applies(commercial_policy, committed):
    policy = commercial_policy
    annual = Decimal(policy.application.quote["commercial"]["total"])
    e = es.endorsement_request(
        policy_number=policy.number,
        kind="coverage",
        changes={
            "add": [{"code": "repair_compensation", "parent": "damage", "days": 30, "daily_amount": "200"}]
        },
        actor="customer:test",
    )
    after = Decimal(e.changes["annual_after"])
    assert after > annual
    term = (policy.period_end - policy.period_start).days + 1
    # Effective tomorrow = the policy's first day: every day of the term is left.
    left = term - max(0, (e.effective_on - policy.period_start).days)
    assert e.premium_due == ((after - annual) * left / term).quantize(Decimal("0.01"))
    assert e.refund == 0
    es.endorsement_sign(number=e.number, signature=drawn_signature_png(), client=CLIENT)
    with pytest.raises(ApplicationError) as err:
        es.endorsement_pay(number=e.number, actor="customer:test")  # before the SMS code
    assert err.value.code == "otp_required"
    masked = es.endorsement_otp_send(number=e.number, client=CLIENT)
    es.endorsement_otp_verify(number=e.number, code=latest_sms_code(masked), client=CLIENT)
    es.endorsement_realname(number=e.number, bank_card=GOOD_CARD, bank_phone=GOOD_BANK_PHONE, client=CLIENT)
    with pytest.raises(ApplicationError) as err:
        es.endorsement_apply(number=e.number, actor="customer:test")
    assert err.value.code == "payment_required"
    with committed(execute=True):
        _pay_endorsement(e)
    outbox_sweep()
    e.refresh_from_db()
    policy.refresh_from_db()
    assert e.status == Endorsement.Status.APPLIED
    assert policy.premium == annual + e.premium_due
    assert "修理期间费用补偿" in str(current_view(policy).quote["commercial"]["lines"])


def test_taking_a_rider_off_mid_term_refunds_by_day(commercial_policy, committed):
    policy = commercial_policy
    e = es.endorsement_request(
        policy_number=policy.number, kind="coverage", changes={"remove": ["scratch"]}, actor="customer:test"
    )
    assert e.refund > 0 and e.premium_due == 0
    with committed(execute=True):
        e = _through(e, realname=True)
    policy.refresh_from_db()
    assert PaymentRefund.objects.get(reference=e.number).amount_fen == int(e.refund * 100)
    names = [line["name"] for line in current_view(policy).quote["commercial"]["lines"]]
    assert not any("划痕" in n for n in names)


def test_a_cancellation_mid_term_keeps_the_days_used_and_ends_the_policy_on_that_day(policy, committed):
    """Simulated dates: 100 days into the cover the vehicle is deregistered; the cancellation takes effect
    at 0:00 the next day, the premium of the 101 days used is kept (条例 第十七条), the rest refunded, the
    calendar no longer moves the policy, and its documents are kept 5 years from its last day."""
    from epolicy.policies.status import policy_status_sweep

    start = policy.period_start
    day = start + dt.timedelta(days=100)
    at = dt.datetime.combine(day, dt.time(10, 0), tzinfo=clock.SHANGHAI)
    with clock.frozen_clock(at):
        assert policy_status_sweep(now=at) == 1
        e = es.endorsement_request(
            policy_number=policy.number, kind="cancel", changes={"ground": "lost"}, actor="customer:test"
        )
        assert e.effective_on == day + dt.timedelta(days=1)
        total = (policy.period_end - start).days + 1
        kept = (policy.premium * 101 / total).quantize(Decimal("0.01"))
        assert e.refund == policy.premium - kept
        assert "已经过 101 天" in e.refund_basis
        with committed(execute=True):
            e = _through(e, realname=True)
        policy.refresh_from_db()
        assert policy.status == Policy.Status.CANCELLED
        later = at + dt.timedelta(days=30)
        assert policy_status_sweep(now=later) == 0
    policy.refresh_from_db()
    assert policy.status == Policy.Status.CANCELLED
    last_day = e.effective_on - dt.timedelta(days=1)
    dates = set(ArchivedObject.objects.of(policy).values_list("retention_until", flat=True))
    assert dates == {last_day.replace(year=last_day.year + 5)}


def test_a_request_left_over_night_is_withdrawn_and_asked_again(policy):
    e = es.endorsement_request(
        policy_number=policy.number, kind="contact", changes={"email": "later@example.com"}, actor="c"
    )
    tomorrow = dt.datetime.combine(clock.today() + dt.timedelta(days=1), dt.time(9), tzinfo=clock.SHANGHAI)
    with clock.frozen_clock(tomorrow):
        with pytest.raises(ApplicationError) as err:
            es.endorsement_sign(number=e.number, signature=drawn_signature_png(), client=CLIENT)
        assert err.value.code == "endorsement_expired"
        again = es.endorsement_request(
            policy_number=policy.number, kind="contact", changes={"email": "later@example.com"}, actor="c"
        )
    e.refresh_from_db()
    assert e.status == Endorsement.Status.WITHDRAWN and again.status == Endorsement.Status.REQUESTED


def test_bad_changes_are_refused_with_the_field_and_write_nothing(policy, new_car_policy):
    cases = [
        (policy, "plate", {"plate": "京A12345"}, "endorsement_not_allowed"),  # already has a plate
        (new_car_policy, "plate", {"plate": "ABC"}, "invalid_plate"),
        (policy, "vehicle", {"vin": "LSVAB2BR1KN000001"}, "invalid_vin"),
        (policy, "vehicle", {"colour": "red"}, "validation_error"),
        (policy, "contact", {}, "endorsement_no_change"),
        (policy, "contact", {"phone": "123"}, "invalid_phone"),
        (
            policy,
            "transfer",
            {"new_owner": {"name": "李", "id_number": "x", "phone": "13900000000"}},
            "validation_error",
        ),
        (policy, "coverage", {"remove": ["scratch"]}, "endorsement_not_allowed"),  # 交强险 has no coverages
        (policy, "rename", {}, "endorsement_kind_unknown"),
    ]
    for target, kind, changes, code in cases:
        with pytest.raises(ApplicationError) as err:
            es.endorsement_request(policy_number=target.number, kind=kind, changes=changes, actor="c")
        assert err.value.code == code, (kind, changes, err.value.code)
    assert not Endorsement.objects.exists()


def test_a_sealed_endorsement_the_insurer_has_no_record_of_is_not_genuine(pki):
    """Only the insurer's key can seal, but a sealed file naming an endorsement that does not exist (a
    leaked key, a test document) is not reported as a genuine endorsement."""
    from epolicy.documents.model import InsurerInfo
    from epolicy.documents.motor_endorsement_form import MotorEndorsementData, render_motor_endorsement
    from epolicy.signing.signers import seal_document

    rendered = render_motor_endorsement(
        MotorEndorsementData(
            endorsement_number="EDZA20261207999999",
            policy_number="PDZA20261207999999",
            title="机动车交通事故责任强制保险批单",
            issued_at="2026-12-07 10:00:00",
            insurer=InsurerInfo.from_settings(),
            sections=(),
            lines=("本保险单退保。",),
            amount_label="应退保险费",
            amount="950.00元",
            amount_upper="人民币玖佰伍拾元整",
            verify_url="https://insurer.example/v/EDZA20261207999999",
        )
    )
    sealed = seal_document(rendered.pdf, box=rendered.signature_box).pdf
    result = verify_document(sealed, bounded=False)
    assert result.report.genuine and not result.genuine
    assert result.code == "policy_not_found"


def _paid_coverage_change(policy: Policy, committed) -> Endorsement:
    e = es.endorsement_request(
        policy_number=policy.number,
        kind="coverage",
        changes={
            "add": [{"code": "repair_compensation", "parent": "damage", "days": 10, "daily_amount": "100"}]
        },
        actor="customer:test",
    )
    es.endorsement_sign(number=e.number, signature=drawn_signature_png(), client=CLIENT)
    masked = es.endorsement_otp_send(number=e.number, client=CLIENT)
    es.endorsement_otp_verify(number=e.number, code=latest_sms_code(masked), client=CLIENT)
    es.endorsement_realname(number=e.number, bank_card=GOOD_CARD, bank_phone=GOOD_BANK_PHONE, client=CLIENT)
    with committed(execute=False):  # paid; the apply job not run yet
        _pay_endorsement(e)
    e.refresh_from_db()
    assert e.paid_at is not None and e.status == Endorsement.Status.SIGNED
    return e


def test_the_apply_job_running_twice_applies_once(commercial_policy, committed):
    from epolicy.motor.endorsements.jobs import apply_endorsement

    e = _paid_coverage_change(commercial_policy, committed)
    with committed(execute=True):
        apply_endorsement(str(e.pk))
        apply_endorsement(str(e.pk))  # a crash after the commit, the job taken over
    e.refresh_from_db()
    assert e.status == Endorsement.Status.APPLIED
    assert commercial_policy.versions.count() == 2
    with pytest.raises(ApplicationError) as err:
        es.endorsement_withdraw(number=e.number, actor="c")
    assert err.value.code == "endorsement_state"


def test_a_paid_change_whose_policy_ended_first_is_given_back(commercial_policy, committed):
    from epolicy.motor.endorsements.jobs import apply_endorsement

    e = _paid_coverage_change(commercial_policy, committed)
    Policy.objects.filter(pk=commercial_policy.pk).update(status=Policy.Status.EXPIRED)
    with committed(execute=True):
        apply_endorsement(str(e.pk))
    e.refresh_from_db()
    assert e.status == Endorsement.Status.WITHDRAWN
    refund = PaymentRefund.objects.get(reference=e.number)
    assert refund.amount_fen == int(e.premium_due * 100) and refund.reason == "endorsement_void"
    assert commercial_policy.versions.count() == 1


@pytest.mark.parametrize(
    ("add", "field"),
    [
        ({"code": "repair_compensation", "parent": "damage", "days": "x", "daily_amount": "100"}, "days"),
        (
            {"code": "repair_compensation", "parent": "damage", "days": 10, "daily_amount": "abc"},
            "daily_amount",
        ),
        ({"code": "passenger", "amount": "1000", "seats": "two"}, "seats"),
        ({"code": "value_added_services", "services": "x"}, "services"),
        ({"code": "third_party", "colour": "red"}, "colour"),
        ({"code": 5}, "code"),
    ],
)
def test_a_badly_typed_coverage_to_add_is_a_coded_refusal(commercial_policy, add, field):
    with pytest.raises(ApplicationError) as err:
        es.endorsement_request(
            policy_number=commercial_policy.number, kind="coverage", changes={"add": [add]}, actor="c"
        )
    assert err.value.code == "validation_error" and err.value.details["field"] == f"changes.add[0].{field}"
    assert not Endorsement.objects.exists()


def test_a_payment_answered_after_the_checks_window_is_still_taken(commercial_policy, committed):
    """The 30 minutes of the SMS and real-name checks hold when the payment starts; the gateway's answer
    may come later and is accepted (not refunded as unpayable)."""
    from epolicy.common.providers import get_provider
    from epolicy.payments.models import PaymentOrder
    from epolicy.payments.services import payment_sync

    e = es.endorsement_request(
        policy_number=commercial_policy.number,
        kind="coverage",
        changes={
            "add": [{"code": "repair_compensation", "parent": "damage", "days": 10, "daily_amount": "100"}]
        },
        actor="c",
    )
    es.endorsement_sign(number=e.number, signature=drawn_signature_png(), client=CLIENT)
    masked = es.endorsement_otp_send(number=e.number, client=CLIENT)
    es.endorsement_otp_verify(number=e.number, code=latest_sms_code(masked), client=CLIENT)
    es.endorsement_realname(number=e.number, bank_card=GOOD_CARD, bank_phone=GOOD_BANK_PHONE, client=CLIENT)
    es.endorsement_pay(number=e.number, actor="c")
    txn = SandboxTransaction.objects.order_by("-id").first()
    applicant = commercial_policy.applicant
    get_provider("payment").payer_submits(
        txn, payer_name=applicant.name, payer_id_number=applicant.id_number, succeed=True
    )
    later = clock.now() + dt.timedelta(minutes=40)
    with clock.frozen_clock(later), committed(execute=False):
        payment_sync(order_no=txn.merchant_order_no, actor="c")
    assert PaymentOrder.objects.get(order_no=txn.merchant_order_no).status == PaymentOrder.Status.PAID
    e.refresh_from_db()
    assert e.paid_at is not None


def test_a_paid_change_is_not_withdrawn_by_a_request_the_next_day(commercial_policy, committed):
    e = _paid_coverage_change(commercial_policy, committed)
    tomorrow = dt.datetime.combine(clock.today() + dt.timedelta(days=1), dt.time(9), tzinfo=clock.SHANGHAI)
    with clock.frozen_clock(tomorrow), pytest.raises(ApplicationError) as err:
        es.endorsement_request(
            policy_number=commercial_policy.number,
            kind="contact",
            changes={"email": "x@example.com"},
            actor="c",
        )
    assert err.value.code == "endorsement_open"
    e.refresh_from_db()
    assert e.status == Endorsement.Status.SIGNED and e.paid_at is not None

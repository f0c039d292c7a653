"""Personal data is encrypted at rest: after a whole motor journey (with a payer refused), the demo life
policies and a change of address, no table of the project holds a demo person's name, ID number, phone,
address, plate, VIN or engine number in clear (JSON columns included); look-ups still work through the
keyed blind indexes; and the data migrations encrypt rows written before them (and decrypt going back).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from epolicy.common import clock, crypto
from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import id_number_check_char
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import journey_until_payment, pay_as, run_journey
from epolicy.motor.models import Application, EvidenceRecord
from epolicy.parties.models import Customer
from epolicy.payments.models import PaymentOrder, SandboxTransaction
from epolicy.policies.models import Policy, PolicyVersion
from epolicy.policies.selectors import policy_find
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life.demo import APPLICANT, CONTACT, INSURED_WOMAN, demo_policies
from epolicy.servicing.management.commands.seed_life_demo import DEMO_ID_FIRST17
from epolicy.servicing.models import LifePolicy, LifePolicyVersion, PolicyChange
from epolicy.servicing.services import change_apply

# Uncommon names, so that a match in a table can only be the person's.
ISSUED_NAME = "欧阳娜娜"
REFUSED_APPLICANT_NAME = "司马光明"
OTHER_PAYER = ("慕容小雪", "11010519491231002X")  # pays for 司马光明: refused (实名缴费)
NEW_ADDRESS = {"address": "北京市朝阳区建国路甲88号", "postcode": "100022"}


@dataclass
class World:
    policy: Policy
    refused: Application  # signed, paid by someone else: the money went back
    refused_order: PaymentOrder
    life_number: str
    life_change: PolicyChange


def build_world() -> World:
    policy = run_journey(demo_application_input(61, name=ISSUED_NAME, email="oyang@example.com"))
    refused = journey_until_payment(demo_application_input(62, name=REFUSED_APPLICANT_NAME))
    order_no = pay_as(refused, payer_name=OTHER_PAYER[0], payer_id_number=OTHER_PAYER[1])
    call_command("seed_life_demo", stdout=StringIO())
    life = LifePolicy.objects.get(
        number=demo_policies(load_life_catalogue(), clock.today())["endowment_in_force"].policy_number
    )
    change = change_apply(
        policy_number=life.number, item="address_change", params=NEW_ADDRESS, idempotency_key="k", actor="t"
    )
    return World(
        policy=Policy.objects.get(pk=policy.pk),
        refused=Application.objects.get(pk=refused.pk),
        refused_order=PaymentOrder.objects.get(order_no=order_no),
        life_number=life.number,
        life_change=change,
    )


def people_and_vehicles(world: World) -> list[tuple[str, str]]:
    """(what, value) of every demo fact that must not be readable in the database."""
    facts: list[tuple[str, str]] = []
    for label, app in (("issued", world.policy.application), ("refused", world.refused)):
        person = app.applicant
        facts += [
            (f"{label}: applicant's name", person.name),
            (f"{label}: applicant's ID number", person.id_number),
            (f"{label}: applicant's phone", person.phone),
            (f"{label}: applicant's address", person.address),
            (f"{label}: plate", app.plate),
            (f"{label}: VIN", app.vin),
            (f"{label}: engine number", app.engine_number),
        ]
    facts += [
        ("refused payer's name", OTHER_PAYER[0]),
        ("refused payer's ID number", OTHER_PAYER[1]),
        ("life applicant's name", APPLICANT.name),
        ("life applicant's ID number", DEMO_ID_FIRST17 + id_number_check_char(DEMO_ID_FIRST17)),
        ("life insured's name", INSURED_WOMAN.name),
        ("life contact address", CONTACT.address),
        ("life new address", NEW_ADDRESS["address"]),
    ]
    assert all(value for _what, value in facts)
    return facts


def project_tables() -> list[str]:
    """Every table of the project's own apps (not Django's)."""
    tables = {
        model._meta.db_table
        for config in apps.get_app_configs()
        if config.name.startswith("epolicy.")
        for model in config.get_models(include_auto_created=True)
    }
    return sorted(tables & set(connection.introspection.table_names()))


def _texts(value: Any) -> Iterator[str]:
    """A raw column value as text, JSON decoded too (SQLite keeps "\\u6b27"-escaped JSON)."""
    if value is None:
        return
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        yield value.decode("utf-8", "ignore")
        return
    if isinstance(value, dict | list):
        yield json.dumps(value, ensure_ascii=False)
        return
    text = str(value)
    yield text
    try:
        decoded = json.loads(text)
    except ValueError:
        return
    yield json.dumps(decoded, ensure_ascii=False)


def raw_rows() -> Iterator[tuple[str, str, str]]:
    """(table, column, text) of every non-null value of every project table, read with plain SQL."""
    with connection.cursor() as cursor:
        for table in project_tables():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 — our tables
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    for text in _texts(value):
                        yield table, column, text


def found_in_clear(facts: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(table, column, what) wherever a fact is readable, as written or JSON-escaped."""
    found = set()
    for table, column, text in raw_rows():
        for what, value in facts:
            if value in text or json.dumps(value)[1:-1] in text:
                found.add((table, column, what))
    return sorted(found)


def raw_value(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        q = connection.ops.quote_name
        cursor.execute(f"SELECT {q(column)} FROM {q(table)} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def world(pki, committed) -> World:
    with committed(execute=True):
        return build_world()


# --- nothing in clear -----------------------------------------------------------------------------------
def test_no_table_holds_a_demo_persons_data_in_clear(world):
    facts = people_and_vehicles(world)
    assert found_in_clear(facts) == []
    # The scan reads what is stored in clear: the policy number, the ciphertext of the plate.
    seen = {(table, column) for table, column, text in raw_rows() if world.policy.number in text}
    assert ("policies_policy", "number") in seen
    assert raw_value("policies_policy", "plate", world.policy.pk).startswith("v")


ENCRYPTED_FIELDS = [
    (Customer, "name"),
    (Application, "plate"),
    (Application, "vin"),
    (Application, "engine_number"),
    (Policy, "plate"),
    (PolicyVersion, "data"),
    (PaymentOrder, "payer_name"),
    (SandboxTransaction, "payer_name"),
    (LifePolicy, "applicant_name"),
    (LifePolicyVersion, "state"),
    (PolicyChange, "params"),
    (PolicyChange, "quote"),
]


def test_each_encrypted_column_holds_ciphertext_of_its_context_that_reads_back(world):
    for model, name in ENCRYPTED_FIELDS:
        table, context = model._meta.db_table, model._meta.get_field(name).context
        rows = list(model.objects.all())
        assert rows, table
        for row in rows:
            raw, clear = raw_value(table, name, row.pk), getattr(row, name)
            if not clear:
                assert raw == "", (table, name)  # nothing to hide (an order not yet paid has no payer)
                continue
            assert raw.startswith("v") and crypto.key_version(raw) >= 1, (table, name)
            opened = crypto.decrypt(raw, context=context)
            assert (opened if isinstance(clear, str) else json.loads(opened)) == clear, (table, name)


def test_what_the_pdf_printed_and_the_life_state_read_back_in_clear(world):
    app = world.policy.application
    printed = json.dumps(world.policy.versions.get().data, ensure_ascii=False)
    for value in (app.applicant.name, app.plate, app.vin, app.engine_number):
        assert value in printed
    assert world.life_change.params == NEW_ADDRESS
    life = LifePolicy.objects.get(number=world.life_number)
    assert life.applicant_name == APPLICANT.name
    newest = LifePolicyVersion.objects.get(policy=life, version=life.current_version)
    assert newest.state["contact"]["address"] == NEW_ADDRESS["address"]


def test_payment_evidence_in_the_database_carries_a_masked_payer_name(world):
    from epolicy.archive.services import archive_read

    evidence = EvidenceRecord.objects.get(application=world.policy.application, kind="payment")
    assert evidence.data["payer_name"] == ISSUED_NAME[0] + "***"
    archived = json.loads(archive_read(evidence.archived))
    assert archived["payer_name"] == ISSUED_NAME  # the archived evidence is whole
    assert crypto.sha256_hex(archive_read(evidence.archived)) == evidence.sha256


# --- look-ups through the blind indexes -------------------------------------------------------------------
def test_policy_query_matches_number_id_and_plate_through_the_index(world):
    policy = world.policy
    app = policy.application
    id_number = app.applicant.id_number
    with CaptureQueriesContext(connection) as queries:
        assert policy_find(policy_number=policy.number, id_number=id_number, plate=app.plate) == policy
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "plate_index" in sql and app.plate not in sql
    # Written as people write it: lower case, spaces, a separator, full-width digits.
    typed = f" {app.plate[0]} {app.plate[1].lower()}·{app.plate[2:]} ".replace("1", "１")
    assert (
        policy_find(policy_number=policy.number.lower(), id_number=id_number.lower(), plate=typed) == policy
    )
    other = world.refused
    for number, id_no, plate in (
        (policy.number, id_number, other.plate),
        (policy.number, other.applicant.id_number, app.plate),
        (policy.number, id_number, ""),
    ):
        with pytest.raises(ApplicationError) as err:
            policy_find(policy_number=number, id_number=id_no, plate=plate)
        assert err.value.code == "policy_query_no_match"


def test_applications_are_found_by_plate_and_vin_index(world):
    from epolicy.motor.models import plate_index_of, vin_index_of

    app = world.policy.application
    assert Application.objects.get(plate_index=plate_index_of(app.plate.lower())) == app
    assert Application.objects.get(vin_index=vin_index_of(f" {app.vin.lower()} ")) == app
    assert world.policy.plate_index == app.plate_index  # one context: a policy matches its application


def test_payer_check_still_refuses_another_payer(world):
    order = world.refused_order
    assert order.status == PaymentOrder.Status.PAYER_MISMATCH
    assert order.payer_name == OTHER_PAYER[0]  # kept (encrypted) as the gateway reported it
    assert world.refused.status == Application.Status.SIGNED
    assert not Policy.objects.filter(application=world.refused).exists()


def test_ciphertext_copied_into_another_column_does_not_decrypt(world):
    customer = world.policy.application.applicant
    name_token = raw_value("parties_customer", "name", customer.pk)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE parties_customer SET phone = %s WHERE id = %s", [name_token, customer.pk])
    with pytest.raises(ValueError, match="does not authenticate"):
        Customer.objects.get(pk=customer.pk)


# --- the data migrations ------------------------------------------------------------------------------------
# The migration of each app before the one that encrypts its columns.
BEFORE = [
    ("parties", "0001_initial"),
    ("motor", "0003_application_created_by_client"),
    ("policies", "0002_policy_verify_code"),
    ("payments", "0002_refunds_through_outbox"),
    ("servicing", "0001_initial"),
]


def migrate(targets: list[tuple[str, str]] | None = None) -> None:
    """Migrate to `targets`, or (None) to the newest migration of every app."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets if targets is not None else executor.loader.graph.leaf_nodes())


def snapshot(world: World) -> dict[str, Any]:
    """What the application reads (in clear) of every encrypted column."""
    change = PolicyChange.objects.get(pk=world.life_change.pk)
    return {
        "names": sorted(Customer.objects.values_list("name", flat=True)),
        "vehicles": sorted(Application.objects.values_list("plate", "vin", "engine_number")),
        "policy_plates": list(Policy.objects.values_list("plate", flat=True)),
        "versions": [v.data for v in PolicyVersion.objects.order_by("pk")],
        "payers": sorted(PaymentOrder.objects.values_list("payer_name", flat=True)),
        "sandbox_payers": sorted(SandboxTransaction.objects.values_list("payer_name", flat=True)),
        "life": sorted(LifePolicy.objects.values_list("number", "applicant_name")),
        "states": [v.state for v in LifePolicyVersion.objects.order_by("pk")],
        "change": (change.params, change.quote),
    }


@pytest.mark.django_db(transaction=True)
def test_migrations_encrypt_rows_written_before_them_and_decrypt_going_back(pki):
    world = build_world()
    facts = people_and_vehicles(world)
    before = snapshot(world)
    app = world.policy.application
    try:
        migrate(BEFORE)
        in_clear = {(table, column) for table, column, _what in found_in_clear(facts)}
        # Going back put the clear values where they were (the payment evidence stays masked: one-way).
        assert {
            ("parties_customer", "name"),
            ("motor_application", "plate"),
            ("motor_application", "vin"),
            ("motor_application", "engine_number"),
            ("policies_policy", "plate"),
            ("policies_policyversion", "data"),
            ("payments_paymentorder", "payer_name"),
            ("payments_sandboxtransaction", "payer_name"),
            ("servicing_lifepolicy", "applicant_name"),
            ("servicing_lifepolicyversion", "state"),
            ("servicing_policychange", "params"),
            ("servicing_policychange", "quote"),
        } <= in_clear
        assert ("motor_evidencerecord", "data") not in in_clear
        assert raw_value("policies_policy", "plate", world.policy.pk) == app.plate
    finally:
        migrate()
    assert found_in_clear(facts) == []
    assert snapshot(world) == before
    # The indexes the migration computed are the ones the code computes.
    assert (
        policy_find(policy_number=world.policy.number, id_number=app.applicant.id_number, plate=app.plate)
        == world.policy
    )
    fresh = Application.objects.get(pk=app.pk)
    stored = (fresh.plate_index, fresh.vin_index)
    fresh.save()
    assert (fresh.plate_index, fresh.vin_index) == stored

"""bench.datagen on a tiny set (SQLite or PostgreSQL): its rows are the platform's rows.

The generated policies are found by the platform's own selectors (the public query by number + ID
number + plate, the console's searches, a life applicant's list), decrypt with the platform's keys, and
leave the number sequences past the numbers they used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from bench import datagen


@pytest.fixture
def generated(db: Any) -> Iterator[datagen.Result]:
    result = datagen.generate(motor=300, life=20, workers=1, today=dt.date(2026, 11, 30))
    yield result


def test_generated_policies_are_found_by_the_platforms_selectors(generated: datagen.Result) -> None:
    assert generated.motor_policies >= 300
    assert generated.life_policies == 20
    assert datagen.check(generated, samples=10) == []


def test_rows_are_complete_and_consistent(generated: datagen.Result) -> None:
    from epolicy.archive.models import ArchivedObject
    from epolicy.motor.models import Application
    from epolicy.parties.models import Customer
    from epolicy.policies.models import Policy, PolicyVersion
    from epolicy.servicing.models import LifePolicy, LifePolicyVersion

    assert Policy.objects.count() == generated.motor_policies
    assert Application.objects.count() == generated.plan.apps
    assert PolicyVersion.objects.filter(version=1).count() == generated.motor_policies
    assert LifePolicy.objects.count() == LifePolicyVersion.objects.count() == 20
    products = set(Policy.objects.values_list("product", flat=True))
    assert products == {"ctpl", "commercial"}
    statuses = set(Policy.objects.values_list("status", flat=True))
    assert {"expired", "in_force"} <= statuses
    for policy in Policy.objects.select_related("applicant", "application", "document")[:50]:
        assert policy.plate == policy.application.plate
        assert policy.applicant.id_number_index == Customer.id_index(policy.applicant.id_number)
        assert policy.document.key.startswith("datagen/") and policy.document.size == 0
        assert (policy.document.subject_type, policy.document.subject_id) == ("policies.policy", policy.pk)
        assert (policy.mark_document_id is not None) == (policy.product == "ctpl")
        version = policy.versions.get(version=1)
        assert version.data[0]["fields"][0]["value"] == policy.number
    assert ArchivedObject.objects.filter(key__startswith="datagen/").count() >= generated.motor_policies
    life = LifePolicy.objects.first()
    assert life is not None and life.versions.get().state["policy_number"] == life.number


def test_number_sequences_continue_after_the_generated_numbers(generated: datagen.Result) -> None:
    from epolicy.common.numbering import document_number
    from epolicy.policies.models import Policy

    last = Policy.objects.filter(product="ctpl").order_by("-id").first()
    assert last is not None
    day = last.number[4:12]
    following = document_number("PDZA", day)
    assert following > last.number
    assert not Policy.objects.filter(number=following).exists()


def test_remove_takes_back_what_a_run_wrote(generated: datagen.Result) -> None:
    from epolicy.common.models import Sequence
    from epolicy.policies.models import Policy

    datagen.remove(generated)
    assert not Policy.objects.exists()
    assert not Sequence.objects.filter(name__in=generated.sequences[:50]).exists()


def _index_definitions() -> set[tuple[Any, ...]]:
    """Each index of the written tables: table, name, unique, columns, and whether it is partial (a
    partial index's predicate is printed differently once made again from its printed definition)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT t.relname, i.relname, x.indisunique, x.indkey::text, x.indpred IS NOT NULL"
            " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
            " WHERE t.relname = ANY(%s)",
            [list(datagen.TABLES)],
        )
        return set(cur.fetchall())


def test_deferred_indexes_are_built_again_as_they_were(db: Any, tmp_path: Any) -> None:
    """`--defer-indexes`: the secondary indexes and unique constraints are dropped for the load and made
    again afterwards, the same ones; their definitions are kept in a file until then."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("indexes are deferred on PostgreSQL only")
    before = _index_definitions()
    with connection.cursor() as cur:
        deferrable = datagen.deferrable_indexes(cur, list(datagen.TABLES))
    assert any(ix.constraint.startswith("UNIQUE") for ix in deferrable)  # e.g. the policy number
    assert len(deferrable) > 10
    keep = tmp_path / "indexes.json"
    result = datagen.generate(motor=300, life=20, workers=1, today=dt.date(2026, 11, 30), defer_indexes=keep)
    assert _index_definitions() == before
    assert result.index_seconds > 0
    assert datagen.check(result, samples=5) == []
    # A run killed while they were dropped: the kept definitions build them again.
    datagen.drop_indexes(deferrable, keep)
    assert len(_index_definitions()) == len(before) - len(deferrable)
    datagen.restore_indexes(keep, lambda _text: None)
    assert _index_definitions() == before

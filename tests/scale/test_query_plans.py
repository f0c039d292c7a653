"""The hot look-ups and lists are served by indexes: no sequential scan of a big table.

A smaller generated data set (bench.datagen, about 30,000 motor and 3,000 life policies) is loaded once
for the module and ANALYZEd. Each hot path of bench.lookup.hot_paths (the public query, the console's
lists and searches, a life applicant's policies, a customer's WeChat list) is called through the
platform's own selectors; every SQL statement it issues is captured and explained (EXPLAIN (FORMAT
JSON)). The plan must not read any of the big tables sequentially.

At this size a sequential scan can be the cheapest plan even where an index serves the query (the
10-million-row plans are in docs/performance.md, "Scale: 10 million policies"), so the plans are taken
with `enable_seqscan = off`: PostgreSQL then still scans sequentially only a table that no index can
serve for that query. The test fails when a query is changed into a shape no index serves (an OR across
a join, a filter on an unindexed column) or an index it needs is dropped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench import datagen
from bench.lookup import Sample, hot_paths

pytestmark = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="query plans are PostgreSQL's (SQLite has no comparable planner); run with EPOLICY_DATABASE_URL",
)

BIG_TABLES = frozenset(
    {
        "parties_customer",
        "motor_application",
        "policies_policy",
        "policies_policyversion",
        "archive_archivedobject",
        "motor_endorsement",
        "servicing_lifepolicy",
        "servicing_lifepolicyversion",
        "identity_wechatbinding",
    }
)
MOTOR_POLICIES = 30_000
LIFE_POLICIES = 3_000


@pytest.fixture(scope="module")
def scale_data(django_db_setup: Any, django_db_blocker: Any) -> Iterator[datagen.Result]:
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.skip("PostgreSQL only")
        result = datagen.generate(motor=MOTOR_POLICIES, life=LIFE_POLICIES, workers=1)
        with connection.cursor() as cur:
            for table in sorted(BIG_TABLES):
                cur.execute(f"ANALYZE {table}")
        try:
            yield result
        finally:
            datagen.remove(result)


@pytest.fixture
def sample(scale_data: datagen.Result) -> Sample:
    plan = scale_data.plan
    number, id_number, plate = datagen.sample_policy(plan, plan.apps // 2)
    from epolicy.policies.models import Policy

    policy = Policy.objects.get(number=number)
    return Sample(
        number=number,
        id_number=id_number,
        plate=plate,
        confirmed_on=policy.confirmed_at.date(),
        life_id_number=datagen.person(0, plan.seed).id_number,  # life policy 0's applicant
    )


def _nodes(plan: dict[str, Any], limited: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every node of a plan, with whether a Limit is above it."""
    yield plan, limited
    for child in plan.get("Plans", []):
        yield from _nodes(child, limited or plan["Node Type"] == "Limit")


def _reads_whole_table(node: dict[str, Any], limited: bool) -> bool:
    """A sequential scan; or an index scan with no index condition (every entry in the index's order),
    unless a Limit above stops it and it filters nothing out (the newest rows of an unfiltered list)."""
    if node.get("Relation Name") not in BIG_TABLES:
        return False
    if node["Node Type"] == "Seq Scan":
        return True
    if node["Node Type"] in ("Index Scan", "Index Only Scan") and "Index Cond" not in node:
        return not limited or "Filter" in node
    return False


def _explain(sql: str) -> dict[str, Any]:
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("EXPLAIN (FORMAT JSON) " + sql)
        raw = cur.fetchone()[0]
        cur.execute("SET LOCAL enable_seqscan = on")
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def _sequential_scans(sql: str) -> list[str]:
    return sorted(
        {
            node["Relation Name"]
            for node, limited in _nodes(_explain(sql))
            if _reads_whole_table(node, limited)
        }
    )


def _assert_indexed(call: Any) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        call()
    statements = [
        q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")
    ]
    assert statements, "the hot path issued no query"
    problems = [
        f"{tables} read sequentially by: {sql}" for sql in statements if (tables := _sequential_scans(sql))
    ]
    assert not problems, "\n".join(problems)
    return statements


HOT = [
    "public_query",
    "console_id_number",
    "console_policy_number",
    "console_plate",
    "console_recent",
    "console_recent_page_7",
    "console_last_page",
    "console_status",
    "console_confirmed_day",
    "console_start_day",
    "dashboard_recent",
    "dashboard_status",
    "dashboard_id_number",
    "dashboard_created_day",
    "life_by_id_number",
]


@pytest.mark.django_db
@pytest.mark.parametrize("name", HOT)
def test_hot_path_uses_indexes(sample: Sample, name: str) -> None:
    paths = hot_paths(sample)
    assert set(HOT) == set(paths), "bench.lookup.hot_paths and this list name the same paths"
    _assert_indexed(paths[name])


@pytest.mark.django_db
def test_the_public_query_finds_the_policy_through_its_number_index(sample: Sample) -> None:
    statements = _assert_indexed(hot_paths(sample)["public_query"])
    policy_scans = [
        n for n, _ in _nodes(_explain(statements[0])) if n.get("Relation Name") == "policies_policy"
    ]
    assert [n["Node Type"] for n in policy_scans] == ["Index Scan"], policy_scans


@pytest.mark.django_db
def test_a_long_list_is_estimated_and_paged_only_so_deep(sample: Sample, monkeypatch: Any) -> None:
    from epolicy.backoffice import search

    monkeypatch.setattr(search, "COUNT_CAP", 1000)
    monkeypatch.setattr(search, "MAX_PAGES", 20)
    found = hot_paths(sample)["console_last_page"]()
    assert found.page.paginator.estimated
    assert found.page.number == 20
    assert found.page.paginator.count > 1000  # the planner's estimate, not a count of every row
    assert "估算" in found.notice and "前 20 页" in found.notice
    exact = hot_paths(sample)["console_id_number"]()
    assert not exact.page.paginator.estimated and exact.page.paginator.count >= 1


@pytest.mark.django_db
def test_a_customers_wechat_list_uses_indexes(sample: Sample) -> None:
    from epolicy.identity.models import WeChatBinding
    from epolicy.parties.models import Customer
    from epolicy.wechat.selectors import policies_of

    customer = Customer.objects.filter(id_number_index=Customer.id_index(sample.id_number)).first()
    assert customer is not None
    WeChatBinding.objects.create(openid="o-scale-test", customer=customer, created_at=dt.datetime.now(dt.UTC))
    assert sample.number in [p.number for p in policies_of("o-scale-test")]
    _assert_indexed(lambda: policies_of("o-scale-test"))

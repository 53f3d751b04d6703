"""``group_by="fingerprint"`` on the statement listings, on every server.

IN lists of 1, 5 and 50 items (separate queryids before PostgreSQL 18) and the same
statement with other aliases and its target list reordered (separate queryids on every
version) become one row whose
counters are the entries' sums; other statements stay apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from harness.servers import TestServer
from pgstatkit.fingerprints import fingerprint

from .conftest import Client, open_client

pytestmark = pytest.mark.server

FP_DB = "pgstatkit_fingerprints"
SETUP = (
    "CREATE EXTENSION pg_stat_statements;"
    " CREATE TABLE fp_orders (id int PRIMARY KEY, customer_id int NOT NULL, total numeric);"
    " INSERT INTO fp_orders SELECT g, g % 50, g FROM generate_series(1, 500) AS g;"
)


def in_list(n: int) -> str:
    return ", ".join(str(i) for i in range(1, n + 1))


# each probe text is shaped so no other test's statement shares its queryid
IN_TEXTS = [
    f"SELECT id, total AS fp_in_probe FROM fp_orders WHERE customer_id IN ({in_list(n)})"
    for n in (1, 5, 50)
]
# pg_stat_statements already ignores alias names, but not the order of the target list
ALIAS_TEXTS = [
    "SELECT o.id AS fp_alias_probe, o.total FROM fp_orders o WHERE o.total > 10",
    "SELECT x.total, x.id AS fp_alias_probe FROM fp_orders AS x WHERE x.total > 10",
    "SELECT fp_orders.id AS fp_alias_probe, total FROM fp_orders WHERE fp_orders.total > 10",
]
OTHER = "SELECT count(*) AS fp_other_probe FROM fp_orders WHERE customer_id = 3"


@pytest.fixture(scope="session")
def fingerprint_server(pg_server: TestServer) -> TestServer:
    if pg_server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{FP_DB}'") != "1":
        pg_server.psql(f"CREATE DATABASE {FP_DB}", dbname="postgres")
        pg_server.psql(SETUP, dbname=FP_DB)
    workload = "".join(
        [
            "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database"
            " WHERE datname = current_database();\n",
            *(f"{t};\n" * 2 for t in IN_TEXTS),
            *(f"{t};\n" * 3 for t in ALIAS_TEXTS),
            f"{OTHER};\n" * 4,
        ]
    )
    pg_server.psql(workload, dbname=FP_DB)
    return pg_server


@pytest.fixture(params=["asyncpg", "psycopg"])
async def fp_client(
    fingerprint_server: TestServer, request: pytest.FixtureRequest
) -> AsyncIterator[Client]:
    async for c in open_client(str(request.param), fingerprint_server.dsn_for(dbname=FP_DB)):
        yield c


async def test_grouped_listing_sums_the_entries(fp_client: Client) -> None:
    plain = await fp_client("top_queries_by_total_time", limit=10_000)
    grouped = await fp_client("top_queries_by_total_time", limit=10_000, group_by="fingerprint")

    def probes(rows: list, marker: str) -> list:  # type: ignore[type-arg]
        return [r for r in rows if r.query and marker in r.query]

    for marker, calls, texts in (
        ("fp_in_probe", 6, IN_TEXTS),
        ("fp_alias_probe", 9, ALIAS_TEXTS),
    ):
        entries = probes(plain, marker)
        assert len({fingerprint(t) for t in texts}) == 1
        assert len(entries) >= 2 or marker == "fp_in_probe"  # PG 18 merges IN lists itself
        [one] = probes(grouped, marker)
        assert one.calls == sum(e.calls for e in entries) == calls
        assert one.total_exec_time_ms == pytest.approx(sum(e.total_exec_time_ms for e in entries))
        mean = sum(e.calls * e.mean_exec_time_ms for e in entries) / calls
        assert one.mean_exec_time_ms == pytest.approx(mean)
        assert one.min_exec_time_ms == min(e.min_exec_time_ms for e in entries)
        assert one.max_exec_time_ms == max(e.max_exec_time_ms for e in entries)
        assert one.stddev_exec_time_ms >= 0.0
    [other] = probes(grouped, "fp_other_probe")
    assert other.calls == 4
    # nothing is lost: the probes' calls add up to the same in both listings
    assert sum(r.calls for r in grouped if "_probe" in (r.query or "")) == sum(
        r.calls for r in plain if "_probe" in (r.query or "")
    )
    totals = [r.total_exec_time_ms for r in grouped]
    assert totals == sorted(totals, reverse=True)


async def test_grouped_filters_apply_to_the_groups(fp_client: Client) -> None:
    rows = await fp_client("slow_queries", min_duration_ms=0.0, limit=2, group_by="fingerprint")
    assert len(rows) <= 2
    means = [r.mean_exec_time_ms for r in rows]
    assert means == sorted(means, reverse=True)
    low = await fp_client(
        "queries_with_low_cache_hit", max_cache_hit_ratio=1.0, limit=50, group_by="fingerprint"
    )
    assert all(r.cache_hit_ratio is not None for r in low)
    assert len([r for r in low if r.query and "fp_alias_probe" in r.query]) <= 1

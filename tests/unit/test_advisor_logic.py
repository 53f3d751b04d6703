"""The advisor's reasoning without a server: predicates, candidates, selection."""

from __future__ import annotations

from pgstatkit import _advisor
from pgstatkit._advisor import Candidate, Column, Evaluated, Index, Table


def scope_of(text: str) -> _advisor.Scope:
    predicates = _advisor.parse_predicates(text)
    assert predicates is not None
    return predicates.scopes[0]


def refs(items: list[_advisor.Ref]) -> list[tuple[str | None, str]]:
    return [(r.qualifier, r.column) for r in items]


def test_predicates() -> None:
    scope = scope_of(
        "SELECT * FROM orders o JOIN line_items li ON li.order_id = o.id"
        " WHERE o.status = $1 AND o.total BETWEEN 1 AND 5 AND o.x IN (1, 2)"
        " AND lower(o.email) = $2 AND o.name LIKE '%a%' AND (o.a = 1 OR o.b = 2)"
        " AND $3 < o.created_at AND o.deleted_at IS NULL ORDER BY o.created_at DESC LIMIT 20"
    )
    assert scope.relations == {"o": '"orders"', "li": '"line_items"'}
    assert refs(scope.equality) == [("o", "status"), ("o", "x"), ("o", "deleted_at")]
    assert refs(scope.ranges) == [("o", "total"), ("o", "created_at")]
    assert refs(scope.joins) == [("li", "order_id"), ("o", "id")]
    assert refs(scope.rejected) == [("o", "email"), ("o", "name")]
    assert refs(scope.sort) == [("o", "created_at")]
    # no LIMIT: the ORDER BY is no candidate
    assert scope_of("SELECT * FROM t ORDER BY a").sort == []
    # a CTE is not a table
    assert (
        _advisor.parse_predicates("WITH c AS (SELECT 1 AS a) SELECT * FROM c WHERE a = 1") is None
    )


def table() -> Table:
    t = Table(1, "public", "events", 100_000.0, 1000, 0, 3600.0)
    for name, nd in (("account_id", 300.0), ("kind", 3.0), ("created_at", -1.0), ("doc", None)):
        t.columns[name] = Column(nd, 8, 0.0, name != "doc")
    t.indexes.append(Index("events_kind_account", "btree", True, False, ("kind", "account_id")))
    return t


def test_candidates_skip_what_exists_tiny_tables_and_types_without_btree() -> None:
    usage = _advisor.Usage(
        equality=["kind", "account_id", "doc"], ranges=[], sort=["created_at"], limit=True
    )
    found, notes = _advisor.candidates(usage, table(), min_table_rows=1000)
    shapes = [c.columns for c in found]
    # (account_id, kind) is served by (kind, account_id): equality columns in any order
    assert ("account_id", "kind") not in shapes
    assert ("account_id", "kind", "created_at") in shapes  # most distinct first
    assert ("kind",) not in shapes  # a prefix of the existing index
    assert any("no btree" in n for n in notes)
    assert any("served by events_kind_account" in n for n in notes)
    nothing, notes = _advisor.candidates(usage, table(), min_table_rows=1_000_000)
    assert nothing == [] and "below the minimum" in notes[0]


def test_create_statement_quotes() -> None:
    t = Table(1, 'we"ird', "Order Items", 10.0, 1, 0, 1.0)
    statement = _advisor.create_statement(t, Candidate(1, ("a b", "c"), 1), concurrently=True)
    assert statement == (
        'CREATE INDEX CONCURRENTLY ON "we""ird"."Order Items" USING btree ("a b", "c")'
    )


def test_estimate_prefers_the_selective_and_the_sort() -> None:
    t = table()
    usage = _advisor.Usage(equality=["account_id"], sort=["created_at"], limit=True)
    alone = _advisor.estimate_ratio(t, Candidate(1, ("account_id",), 1), usage, 20.0)
    sorted_ = _advisor.estimate_ratio(t, Candidate(1, ("account_id", "created_at"), 1), usage, 20.0)
    assert 0 < alone < sorted_ <= 1
    unused = _advisor.estimate_ratio(t, Candidate(1, ("created_at",), 0), usage, 20.0)
    assert unused == 0.0


def test_greedy_counts_an_index_once_per_statement() -> None:
    def ev(columns: tuple[str, ...], ratios: dict[int, float], size: int = 10) -> Evaluated:
        return Evaluated(Candidate(1, columns, 1), size, 0.0, ratios)

    both = ev(("a", "b"), {0: 0.9, 1: 0.9})
    first = ev(("a",), {0: 0.95})
    second = ev(("b",), {1: 0.5})
    chosen = _advisor.select([first, second, both], [100.0, 100.0], max_indexes=5, max_bytes=None)
    assert [c[0] for c in chosen] == [both, first]  # 180 first; then 0.05 x 100 more
    assert chosen[1][1] == {0: (0.95 - 0.9) * 100.0}
    writes = ev(("c",), {0: 0.9})
    writes.write_overhead_ms_per_day = 1000.0
    assert _advisor.select([writes], [100.0], max_indexes=5, max_bytes=None) == []
    assert _advisor.select([both], [100.0, 100.0], max_indexes=5, max_bytes=5) == []

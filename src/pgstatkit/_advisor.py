"""The index advisor's reasoning, without I/O: predicates from parse trees, candidate
indexes, the ``pg_stats`` estimate, and the workload-wide greedy selection.

:mod:`pgstatkit.advisor` runs the steps that read the server and explain statements;
everything it decides is here, as plain functions over plain values (unit tests run
them without a server). docs/advisor.md describes the algorithm for users.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pgstatkit import _sql
from pgstatkit.fingerprints import _walk, require_pglast

__all__ = [
    "Candidate",
    "Catalog",
    "Predicates",
    "Table",
    "candidates",
    "estimate_ratio",
    "estimate_size_bytes",
    "parse_predicates",
    "relation_names",
    "select",
]

RANGE_SELECTIVITY = 1 / 3
"""PostgreSQL's default selectivity of an inequality (``DEFAULT_INEQ_SEL``)."""

UNKNOWN_DISTINCT = 200.0
"""PostgreSQL's default number of distinct values when a column has no statistics."""

RANDOM_PAGE_COST = 4.0
SEQ_PAGE_COST = 1.0
CPU_TUPLE_COST = 0.01
CPU_INDEX_TUPLE_COST = 0.005

WRITE_COST_MS_PER_ROW = 0.01
"""Estimated time one more index costs each inserted row, or each update that is not
HOT: 10 microseconds (a btree insertion, its WAL record and its share of vacuum)."""

MAX_EQUALITY_COLUMNS = 3
"""At most this many equality columns lead a multi-column candidate."""

_EQUALITY_OPS = frozenset({"="})
_RANGE_OPS = frozenset({"<", ">", "<=", ">="})
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "="}


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class Ref:
    """A column as the statement wrote it: its qualifier (alias or table) or None."""

    qualifier: str | None
    column: str


@dataclass(slots=True)
class Scope:
    """One query level: the relations of its FROM (alias or name -> relation name as
    written, quoted for ``to_regclass``) and what its conditions do with columns."""

    relations: dict[str, str] = field(default_factory=dict)
    equality: list[Ref] = field(default_factory=list)
    ranges: list[Ref] = field(default_factory=list)
    joins: list[Ref] = field(default_factory=list)
    sort: list[Ref] = field(default_factory=list)
    rejected: list[Ref] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Predicates:
    """What one statement does with the columns of its tables, per query level."""

    scopes: tuple[Scope, ...]

    @property
    def relation_names(self) -> set[str]:
        return {name for scope in self.scopes for name in scope.relations.values()}


def _name(rel: Any) -> str:
    """The relation as written, quoted: ``"public"."orders"`` or ``"orders"``."""
    if rel.schemaname:
        return f"{_sql.quote_ident(rel.schemaname)}.{_sql.quote_ident(rel.relname)}"
    return _sql.quote_ident(rel.relname)


def _conjuncts(node: Any) -> Iterator[Any]:
    if node is None:
        return
    kind = type(node).__name__
    if kind == "BoolExpr" and int(node.boolop) == 0:  # AND_EXPR
        for arg in node.args:
            yield from _conjuncts(arg)
    else:
        yield node


def _column(node: Any) -> Ref | None:
    """The column of a plain column reference (``o.id``, ``id``), else None."""
    if type(node).__name__ != "ColumnRef":
        return None
    names = [getattr(f, "sval", None) for f in node.fields]
    if not names or any(n is None for n in names):
        return None  # o.* or a malformed ref
    if len(names) == 1:
        return Ref(None, str(names[0]))
    return Ref(str(names[-2]), str(names[-1]))


def _mentions_column(node: Any) -> bool:
    return any(type(n).__name__ in ("ColumnRef", "SubLink") for n in _walk(node))


def _columns_in(node: Any) -> list[Ref]:
    return [r for r in (_column(n) for n in _walk(node)) if r is not None]


def _operator(node: Any) -> str | None:
    names = [getattr(n, "sval", None) for n in node.name or ()]
    return str(names[-1]) if names and names[-1] is not None else None


def _condition(node: Any, scope: Scope) -> None:
    """Record what one conjunct does with its columns."""
    kind = type(node).__name__
    if kind == "NullTest":
        ref = _column(node.arg)
        if ref is not None and int(node.nulltesttype) == 0:  # IS NULL
            scope.equality.append(ref)
        return
    if kind != "A_Expr":
        return
    expr_kind = int(node.kind)
    op = _operator(node)
    left, right = node.lexpr, node.rexpr
    lref = _column(left)
    if expr_kind == 0 and op is not None:  # AEXPR_OP
        rref = _column(right) if not isinstance(right, tuple | list) else None
        if lref is not None and rref is not None:
            if op == "=":
                scope.joins.extend([lref, rref])
            return
        if lref is None and rref is not None:
            left, right, lref, op = right, left, rref, _FLIP.get(op, op)
        if lref is None:
            scope.rejected.extend(_columns_in(left))  # a function of a column: no btree
            return
        if right is not None and _mentions_column(right):
            return
        if op in _EQUALITY_OPS:
            scope.equality.append(lref)
        elif op in _RANGE_OPS:
            scope.ranges.append(lref)
        else:
            scope.rejected.append(lref)
        return
    if expr_kind in (1, 6) and op == "=":  # = ANY(...), IN (...)
        if lref is not None:
            scope.equality.append(lref)
        else:
            scope.rejected.extend(_columns_in(left))
        return
    if expr_kind in (10, 11, 12, 13):  # BETWEEN and its variants
        if lref is not None and int(expr_kind) in (10, 12):
            scope.ranges.append(lref)
        return
    # LIKE, ILIKE, SIMILAR TO, <> / NOT IN, DISTINCT FROM: no btree serves them
    scope.rejected.extend(_columns_in(left))


def _from_items(items: Iterable[Any], scope: Scope, quals: list[Any]) -> None:
    for item in items or ():
        kind = type(item).__name__
        if kind == "RangeVar":
            key = item.alias.aliasname if item.alias is not None else item.relname
            scope.relations[key] = _name(item)
            if item.alias is None and item.schemaname:
                scope.relations[f"{item.schemaname}.{item.relname}"] = _name(item)
        elif kind == "JoinExpr":
            _from_items((item.larg, item.rarg), scope, quals)
            if item.quals is not None:
                quals.append(item.quals)


def _statement_scope(node: Any, ctes: set[str]) -> Scope | None:
    kind = type(node).__name__
    scope = Scope()
    quals: list[Any] = []
    if kind == "SelectStmt":
        _from_items(node.fromClause, scope, quals)
        quals.append(node.whereClause)
        if node.limitCount is not None and node.sortClause:
            refs = [_column(s.node) for s in node.sortClause]
            if all(r is not None for r in refs):
                scope.sort = [r for r in refs if r is not None]
    elif kind in ("UpdateStmt", "DeleteStmt"):
        _from_items((node.relation,), scope, quals)
        _from_items(node.fromClause if kind == "UpdateStmt" else node.usingClause, scope, quals)
        quals.append(node.whereClause)
    else:
        return None
    for name in [k for k, v in scope.relations.items() if v.strip('"') in ctes]:
        del scope.relations[name]  # a common table expression, not a table
    if not scope.relations:
        return None
    for qual in quals:
        for conjunct in _conjuncts(qual):
            _condition(conjunct, scope)
    return scope


def parse_predicates(text: str) -> Predicates | None:
    """The predicates of ``text`` per query level, or None if it does not parse.

    Raises:
        ExtraNotInstalledError: ``pglast`` is missing.
    """
    pglast = require_pglast()
    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError:
        return None
    nodes = list(_walk(statements))
    ctes = {n.ctename for n in nodes if type(n).__name__ == "CommonTableExpr"}
    scopes = [s for s in (_statement_scope(n, ctes) for n in nodes) if s is not None]
    return Predicates(tuple(scopes)) if scopes else None


def relation_names(predicates: Iterable[Predicates]) -> list[str]:
    """Every relation the statements name, once, sorted (for the ``tables`` query)."""
    return sorted({n for p in predicates for n in p.relation_names})


# --------------------------------------------------------------------------- catalog


@dataclass(frozen=True, slots=True)
class Column:
    """A column's planner statistics (``None``: not analyzed or not readable)."""

    n_distinct: float | None
    avg_width: int | None
    correlation: float | None
    btree: bool


@dataclass(frozen=True, slots=True)
class Index:
    """An existing index: its name, method, key columns (None: an expression)."""

    name: str
    method: str
    valid: bool
    partial: bool
    columns: tuple[str | None, ...]


@dataclass(slots=True)
class Table:
    """A table the workload names, as the catalog describes it."""

    oid: int
    schema: str
    name: str
    reltuples: float
    relpages: int
    writes: int
    stats_seconds: float
    columns: dict[str, Column] = field(default_factory=dict)
    indexes: list[Index] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{_sql.quote_ident(self.schema)}.{_sql.quote_ident(self.name)}"

    def distinct(self, column: str) -> float:
        """Estimated distinct values of ``column`` (pg_stats' n_distinct, made absolute)."""
        stats = self.columns.get(column)
        nd = stats.n_distinct if stats else None
        if nd is None or nd == 0:
            return min(UNKNOWN_DISTINCT, max(self.reltuples, 1.0))
        return max(-nd * self.reltuples, 1.0) if nd < 0 else nd

    def covered(self, columns: tuple[str, ...], equality: int) -> str | None:
        """The valid, non-partial btree index that already serves ``columns`` (its first
        ``equality`` columns in any order), or None."""
        for index in self.indexes:
            if index.method != "btree" or not index.valid or index.partial:
                continue
            if len(index.columns) < len(columns):
                continue
            head = index.columns[: len(columns)]
            if set(head[:equality]) == set(columns[:equality]) and (
                head[equality:] == columns[equality:]
            ):
                return index.name
        return None


@dataclass(slots=True)
class Catalog:
    """The tables of the workload, by the quoted name its statements use."""

    by_name: dict[str, Table]

    def table_of(self, scope: Scope, ref: Ref) -> Table | None:
        """The table ``ref`` belongs to in ``scope`` (an unqualified column: the one
        table of the scope that has it), or None."""
        if ref.qualifier is not None:
            name = scope.relations.get(ref.qualifier)
            return self.by_name.get(name) if name else None
        found = [
            t
            for t in (self.by_name.get(n) for n in set(scope.relations.values()))
            if t is not None and ref.column in t.columns
        ]
        return found[0] if len(found) == 1 else None


# --------------------------------------------------------------------------- candidates


@dataclass(slots=True)
class Usage:
    """What one statement does with one table's columns (resolved)."""

    equality: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    sort: list[str] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)
    limit: bool = False


def usages(predicates: Predicates, catalog: Catalog) -> dict[int, Usage]:
    """Per table oid, what the statement does with its columns."""
    found: dict[int, Usage] = {}

    def add(scope: Scope, refs: Sequence[Ref], into: str) -> None:
        for ref in refs:
            table = catalog.table_of(scope, ref)
            if table is None or ref.column not in table.columns:
                continue
            usage = found.setdefault(table.oid, Usage())
            target = getattr(usage, into)
            if isinstance(target, set):
                target.add(ref.column)
            elif ref.column not in target:
                target.append(ref.column)

    for scope in predicates.scopes:
        add(scope, scope.equality, "equality")
        add(scope, scope.ranges, "ranges")
        add(scope, scope.joins, "joins")
        add(scope, scope.rejected, "rejected")
        tables = {t.oid for t in (catalog.table_of(scope, r) for r in scope.sort) if t is not None}
        if scope.sort and len(tables) == 1:
            add(scope, scope.sort, "sort")
            found[tables.pop()].limit = True
    return found


@dataclass(frozen=True, slots=True)
class Candidate:
    """A possible index: a table and its key columns; ``equality`` leading columns
    serve equality predicates (their order among themselves does not matter)."""

    oid: int
    columns: tuple[str, ...]
    equality: int


def candidates(
    usage: Usage, table: Table, *, min_table_rows: float
) -> tuple[list[Candidate], list[str]]:
    """The candidate indexes for one statement's use of one table, and why others were
    skipped (human-readable notes)."""
    notes: list[str] = []
    if table.reltuples < min_table_rows:
        notes.append(f"{table.qualified}: {table.reltuples:.0f} rows, below the minimum")
        return [], notes

    def ok(column: str) -> bool:
        stats = table.columns.get(column)
        if stats is None or not stats.btree:
            notes.append(f"{table.qualified}.{column}: no btree operator class for its type")
            return False
        return True

    eq = sorted((c for c in usage.equality if ok(c)), key=lambda c: -table.distinct(c))[
        :MAX_EQUALITY_COLUMNS
    ]
    ranges = [c for c in usage.ranges if c not in eq and ok(c)]
    joins = [c for c in usage.joins if c not in eq and ok(c)]
    sort = [c for c in usage.sort if ok(c)][:2]
    shapes: list[tuple[tuple[str, ...], int]] = []
    shapes += [((c,), 1) for c in eq]
    shapes += [((c,), 0) for c in (*ranges, *joins)]
    if len(eq) > 1:
        shapes.append((tuple(eq), len(eq)))
    for r in ranges:
        if eq:
            shapes.append(((*eq, r), len(eq)))
    for j in joins:
        if eq:
            shapes.append(((*eq, j), len(eq)))
    if sort and not set(sort) & set(eq):
        shapes.append(((*eq, *sort), len(eq)))
    found: list[Candidate] = []
    for columns, equality in shapes:
        existing = table.covered(columns, equality)
        if existing is not None:
            notes.append(f"{table.qualified} ({', '.join(columns)}): served by {existing}")
            continue
        candidate = Candidate(table.oid, columns, equality)
        if candidate not in found:
            found.append(candidate)
    return found, notes


def create_statement(table: Table, candidate: Candidate, *, concurrently: bool) -> str:
    """``CREATE INDEX [CONCURRENTLY] ON "schema"."table" ("a", "b")``, quoted."""
    columns = ", ".join(_sql.quote_ident(c) for c in candidate.columns)
    word = " CONCURRENTLY" if concurrently else ""
    return f"CREATE INDEX{word} ON {table.qualified} USING btree ({columns})"


# --------------------------------------------------------------------------- estimates


def estimate_size_bytes(table: Table, candidate: Candidate) -> int:
    """A btree's size from ``pg_stats``: per row, the key widths (8-byte aligned) plus
    the tuple header and line pointer, at the default fill factor of 90%."""
    width = 0
    for column in candidate.columns:
        stats = table.columns.get(column)
        width += stats.avg_width if stats and stats.avg_width else 8
    per_row = 8 * math.ceil(width / 8) + 8 + 4
    pages = math.ceil(max(table.reltuples, 1.0) * per_row / (8192 * 0.9)) + 1
    return int(pages * 8192)


def estimate_ratio(table: Table, candidate: Candidate, usage: Usage, limit: float) -> float:
    """The documented estimate of the cost reduction (0..1) ``candidate`` brings one
    statement, from ``pg_stats`` alone (no hypopg): a sequential scan's cost against an
    index scan's for the rows the index's leading columns select.

    Leading columns count while the statement uses them: equality (1 / distinct values),
    then one range (1/3) or, for ``ORDER BY ... LIMIT`` with every equality column in
    front, the limit's rows. A join key counts as an equality with one outer row.
    """
    rows = max(table.reltuples, 1.0)
    selectivity = 1.0
    used = 0
    eq_columns = {*usage.equality, *usage.joins}
    for position, column in enumerate(candidate.columns):
        if column in eq_columns and (position < candidate.equality or column in usage.joins):
            selectivity /= table.distinct(column)
            used += 1
            continue
        if column in usage.ranges:
            selectivity *= RANGE_SELECTIVITY
            used += 1
        elif (
            column in usage.sort
            and usage.limit
            and set(usage.equality) <= set(candidate.columns[:position])
        ):
            selectivity = min(selectivity, limit / rows)
            used += 1
        break
    if used == 0:
        return 0.0
    fetched = max(rows * selectivity, 1.0)
    correlation = 0.0
    stats = table.columns.get(candidate.columns[0])
    if stats is not None and stats.correlation is not None:
        correlation = stats.correlation
    pages = min(fetched, max(table.relpages, 1)) * (
        RANDOM_PAGE_COST * (1 - correlation**2) + SEQ_PAGE_COST * correlation**2
    )
    index_cost = pages + fetched * (CPU_INDEX_TUPLE_COST + CPU_TUPLE_COST) + math.log2(rows + 1)
    seq_cost = max(table.relpages, 1) * SEQ_PAGE_COST + rows * CPU_TUPLE_COST
    if usage.sort and usage.limit:
        seq_cost += rows * selectivity * math.log2(rows * selectivity + 2) * 0.0025 * 2
    return max(0.0, min(1.0, 1.0 - index_cost / seq_cost))


# --------------------------------------------------------------------------- selection


@dataclass(slots=True)
class Evaluated:
    """A candidate with what it does for each statement it may help."""

    candidate: Candidate
    size_bytes: int
    write_overhead_ms_per_day: float
    ratios: dict[int, float]
    """Statement number -> cost reduction 0..1 (0: not used, or below the minimum)."""
    costs_after: dict[int, float] = field(default_factory=dict)


def select(
    evaluated: Sequence[Evaluated],
    saved_per_ratio: Sequence[float],
    *,
    max_indexes: int,
    max_bytes: int | None,
) -> list[tuple[Evaluated, dict[int, float]]]:
    """Greedy workload-wide selection.

    ``saved_per_ratio[s]``: ms per day statement ``s`` would save at a cost reduction of
    1 (calls per day x mean time). A statement is helped by the best selected index
    only, so an index that serves several statements counts once and two indexes for
    the same statement do not add up. Each round takes the candidate with the largest
    gain (time saved per day beyond what the selected ones save, less its write
    overhead) per unit of budget (one index, or its bytes); it stops when nothing
    gains or the budget is spent. Returns each chosen candidate with the ms per day it
    saves per statement.
    """
    best = [0.0] * len(saved_per_ratio)
    chosen: list[tuple[Evaluated, dict[int, float]]] = []
    spent = 0
    remaining = list(evaluated)
    while remaining and len(chosen) < max_indexes:
        scored = []
        for ev in remaining:
            if max_bytes is not None and spent + ev.size_bytes > max_bytes:
                continue
            gains = {
                s: (r - best[s]) * saved_per_ratio[s] for s, r in ev.ratios.items() if r > best[s]
            }
            gain = sum(gains.values()) - ev.write_overhead_ms_per_day
            if gain <= 0:
                continue
            unit = ev.size_bytes if max_bytes is not None else 1
            scored.append(
                (gain / max(unit, 1), -len(ev.candidate.columns), -ev.size_bytes, ev, gains)
            )
        if not scored:
            break
        scored.sort(key=lambda x: x[:3], reverse=True)
        _, _, _, ev, gains = scored[0]
        chosen.append((ev, gains))
        spent += ev.size_bytes
        for s, r in ev.ratios.items():
            best[s] = max(best[s], r)
        remaining.remove(ev)
    return chosen

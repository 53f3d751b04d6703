"""Query fingerprints: the statements ``pg_stat_statements`` splits but a person sees as one.

``pg_stat_statements`` gives ``WHERE id IN (1)`` and ``WHERE id IN (1, 2, 3)`` different
queryids before PostgreSQL 18, and different ones again for ``FROM orders o`` and
``FROM orders AS x``. :func:`fingerprint` gives them one: libpg_query's fingerprint
(through ``pglast``, the algorithm pganalyze, PgHero and Dexter use: constants and the
length of ``IN`` lists and the order of the target list do not count), taken after
table aliases are replaced by the names of their tables and numbered partitions
(``events_p1``, ``events_2024_01``) by their parent's name. :func:`tables` says which
tables a statement touches.

Needs the ``advisor`` extra (``pip install "pgstatkit[advisor]"``); without it every
function raises :class:`~pgstatkit.errors.ExtraNotInstalledError`. ``import
pgstatkit.fingerprints`` itself works without it. No I/O: these are plain functions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import fields, replace
from functools import lru_cache
from typing import Any, TypeVar, cast

from pgstatkit._protocol import Context, Operation, Steps
from pgstatkit.errors import ExtraNotInstalledError, InvalidArgumentError
from pgstatkit.models import QueryStat

__all__ = [
    "CHANGES_ENTRIES",
    "fingerprint",
    "group_changes",
    "group_statements",
    "require_pglast",
    "tables",
]

T = TypeVar("T")

INSTALL_HINT = 'pip install "pgstatkit[advisor]"'

_PARTITION = re.compile(r"^(.+?)(?:_p?\d+)+$")


def require_pglast() -> Any:
    """The ``pglast`` module.

    Raises:
        ExtraNotInstalledError: it is not installed (the message names the fix).
    """
    try:
        import pglast  # an optional dependency, imported on use
        import pglast.stream
    except ImportError:
        raise ExtraNotInstalledError(
            f"query fingerprints and the index advisor need pglast: {INSTALL_HINT}",
            extra="advisor",
        ) from None
    return pglast


def _text(query: object) -> str:
    if not isinstance(query, str):
        raise InvalidArgumentError(f"query must be a str, got {type(query).__name__}")
    return query


def _parse(pglast: Any, query: str) -> Any:
    try:
        return pglast.parse_sql(query)
    except pglast.parser.ParseError as exc:
        raise InvalidArgumentError(f"the statement does not parse: {exc}") from None


def _walk(node: Any) -> Iterator[Any]:
    """Every node below ``node`` (itself included), parents before children."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple | list):
            stack.extend(reversed(item))
            continue
        slots = getattr(type(item), "__slots__", None)
        if not isinstance(slots, dict):
            continue
        yield item
        children = [getattr(item, name, None) for name in slots]
        stack.extend(reversed([c for c in children if c is not None]))


def _parent_name(relname: str) -> str:
    """``events`` for ``events_p1`` or ``events_2024_01``: a numbered partition's parent."""
    match = _PARTITION.match(relname)
    return match.group(1) if match else relname


def _cte_names(nodes: list[Any]) -> set[str]:
    return {n.ctename for n in nodes if type(n).__name__ == "CommonTableExpr"}


def _relations(nodes: list[Any]) -> list[Any]:
    ctes = _cte_names(nodes)
    return [
        n
        for n in nodes
        if type(n).__name__ == "RangeVar" and not (n.schemaname is None and n.relname in ctes)
    ]


def tables(query: str) -> tuple[str, ...]:
    """The tables (and views) ``query`` reads or writes, as written (``schema.name`` when
    qualified), each once, in the order they appear; common table expressions are not
    tables.

    Raises:
        ExtraNotInstalledError: ``pglast`` is missing.
        InvalidArgumentError: ``query`` is not a str or does not parse.
    """
    return _tables(_text(query))


@lru_cache(maxsize=4096)
def _tables(query: str) -> tuple[str, ...]:
    pglast = require_pglast()
    nodes = list(_walk(_parse(pglast, query)))
    seen: dict[str, None] = {}
    for rel in sorted(_relations(nodes), key=lambda r: r.location or 0):
        name = rel.relname if rel.schemaname is None else f"{rel.schemaname}.{rel.relname}"
        seen.setdefault(name, None)
    return tuple(seen)


def fingerprint(query: str) -> str:
    """The fingerprint of ``query``: 16 hex digits, equal for statements that differ only
    in constants (``$n`` placeholders included), the length of ``IN`` lists, the order
    of the target list, column and table aliases, or the number of a partition. As in
    libpg_query, ``col IN (...)`` and ``col = c`` have the same fingerprint.

    Raises:
        ExtraNotInstalledError: ``pglast`` is missing.
        InvalidArgumentError: ``query`` is not a str or does not parse (a text
            ``pg_stat_statements`` truncated, for example).
    """
    return _fingerprint(_text(query))


@lru_cache(maxsize=16384)
def _fingerprint(query: str) -> str:
    pglast = require_pglast()
    statements = _parse(pglast, query)
    try:
        canonical = ";".join(pglast.stream.RawStream()(_canonical(s)) for s in statements)
        return str(pglast.parser.fingerprint(canonical))
    except Exception:  # a tree the deparser cannot print: the plain fingerprint
        return str(pglast.parser.fingerprint(query))


def _canonical(statement: Any) -> Any:
    """``statement`` with table aliases replaced by their tables' names (in place)."""
    nodes = list(_walk(statement))
    relations = _relations(nodes)
    counts: dict[str, int] = {}
    for rel in relations:
        rel.relname = _parent_name(rel.relname)
        counts[rel.relname] = counts.get(rel.relname, 0) + 1
    seen: dict[str, int] = {}
    aliases: dict[str, str | None] = {}

    def alias_to(name: str, canonical: str) -> None:
        # the same alias for two things (at different query levels): leave it as it is
        aliases[name] = canonical if aliases.get(name, canonical) == canonical else None

    for rel in relations:
        seen[rel.relname] = seen.get(rel.relname, 0) + 1
        if counts[rel.relname] == 1:
            canonical = rel.relname
            if rel.alias is not None and not rel.alias.colnames:
                alias_to(rel.alias.aliasname, canonical)
                rel.alias = None
        else:
            canonical = f"{rel.relname}_{seen[rel.relname]}"
            if rel.alias is not None:
                alias_to(rel.alias.aliasname, canonical)
                rel.alias.aliasname = canonical
    subqueries = [
        n for n in nodes if type(n).__name__ in ("RangeSubselect", "RangeFunction") and n.alias
    ]
    for number, sub in enumerate(subqueries, start=1):
        alias_to(sub.alias.aliasname, f"s{number}")
        sub.alias.aliasname = f"s{number}"
    single = len(relations) + len(subqueries) == 1
    for node in nodes:
        if type(node).__name__ != "ColumnRef" or len(node.fields) != 2:
            continue
        qualifier = node.fields[0]
        name = getattr(qualifier, "sval", None)
        if name is None:
            continue
        if single:
            node.fields = node.fields[1:]
        elif aliases.get(name):
            qualifier.sval = aliases[name]
    return statement


# --------------------------------------------------------------------------- grouping


def _statement_key(row: QueryStat) -> Hashable:
    """The group of ``row``: its fingerprint for its user, database and level; a text
    that does not parse (truncated, hidden) stays its own group."""
    text = row.query
    if text is not None:
        try:
            return (row.userid, row.dbid, row.toplevel, _fingerprint(text))
        except InvalidArgumentError:
            pass
    return (row.userid, row.dbid, row.toplevel, "queryid", row.queryid)


def group_statements(
    rows: Iterable[QueryStat], key: Callable[[QueryStat], Hashable] | None = None
) -> list[QueryStat]:
    """``rows`` summed per fingerprint (and user, database, top-level flag), heaviest
    group first (total execution time).

    A grouped row carries the ``queryid`` and ``query`` of its heaviest entry; its
    counters are sums; ``mean_*`` the calls-weighted (plans-weighted) means; ``stddev_*``
    the standard deviation of all the group's executions together (the entries'
    variances plus the spread of their means around the group's mean); ``min_*`` and
    ``max_*`` the extremes; ``cache_hit_ratio`` recomputed from the summed blocks;
    ``percent_of_total_time`` summed; ``stats_since`` the earliest; a field one entry
    lacks (``None``) is ``None``. Rows whose text does not parse are not grouped.

    Raises:
        ExtraNotInstalledError: ``pglast`` is missing.
    """
    require_pglast()
    groups: dict[Hashable, list[QueryStat]] = {}
    for row in rows:
        groups.setdefault((key or _statement_key)(row), []).append(row)
    merged = [combine(members) for members in groups.values()]
    merged.sort(key=lambda r: (-r.total_exec_time_ms, -r.calls))
    return merged


@lru_cache(maxsize=8)
def _summed(kind: Any) -> frozenset[str]:
    """The fields of the result model ``kind`` that add up: counters and totals."""
    return frozenset(
        f.name
        for f in fields(kind)
        if f.name.startswith(("total_", "shared_", "local_", "temp_", "wal_", "jit_", "parallel_"))
        or f.name in ("calls", "rows", "plans", "percent_of_total_time")
    )


def _sum(values: list[Any]) -> Any:
    if any(v is None for v in values):
        return None
    return sum(values)


def _pooled(counts: list[int], means: list[float], stddevs: list[float]) -> tuple[float, float]:
    """Mean and population standard deviation of the union of the groups."""
    total = sum(counts)
    if total == 0:
        return 0.0, 0.0
    mean = sum(n * m for n, m in zip(counts, means, strict=True)) / total
    variance = (
        sum(n * (s * s + (m - mean) ** 2) for n, m, s in zip(counts, means, stddevs, strict=True))
        / total
    )
    return mean, math.sqrt(max(variance, 0.0))


R = TypeVar("R")


def combine(members: list[R]) -> R:
    """One row for ``members`` (see :func:`group_statements`): a :class:`QueryStat` or
    a :class:`~pgstatkit.history.StatementChange` (``intervals``: the most of any
    member; ``recreated``: any member's)."""
    rows: list[Any] = list(members)
    head: Any = max(rows, key=lambda r: (r.total_exec_time_ms, r.calls))
    if len(members) == 1:
        return cast(R, head)
    names = {f.name for f in fields(head)}
    values: dict[str, Any] = {
        name: _sum([getattr(m, name) for m in members]) for name in _summed(head.__class__)
    }
    for kind, count in (("exec", "calls"), ("plan", "plans")):
        counted = [m for m in members if getattr(m, count) > 0] or members
        means = [getattr(m, f"mean_{kind}_time_ms") for m in counted]
        stddevs = [getattr(m, f"stddev_{kind}_time_ms") for m in counted]
        if any(v is None for v in means + stddevs):
            values[f"mean_{kind}_time_ms"] = values[f"stddev_{kind}_time_ms"] = None
        else:
            mean, stddev = _pooled([getattr(m, count) for m in counted], means, stddevs)
            values[f"mean_{kind}_time_ms"] = mean
            values[f"stddev_{kind}_time_ms"] = stddev
        for edge, pick in (("min", min), ("max", max)):
            if f"{edge}_{kind}_time_ms" in names:
                values[f"{edge}_{kind}_time_ms"] = pick(
                    getattr(m, f"{edge}_{kind}_time_ms") for m in counted
                )
    if "cache_hit_ratio" in names:
        hit, read = values["shared_blks_hit"], values["shared_blks_read"]
        values["cache_hit_ratio"] = hit / (hit + read) if hit + read > 0 else None
    for name, pick in (("stats_since", min), ("minmax_stats_since", max)):
        if name in names:
            found = [getattr(m, name) for m in members]
            values[name] = None if any(v is None for v in found) else pick(found)
    if "intervals" in names:
        values["intervals"] = max(m.intervals for m in rows)
        values["recreated"] = any(m.recreated for m in rows)
    return cast(R, replace(head, **values))


# ------------------------------------------------------------- history.changes grouping


def _change_key(row: Any) -> Hashable:
    """The group of a ``StatementChange``: its fingerprint for its target, user,
    database and level; a text that does not parse (or is missing) stays alone."""
    text = row.query
    if text is not None:
        try:
            return (row.target, row.userid, row.dbid, row.toplevel, _fingerprint(text))
        except InvalidArgumentError:
            pass
    return (row.target, row.userid, row.dbid, row.toplevel, "queryid", row.queryid)


def _change_order(order_by: str) -> Callable[[Any], Any]:
    if order_by == "mean_exec_time_ms":
        return lambda r: (-(r.total_exec_time_ms / r.calls if r.calls else 0.0), -r.calls)
    return lambda r: (-getattr(r, order_by), -r.calls)


def changes_grouping(group_by: object) -> bool:
    """``group_by`` of ``history.changes`` checked (``"queryid"`` or ``"fingerprint"``):
    whether to group; ``"fingerprint"`` needs ``pglast`` (checked now).

    Raises:
        InvalidArgumentError: another value. ExtraNotInstalledError: ``pglast`` is missing.
    """
    if group_by not in ("queryid", "fingerprint"):
        raise InvalidArgumentError(f"group_by must be 'queryid' or 'fingerprint', got {group_by!r}")
    if group_by == "fingerprint":
        require_pglast()
    return group_by == "fingerprint"


def group_changes(operation: Operation[T], order_by: str, limit: int) -> Operation[T]:
    """``operation`` (a :func:`pgstatkit._history.changes` operation that reads up to
    :data:`CHANGES_ENTRIES` entries) with its statements summed per fingerprint (and
    target, user, database, level) as :func:`group_statements` sums them, ordered by
    ``order_by`` (descending) and cut to ``limit``.

    Raises:
        ExtraNotInstalledError: ``pglast`` is missing (checked now, before any round trip).
    """
    require_pglast()

    def steps(ctx: Context) -> Steps[T]:
        result: Any = yield from operation.steps(ctx)
        groups: dict[Hashable, list[Any]] = {}
        for row in result.statements:
            groups.setdefault(_change_key(row), []).append(row)
        merged = sorted((combine(m) for m in groups.values()), key=_change_order(order_by))
        return cast(T, replace(result, statements=tuple(merged[:limit])))

    return Operation(operation.name, steps, operation.timeout_ms)


CHANGES_ENTRIES = 10_000
"""How many entries of the window (the heaviest by ``order_by``) a grouped
``history.changes`` reads before it groups them."""

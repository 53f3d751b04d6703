"""Prometheus metrics from pgstatkit, rendered by ``prometheus_client``.

Extra ``prometheus`` (``pip install "pgstatkit[prometheus]"``; the ``fastapi`` extra
brings it too): importing this module without ``prometheus-client`` raises an
``ImportError`` that says so. Three ways in:

- :func:`render_metrics` (async): query a source and return the exposition that
  ``prometheus_client.generate_latest`` makes (its ``CONTENT_TYPE_LATEST``, here
  :data:`CONTENT_TYPE`). This is what ``GET /performance/metrics`` of
  :func:`pgstatkit.fastapi.create_router` serves.
- :func:`render`: the same from a :class:`Snapshot` you already have.
- :class:`PgStatKitCollector`: a custom collector to register in your own
  ``prometheus_client`` registry. Give it a blocking source (psycopg ``Connection`` /
  ``ConnectionPool``, SQLAlchemy ``Engine``...) and every scrape queries it; or give it
  none and feed it from async code with ``await collector.refresh(async_source)``.

What is exposed: the statistics of the current database (``pg_stat_database``, label
``database``) and the top-N statements by total execution time (labels ``queryid``,
``database``, ``user``). A statement's ``pg_stat_statements`` entries (top-level and
nested, ``toplevel``) are summed *before* the top N are picked, so each label set
appears once and its counters never go down without a reset. Cardinality is bounded by
``top_n``; the statement text is left out unless ``include_query_text=True`` (it may hold
sensitive literals), and even then is cut to ``max_query_length`` characters.
Statements the role may not see (``queryid`` hidden) and pgstatkit's own statements
(unless ``include_pgstatkit=True``) are left out. ``all_databases=True``: the top-N
statements of every database of the server (the ``database`` label, from the server's
own ``pg_database``), still at most ``top_n`` in all.

A scrape is one guarded call on one connection, and reads only what it exports:
``pg_stat_statements(showtext := false)`` (the server does not read its query-text
file), the exported columns summed per ``(queryid, dbid, userid)`` in SQL, then the top
N. Texts are read when the ``query`` label is asked for, and to learn which statements
are pgstatkit's own: the first scrape of a source and a scrape that meets a statement
new to the top N read them once (see :class:`pgstatkit._own.OwnQueryids`).

Times are exposed in seconds, as Prometheus prefers (``_seconds``); counters end in
``_total``.
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

from pgstatkit import _health, reports
from pgstatkit import _operations as _ops
from pgstatkit._display import cut
from pgstatkit._own import OwnQueryids
from pgstatkit._plan import Plan, run_plan_async, run_plan_sync
from pgstatkit.errors import PgStatKitError
from pgstatkit.models import (
    HEALTH_SEVERITIES,
    DatabaseStatistics,
    HealthReport,
    QueryStat,
    StatementTotals,
)

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
    from prometheus_client.registry import CollectorRegistry
except ImportError as _missing:  # pragma: no cover - exercised without the extra
    raise ImportError(
        'pgstatkit.prometheus renders with prometheus-client: pip install "pgstatkit[prometheus]"'
    ) from _missing

__all__ = [
    "CONTENT_TYPE",
    "MetricFamily",
    "PgStatKitCollector",
    "Snapshot",
    "collect_snapshot",
    "collect_snapshot_sync",
    "health_families",
    "metric_families",
    "render",
    "render_metrics",
]

logger = logging.getLogger("pgstatkit.prometheus")

CONTENT_TYPE: str = CONTENT_TYPE_LATEST
"""The ``Content-Type`` of what :func:`render` returns: ``prometheus_client``'s
``CONTENT_TYPE_LATEST`` (the text format, version 0.0.4 or 1.0.0 by library version)."""

PREFIX = "pgstatkit"

MetricType = Literal["gauge", "counter"]


@dataclasses.dataclass(frozen=True)
class MetricFamily:
    """One metric: its name (without ``_total`` for counters), type, help and samples."""

    name: str
    type: MetricType
    help: str
    samples: tuple[tuple[dict[str, str], float], ...]


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What one scrape read: the database statistics and the top statements.

    ``database`` is ``None`` when the database could not be read (``up`` is then 0);
    ``statements`` is ``None`` when ``pg_stat_statements`` could not be read (not
    loaded, not installed, no privilege); ``error`` then says why, in pgstatkit's words.
    ``deallocations`` counts the evictions of ``pg_stat_statements`` since its reset
    (``None`` before 1.9, or when it could not be read).
    :func:`collect_snapshot` fills ``statements`` with
    :class:`~pgstatkit.models.StatementTotals`; :class:`~pgstatkit.models.QueryStat`
    rows (from ``stats.top_queries_by_total_time``) work too, and are summed per label
    set.
    """

    database: DatabaseStatistics | None
    statements: Sequence[StatementTotals | QueryStat] | None
    include_query_text: bool = False
    max_query_length: int = 200
    error: str | None = None
    deallocations: int | None = None
    """``pg_stat_statements_info.dealloc`` (1.9+), ``None`` when unknown."""
    health: HealthReport | None = None
    """The health checks' report when the scrape asked for it (``health=True``): the
    ``pgstatkit_health_*`` gauges."""


def _check_options(top_n: int, max_query_length: int) -> None:
    if not isinstance(top_n, int) or isinstance(top_n, bool) or not 1 <= top_n <= 10_000:
        raise ValueError(f"top_n must be an int from 1 to 10000, got {top_n!r}")
    if (
        not isinstance(max_query_length, int)
        or isinstance(max_query_length, bool)
        or max_query_length < 1
    ):
        raise ValueError(f"max_query_length must be a positive int, got {max_query_length!r}")


_KNOWN: weakref.WeakKeyDictionary[Any, OwnQueryids] = weakref.WeakKeyDictionary()
"""Per source (a pool, an engine, a connection): which ``queryid`` s are pgstatkit's own,
so that scrapes read ``pg_stat_statements`` without texts (:class:`OwnQueryids`)."""


_KNOWN_BY_ID: dict[int, OwnQueryids] = {}
"""The same for sources that cannot be weakly referenced (asyncpg's ``Pool``), by
``id()``, at most :data:`_MAX_BY_ID`. An id reused by another source only costs a read
with texts: that source's own statements are not among the ``queryid`` s it finds
classified, so it learns them (a wrong exclusion would need a 64-bit hash collision)."""
_MAX_BY_ID = 64


def _known(source: Any) -> OwnQueryids:
    """The :class:`OwnQueryids` of ``source``."""
    try:
        known = _KNOWN.get(source)
        if known is None:
            known = _KNOWN[source] = OwnQueryids()
    except TypeError:
        known = _KNOWN_BY_ID.get(id(source))
        if known is None:
            if len(_KNOWN_BY_ID) >= _MAX_BY_ID:
                _KNOWN_BY_ID.pop(next(iter(_KNOWN_BY_ID)))
            known = _KNOWN_BY_ID[id(source)] = OwnQueryids()
    return known


def _scrape(
    top_n: int,
    include_query_text: bool,
    max_query_length: int,
    include_pgstatkit: bool,
    timeout_ms: float | None,
    health: bool = False,
    all_databases: bool = False,
    known: OwnQueryids | None = None,
) -> Plan[Snapshot]:
    """One scrape: one guarded call (one connection, one transaction) reads the database
    statistics, the top statements and the deallocations (and the health checks, with
    ``health``, in a call of their own).

    A pgstatkit error is recorded in the snapshot (its message) instead of raised: of the
    ``pg_stat_statements`` part, the database statistics are still exported.
    """
    _check_options(top_n, max_query_length)
    try:
        read = yield _ops.metrics_scrape(
            limit=top_n,
            query_text=include_query_text,
            include_pgstatkit=include_pgstatkit,
            all_databases=all_databases,
            known=known,
            timeout_ms=timeout_ms,
        )
    except PgStatKitError as exc:
        logger.warning("pgstatkit metrics: database statistics unavailable: %s", exc)
        return Snapshot(None, None, include_query_text, max_query_length, str(exc))
    error: str | None = None
    if read.error is not None:
        logger.warning("pgstatkit metrics: pg_stat_statements unavailable: %s", read.error)
        error = str(read.error)
    report: HealthReport | None = None
    if health:
        try:
            report = yield _health.health(timeout_ms=timeout_ms)
        except PgStatKitError as exc:
            logger.warning("pgstatkit metrics: health checks unavailable: %s", exc)
    return Snapshot(
        read.database,
        read.statements,
        include_query_text,
        max_query_length,
        error,
        read.deallocations,
        health=report,
    )


async def collect_snapshot(
    source: Any,
    *,
    top_n: int = 20,
    include_query_text: bool = False,
    max_query_length: int = 200,
    include_pgstatkit: bool = False,
    timeout_ms: float | None = None,
    health: bool = False,
    all_databases: bool = False,
) -> Snapshot:
    """Read a :class:`Snapshot` from an async source (as for ``pgstatkit.stats``).

    ``health=True`` also runs the health checks (``stats.health``, default thresholds):
    the ``pgstatkit_health_findings`` and ``pgstatkit_health_status`` gauges
    (docs/health.md).

    pgstatkit errors (extension missing, no privilege, timeout) do not raise: the snapshot
    records them and the metrics say so (``pgstatkit_up``,
    ``pgstatkit_pg_stat_statements_available``). Errors reaching the database (a lost
    connection) propagate, so a caller can answer 503.

    ``all_databases``: the statements of every database of the server, not only of the
    one ``source`` connects to (the ``database`` label tells them apart; still at most
    ``top_n`` statements in all, so the cardinality stays bounded). Reading another
    database's statements needs ``pg_read_all_stats`` (or a superuser), as for every
    other user's.

    Raises:
        ValueError: ``top_n`` not 1..10,000 or ``max_query_length`` not positive.
    """
    plan = _scrape(
        top_n,
        include_query_text,
        max_query_length,
        include_pgstatkit,
        timeout_ms,
        health,
        all_databases,
        _known(source),
    )
    return await run_plan_async(source, plan)


def collect_snapshot_sync(
    source: Any,
    *,
    top_n: int = 20,
    include_query_text: bool = False,
    max_query_length: int = 200,
    include_pgstatkit: bool = False,
    timeout_ms: float | None = None,
    health: bool = False,
    all_databases: bool = False,
) -> Snapshot:
    """The blocking twin of :func:`collect_snapshot` (a source as for ``pgstatkit.sync.stats``)."""
    plan = _scrape(
        top_n,
        include_query_text,
        max_query_length,
        include_pgstatkit,
        timeout_ms,
        health,
        all_databases,
        _known(source),
    )
    return run_plan_sync(source, plan)


@dataclasses.dataclass
class _Aggregate:
    calls: int = 0
    rows: int = 0
    total_exec_time_ms: float = 0.0
    total_plan_time_ms: float = 0.0
    shared_blks_hit: int = 0
    shared_blks_read: int = 0
    temp_blks_written: int = 0
    query: str | None = None


def _aggregate(
    statements: Sequence[StatementTotals | QueryStat], include_text: bool, max_length: int
) -> dict[tuple[str, str, str], _Aggregate]:
    """One aggregate per label set (rows of the same set summed: one series each)."""
    result: dict[tuple[str, str, str], _Aggregate] = {}
    for s in statements:
        if s.queryid is None:
            continue  # hidden from this role: no stable label
        key = (str(s.queryid), s.database or "", s.username or "")
        agg = result.setdefault(key, _Aggregate())
        agg.calls += s.calls
        agg.rows += s.rows
        agg.total_exec_time_ms += s.total_exec_time_ms
        agg.total_plan_time_ms += s.total_plan_time_ms
        agg.shared_blks_hit += s.shared_blks_hit
        agg.shared_blks_read += s.shared_blks_read
        agg.temp_blks_written += s.temp_blks_written
        if include_text and agg.query is None and s.query is not None:
            agg.query = cut(" ".join(s.query.split()), max_length)
    return result


def _status_families(snapshot: Snapshot) -> list[MetricFamily]:
    return [
        MetricFamily(
            f"{PREFIX}_up",
            "gauge",
            "1 if pgstatkit could read the database statistics, else 0.",
            (({}, 1.0 if snapshot.database is not None else 0.0),),
        ),
        MetricFamily(
            f"{PREFIX}_pg_stat_statements_available",
            "gauge",
            "1 if pg_stat_statements could be read, else 0 (see the service log for why).",
            (({}, 1.0 if snapshot.statements is not None else 0.0),),
        ),
    ] + (
        []
        if snapshot.deallocations is None
        else [
            MetricFamily(
                f"{PREFIX}_pg_stat_statements_deallocations",
                "counter",
                "Times pg_stat_statements evicted its least-executed entries since its "
                "reset (pg_stat_statements_info.dealloc, 1.9+): statistics were lost.",
                (({}, float(snapshot.deallocations)),),
            )
        ]
    )


def _database_families(db: DatabaseStatistics) -> list[MetricFamily]:
    labels = {"database": db.database}
    families = []
    for attr, suffix, kind, help_text, scale in reports.DATABASE.metrics:
        value = getattr(db, attr)
        samples = () if value is None else ((labels, float(value) * scale),)
        families.append(MetricFamily(f"{PREFIX}_{suffix}", kind, help_text, samples))
    return families


def _statement_families(snapshot: Snapshot) -> list[MetricFamily]:
    assert snapshot.statements is not None
    aggregates = _aggregate(
        snapshot.statements, snapshot.include_query_text, snapshot.max_query_length
    )

    def labels_of(key: tuple[str, str, str], agg: _Aggregate) -> dict[str, str]:
        found = {"queryid": key[0], "database": key[1], "user": key[2]}
        if snapshot.include_query_text:
            found["query"] = agg.query or ""
        return found

    families = []
    for attr, suffix, kind, help_text, scale in reports.STATEMENT_TOTALS.metrics:
        samples = tuple(
            (labels_of(key, agg), float(getattr(agg, attr)) * scale)
            for key, agg in aggregates.items()
        )
        help_text += " Top statements by total execution time only."
        families.append(MetricFamily(f"{PREFIX}_{suffix}", kind, help_text, samples))
    return families


def health_families(report: HealthReport) -> list[MetricFamily]:
    """The gauges of a health report: per check (label ``check``, one of the fixed
    names) the number of findings of each severity (label ``severity``: ok, unknown,
    warning, critical; zeros included, so at most 18 x 4 series), and its worst
    severity as a number (0 ok, 1 unknown, 2 warning, 3 critical)."""
    counts: list[tuple[dict[str, str], float]] = []
    status: list[tuple[dict[str, str], float]] = []
    for check in report.checks:
        found = report.for_check(check)
        for severity in HEALTH_SEVERITIES:
            n = sum(1 for f in found if f.severity == severity)
            counts.append(({"check": check, "severity": severity}, float(n)))
        status.append(({"check": check}, float(HEALTH_SEVERITIES.index(report.severity_of(check)))))
    return [
        MetricFamily(
            f"{PREFIX}_health_findings",
            "gauge",
            "Findings of each health check by severity (see docs/health.md).",
            tuple(counts),
        ),
        MetricFamily(
            f"{PREFIX}_health_status",
            "gauge",
            "Worst severity of each health check: 0 ok, 1 unknown, 2 warning, 3 critical.",
            tuple(status),
        ),
    ]


def metric_families(snapshot: Snapshot) -> list[MetricFamily]:
    """The metrics of a snapshot as plain data (what :func:`render` and the collector emit)."""
    families = _status_families(snapshot)
    if snapshot.database is not None:
        families += _database_families(snapshot.database)
    if snapshot.statements is not None:
        families += _statement_families(snapshot)
    if snapshot.health is not None:
        families += health_families(snapshot.health)
    return families


def _client_families(families: Iterable[MetricFamily]) -> Iterator[Metric]:
    """The same metrics as ``prometheus_client`` metric families."""
    for family in families:
        label_names = sorted({k for labels, _ in family.samples for k in labels})
        metric: CounterMetricFamily | GaugeMetricFamily
        if family.type == "counter":
            metric = CounterMetricFamily(family.name, family.help, labels=label_names)
        else:
            metric = GaugeMetricFamily(family.name, family.help, labels=label_names)
        for labels, value in family.samples:
            metric.add_metric([labels.get(k, "") for k in label_names], value)
        yield metric


class _SnapshotCollector:
    """A collector of one fixed snapshot, for :func:`render`."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        return _client_families(metric_families(self._snapshot))


def render(snapshot: Snapshot) -> str:
    """The exposition of a snapshot, made by ``prometheus_client.generate_latest``.

    Served with :data:`CONTENT_TYPE`. Counters are declared under their sample name
    (``# TYPE pgstatkit_statement_calls_total counter``), as Prometheus' parser expects.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry).decode("utf-8")


async def render_metrics(
    source: Any,
    *,
    top_n: int = 20,
    include_query_text: bool = False,
    max_query_length: int = 200,
    include_pgstatkit: bool = False,
    timeout_ms: float | None = None,
    health: bool = False,
    all_databases: bool = False,
) -> str:
    """Query ``source`` (an async source, as for ``pgstatkit.stats``) and :func:`render`.

    Raises:
        ValueError: a bad option (see :func:`collect_snapshot`).
    """
    snapshot = await collect_snapshot(
        source,
        top_n=top_n,
        include_query_text=include_query_text,
        max_query_length=max_query_length,
        include_pgstatkit=include_pgstatkit,
        timeout_ms=timeout_ms,
        health=health,
        all_databases=all_databases,
    )
    return render(snapshot)


class PgStatKitCollector:
    """A ``prometheus_client`` collector of pgstatkit's metrics.

    Usage::

        from prometheus_client import REGISTRY
        from pgstatkit.prometheus import PgStatKitCollector

        REGISTRY.register(PgStatKitCollector(engine))  # a blocking source: queried per scrape

        collector = PgStatKitCollector()  # async service: refresh it yourself
        REGISTRY.register(collector)
        await collector.refresh(asyncpg_pool)  # e.g. from a periodic task

    With a blocking ``source``, each ``collect()`` (each scrape) reads the database; an
    error reaching it is logged and reported as ``pgstatkit_up 0``. Without one, the
    collector exposes the last snapshot given to :meth:`refresh` or :meth:`update`
    (only ``pgstatkit_up 0`` before the first).

    Raises:
        ValueError: a bad option (see :func:`collect_snapshot`).
    """

    def __init__(
        self,
        source: Any = None,
        *,
        top_n: int = 20,
        include_query_text: bool = False,
        max_query_length: int = 200,
        include_pgstatkit: bool = False,
        timeout_ms: float | None = None,
        health: bool = False,
        all_databases: bool = False,
    ) -> None:
        _check_options(top_n, max_query_length)
        self._source = source
        self._options: dict[str, Any] = {
            "top_n": top_n,
            "include_query_text": include_query_text,
            "max_query_length": max_query_length,
            "include_pgstatkit": include_pgstatkit,
            "timeout_ms": timeout_ms,
            "health": health,
            "all_databases": all_databases,
        }
        self._snapshot: Snapshot | None = None

    def update(self, snapshot: Snapshot) -> None:
        """Expose ``snapshot`` from now on."""
        self._snapshot = snapshot

    async def refresh(self, source: Any) -> Snapshot:
        """Read a snapshot from an async ``source`` and expose it from now on."""
        snapshot = await collect_snapshot(source, **self._options)
        self._snapshot = snapshot
        return snapshot

    def describe(self) -> list[Metric]:
        """Nothing up front, so registering does not query the database."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The metric families of ``prometheus_client`` for one scrape."""
        snapshot = self._snapshot
        if self._source is not None:
            try:
                snapshot = collect_snapshot_sync(self._source, **self._options)
            except Exception:
                logger.exception("pgstatkit metrics: the database could not be read")
                snapshot = Snapshot(None, None, error="database unreachable")
        if snapshot is None:
            snapshot = Snapshot(None, None, error="no snapshot yet")
        return _client_families(metric_families(snapshot))

"""Prometheus metrics from pgstatkit: a text-exposition renderer and a ``prometheus_client``
collector.

Two ways in:

- :func:`render_metrics` (async): query a source and return the Prometheus text exposition
  format (version 0.0.4) as a string; needs nothing but pgstatkit and a driver. This is what
  ``GET /performance/metrics`` of :func:`pgstatkit.fastapi.create_router` serves.
- :class:`PgStatKitCollector`: a custom collector for ``prometheus_client`` (extra
  ``prometheus``). Give it a blocking source (psycopg ``Connection`` / ``ConnectionPool``,
  SQLAlchemy ``Engine``...) and every scrape queries it; or give it none and feed it from
  async code with ``await collector.refresh(async_source)``.

What is exposed: the statistics of the current database (``pg_stat_database``, label
``database``) and the top-N statements by total execution time (labels ``queryid``,
``database``, ``user``). Cardinality is bounded by ``top_n`` (at most ``top_n`` label
sets per statement metric); the statement text is left out unless
``include_query_text=True`` (it may hold sensitive literals), and even then is cut to
``max_query_length`` characters. Rows that ``pg_stat_statements`` splits by ``toplevel``
are summed, so each label set appears once. Statements the role may not see
(``queryid`` hidden) are left out.

Times are exposed in seconds, as Prometheus prefers (``_seconds``); counters end in
``_total``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from pgstatkit import stats
from pgstatkit.errors import PgStatKitError
from pgstatkit.models import DatabaseStatistics, QueryStat

__all__ = [
    "CONTENT_TYPE",
    "MetricFamily",
    "PgStatKitCollector",
    "Snapshot",
    "collect_snapshot",
    "collect_snapshot_sync",
    "metric_families",
    "render",
    "render_metrics",
]

logger = logging.getLogger("pgstatkit.prometheus")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The ``Content-Type`` of the text exposition format :func:`render` produces."""

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
    """

    database: DatabaseStatistics | None
    statements: list[QueryStat] | None
    include_query_text: bool = False
    max_query_length: int = 200
    error: str | None = None


def _check_options(top_n: int, max_query_length: int) -> None:
    if not isinstance(top_n, int) or isinstance(top_n, bool) or not 1 <= top_n <= 10_000:
        raise ValueError(f"top_n must be an int from 1 to 10000, got {top_n!r}")
    if (
        not isinstance(max_query_length, int)
        or isinstance(max_query_length, bool)
        or max_query_length < 1
    ):
        raise ValueError(f"max_query_length must be a positive int, got {max_query_length!r}")


async def collect_snapshot(
    source: Any,
    *,
    top_n: int = 20,
    include_query_text: bool = False,
    max_query_length: int = 200,
    timeout_ms: float | None = None,
) -> Snapshot:
    """Read a :class:`Snapshot` through the async API (``pgstatkit.stats``).

    pgstatkit errors (extension missing, no privilege, timeout) do not raise: the snapshot
    records them and the metrics say so (``pgstatkit_up``,
    ``pgstatkit_pg_stat_statements_available``). Errors reaching the database (a lost
    connection) propagate, so a caller can answer 503.
    """
    _check_options(top_n, max_query_length)
    error: str | None = None
    try:
        database: DatabaseStatistics | None = await stats.database_statistics(
            source, timeout_ms=timeout_ms
        )
    except PgStatKitError as exc:
        logger.warning("pgstatkit metrics: database statistics unavailable: %s", exc)
        database, error = None, str(exc)
    statements: list[QueryStat] | None
    try:
        statements = await stats.top_queries_by_total_time(
            source, limit=top_n, timeout_ms=timeout_ms
        )
    except PgStatKitError as exc:
        logger.warning("pgstatkit metrics: pg_stat_statements unavailable: %s", exc)
        statements, error = None, error or str(exc)
    return Snapshot(database, statements, include_query_text, max_query_length, error)


def collect_snapshot_sync(
    source: Any,
    *,
    top_n: int = 20,
    include_query_text: bool = False,
    max_query_length: int = 200,
    timeout_ms: float | None = None,
) -> Snapshot:
    """The blocking twin of :func:`collect_snapshot` (``pgstatkit.sync.stats``)."""
    from pgstatkit.sync import stats as sync_stats

    _check_options(top_n, max_query_length)
    error: str | None = None
    try:
        database: DatabaseStatistics | None = sync_stats.database_statistics(
            source, timeout_ms=timeout_ms
        )
    except PgStatKitError as exc:
        logger.warning("pgstatkit metrics: database statistics unavailable: %s", exc)
        database, error = None, str(exc)
    statements: list[QueryStat] | None
    try:
        statements = sync_stats.top_queries_by_total_time(
            source, limit=top_n, timeout_ms=timeout_ms
        )
    except PgStatKitError as exc:
        logger.warning("pgstatkit metrics: pg_stat_statements unavailable: %s", exc)
        statements, error = None, error or str(exc)
    return Snapshot(database, statements, include_query_text, max_query_length, error)


# (attribute, metric suffix, type, help, scale)
_DATABASE_METRICS: tuple[tuple[str, str, MetricType, str, float], ...] = (
    ("size_bytes", "database_size_bytes", "gauge", "Size of the database.", 1.0),
    ("backends", "database_backends", "gauge", "Backends connected to the database.", 1.0),
    ("commits", "database_commits", "counter", "Transactions committed.", 1.0),
    ("rollbacks", "database_rollbacks", "counter", "Transactions rolled back.", 1.0),
    ("blks_read", "database_blks_read", "counter", "Disk blocks read.", 1.0),
    ("blks_hit", "database_blks_hit", "counter", "Buffer cache hits.", 1.0),
    (
        "cache_hit_ratio",
        "database_cache_hit_ratio",
        "gauge",
        "Buffer cache hit ratio, blks_hit / (blks_hit + blks_read), 0 to 1.",
        1.0,
    ),
    ("tup_returned", "database_tup_returned", "counter", "Rows returned by queries.", 1.0),
    ("tup_fetched", "database_tup_fetched", "counter", "Rows fetched by queries.", 1.0),
    ("tup_inserted", "database_tup_inserted", "counter", "Rows inserted.", 1.0),
    ("tup_updated", "database_tup_updated", "counter", "Rows updated.", 1.0),
    ("tup_deleted", "database_tup_deleted", "counter", "Rows deleted.", 1.0),
    ("conflicts", "database_conflicts", "counter", "Queries cancelled by recovery conflicts.", 1),
    ("temp_files", "database_temp_files", "counter", "Temporary files created.", 1.0),
    ("temp_bytes", "database_temp_bytes", "counter", "Bytes written to temporary files.", 1.0),
    ("deadlocks", "database_deadlocks", "counter", "Deadlocks detected.", 1.0),
    (
        "blk_read_time_ms",
        "database_blk_read_time_seconds",
        "counter",
        "Time spent reading data file blocks (0 unless track_io_timing is on).",
        0.001,
    ),
    (
        "blk_write_time_ms",
        "database_blk_write_time_seconds",
        "counter",
        "Time spent writing data file blocks (0 unless track_io_timing is on).",
        0.001,
    ),
)


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


# (attribute of _Aggregate, metric suffix, type, help, scale)
_STATEMENT_METRICS: tuple[tuple[str, str, MetricType, str, float], ...] = (
    ("calls", "statement_calls", "counter", "Times the statement was executed.", 1.0),
    ("rows", "statement_rows", "counter", "Rows retrieved or affected.", 1.0),
    (
        "total_exec_time_ms",
        "statement_exec_time_seconds",
        "counter",
        "Total execution time of the statement.",
        0.001,
    ),
    (
        "total_plan_time_ms",
        "statement_plan_time_seconds",
        "counter",
        "Total planning time (0 unless pg_stat_statements.track_planning is on).",
        0.001,
    ),
    ("shared_blks_hit", "statement_shared_blks_hit", "counter", "Shared buffer hits.", 1.0),
    ("shared_blks_read", "statement_shared_blks_read", "counter", "Shared blocks read.", 1.0),
    (
        "temp_blks_written",
        "statement_temp_blks_written",
        "counter",
        "Temporary blocks written (sorts or hashes spilling to disk).",
        1.0,
    ),
)


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: max(length - 1, 0)] + "\u2026"


def _aggregate(
    statements: Sequence[QueryStat], include_text: bool, max_length: int
) -> dict[tuple[str, str, str], _Aggregate]:
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
            agg.query = _cut(" ".join(s.query.split()), max_length)
    return result


def metric_families(snapshot: Snapshot) -> list[MetricFamily]:
    """The metrics of a snapshot, in a form both :func:`render` and the collector use."""
    families: list[MetricFamily] = [
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
    ]
    db = snapshot.database
    if db is not None:
        labels = {"database": db.database}
        for attr, suffix, kind, help_text, scale in _DATABASE_METRICS:
            value = getattr(db, attr)
            samples = () if value is None else ((labels, float(value) * scale),)
            families.append(MetricFamily(f"{PREFIX}_{suffix}", kind, help_text, samples))
    if snapshot.statements is not None:
        aggregates = _aggregate(
            snapshot.statements, snapshot.include_query_text, snapshot.max_query_length
        )

        def labels_of(key: tuple[str, str, str], agg: _Aggregate) -> dict[str, str]:
            found = {"queryid": key[0], "database": key[1], "user": key[2]}
            if snapshot.include_query_text:
                found["query"] = agg.query or ""
            return found

        for attr, suffix, kind, help_text, scale in _STATEMENT_METRICS:
            statement_samples = tuple(
                (labels_of(key, agg), float(getattr(agg, attr)) * scale)
                for key, agg in aggregates.items()
            )
            families.append(
                MetricFamily(
                    f"{PREFIX}_{suffix}",
                    kind,
                    help_text + " Top statements by total execution time only.",
                    statement_samples,
                )
            )
    return families


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def render(snapshot: Snapshot) -> str:
    """The Prometheus text exposition (format 0.0.4) of a snapshot."""
    lines: list[str] = []
    for family in metric_families(snapshot):
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        sample_name = family.name + ("_total" if family.type == "counter" else "")
        for labels, value in family.samples:
            if labels:
                rendered = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
                lines.append(f"{sample_name}{{{rendered}}} {_format_value(value)}")
            else:
                lines.append(f"{sample_name} {_format_value(value)}")
    return "\n".join(lines) + "\n"


async def render_metrics(
    source: Any,
    *,
    top_n: int = 20,
    include_query_text: bool = False,
    max_query_length: int = 200,
    timeout_ms: float | None = None,
) -> str:
    """Query ``source`` (an async source, as for ``pgstatkit.stats``) and :func:`render`."""
    snapshot = await collect_snapshot(
        source,
        top_n=top_n,
        include_query_text=include_query_text,
        max_query_length=max_query_length,
        timeout_ms=timeout_ms,
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
    """

    def __init__(
        self,
        source: Any = None,
        *,
        top_n: int = 20,
        include_query_text: bool = False,
        max_query_length: int = 200,
        timeout_ms: float | None = None,
    ) -> None:
        _check_options(top_n, max_query_length)
        self._source = source
        self._options: dict[str, Any] = {
            "top_n": top_n,
            "include_query_text": include_query_text,
            "max_query_length": max_query_length,
            "timeout_ms": timeout_ms,
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

    def describe(self) -> list[Any]:
        """Nothing up front, so registering does not query the database."""
        return []

    def collect(self) -> Iterator[Any]:
        """The metric families of ``prometheus_client`` for one scrape."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snapshot = self._snapshot
        if self._source is not None:
            try:
                snapshot = collect_snapshot_sync(self._source, **self._options)
            except Exception:
                logger.exception("pgstatkit metrics: the database could not be read")
                snapshot = Snapshot(None, None, error="database unreachable")
        if snapshot is None:
            snapshot = Snapshot(None, None, error="no snapshot yet")
        for family in metric_families(snapshot):
            label_names = sorted({k for labels, _ in family.samples for k in labels})
            metric: Any
            if family.type == "counter":
                metric = CounterMetricFamily(family.name, family.help, labels=label_names)
            else:
                metric = GaugeMetricFamily(family.name, family.help, labels=label_names)
            for labels, value in family.samples:
                metric.add_metric([labels.get(k, "") for k in label_names], value)
            yield metric

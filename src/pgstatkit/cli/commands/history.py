"""The history commands (:mod:`pgstatkit.history`): ``snapshot``, ``changes``,
``timeline``, ``collect``, ``prune`` and ``roll-up``.

``--dsn`` (or ``DATABASE_URL`` / ``PG*``) is the target of ``snapshot`` and the store of
the others; ``--store DSN`` makes ``snapshot`` write elsewhere. ``collect`` runs until
SIGINT or SIGTERM: the snapshots under way finish (nothing is ever half written) and it
exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import re
import signal
import sys
from collections.abc import Callable
from typing import Any

from pgstatkit import _history, _validate
from pgstatkit.cli import _format as fmt
from pgstatkit.cli._base import EXIT_OK, CliError, checked
from pgstatkit.cli._connect import connect, import_psycopg, resolve_dsn
from pgstatkit.cli._options import add_schema
from pgstatkit.cli._output import Out
from pgstatkit.cli.commands._command import Command
from pgstatkit.errors import InvalidArgumentError

__all__ = ["COMMANDS", "parse_moment"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SPAN = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smhdw])")


def parse_moment(text: str) -> dt.datetime | dt.timedelta:
    """``--since`` / ``--until``: a span before now (``90s``, ``15m``, ``1h``, ``2d``,
    ``1h30m``) or an ISO 8601 time with a zone (``2026-11-28T09:00:00+00:00``)."""
    spans = _SPAN.findall(text.strip().lower())
    if spans and "".join(n + u for n, u in spans) == re.sub(r"\s", "", text.strip().lower()):
        return dt.timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in spans))
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a span (90s, 15m, 1h, 2d) nor an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone: add +00:00 (or Z)")
    return moment


def _target(text: str) -> str:
    try:
        return _history.target_name(text)
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _named_target(text: str) -> tuple[str, str]:
    name, sep, dsn = text.partition("=")
    if not sep or not dsn:
        raise argparse.ArgumentTypeError(f"{text!r}: use NAME=DSN")
    return _target(name), dsn


def _sync() -> Any:
    import_psycopg()
    from pgstatkit.sync import history

    return history


def _store_options(p: argparse.ArgumentParser) -> None:
    add_schema(p, "pgstatkit's helper schema in the store (default pgstatkit)")


def _window_options(p: argparse.ArgumentParser, since: str) -> None:
    p.add_argument(
        "--since",
        type=parse_moment,
        default=parse_moment(since),
        metavar="WHEN",
        help=f"start of the window: a span before now (90s, 15m, 1h, 2d) or an ISO 8601 "
        f"time with a zone (default {since})",
    )
    p.add_argument(
        "--until",
        type=parse_moment,
        default=None,
        metavar="WHEN",
        help="end of the window, as --since (default now)",
    )
    p.add_argument(
        "--target",
        type=_target,
        default=None,
        metavar="NAME",
        help="only this target of the store (default every target)",
    )


# ------------------------------------------------------------------ snapshot


def _snapshot_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        default=None,
        metavar="DSN",
        help="write the snapshot into this database (default: the --dsn database itself)",
    )
    p.add_argument(
        "--target",
        type=_target,
        default=_history.DEFAULT_TARGET,
        metavar="NAME",
        help=f"the target's name in the store (default {_history.DEFAULT_TARGET})",
    )
    _lock_option(p)
    _store_options(p)


def _lock_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lock-timeout-ms",
        type=checked(_history.lock_timeout_ms, float),
        default=None,
        metavar="MS",
        help="lock timeout of each statement (default 1000): never wait behind the "
        "application's locks",
    )


SNAPSHOT_LINES: Callable[[_history.Snapshot], list[tuple[str, str]]] = lambda s: [  # noqa: E731
    ("target", fmt.safe(s.target)),
    ("captured at", s.captured_at.isoformat()),
    (
        "interval from",
        "-" if s.previous_captured_at is None else s.previous_captured_at.isoformat(),
    ),
    ("status", s.status),
    ("evictions", fmt.num(s.evictions)),
    ("entries read", fmt.num(s.entries_read)),
    ("entries stored", fmt.num(s.entries_stored)),
    ("new / re-created / gone", f"{s.entries_new} / {s.entries_recreated} / {s.entries_gone}"),
    ("texts read", fmt.num(s.texts_read)),
]


def _snapshot(args: argparse.Namespace, out: Out) -> int:
    history = _sync()
    options = {
        "target": args.target,
        "schema": args.schema,
        "timeout_ms": args.timeout_ms,
        "lock_timeout_ms": args.lock_timeout_ms,
    }
    with connect(args) as conn:
        if args.store is None:
            snap = history.snapshot(conn, **options)
        else:
            store_args = argparse.Namespace(**{**vars(args), "dsn": args.store})
            with connect(store_args) as store:
                snap = history.snapshot(conn, store=store, **options)
    if out.form == "json":
        out.json(snap)
    else:
        out.write(
            [*out.title(f"Snapshot of {fmt.safe(snap.target)}"), *out.pairs(SNAPSHOT_LINES(snap))]
        )
    return EXIT_OK


# ------------------------------------------------------------------ changes


CHANGE_COLUMNS = (
    fmt.Column("target", lambda c: fmt.safe(c.target), right=False, priority=2),
    fmt.Column("queryid", lambda c: str(c.queryid), priority=1),
    fmt.Column("calls", lambda c: fmt.num(c.calls), priority=8),
    fmt.Column("mean ms", lambda c: fmt.ms(c.mean_exec_time_ms), priority=9),
    fmt.Column("total ms", lambda c: fmt.ms(c.total_exec_time_ms), priority=7),
    fmt.Column("rows", lambda c: fmt.num(c.rows), priority=3),
    fmt.Column("blks read", lambda c: fmt.num(c.shared_blks_read), priority=4),
    fmt.Column("intervals", lambda c: fmt.num(c.intervals), priority=5),
    fmt.Column("re-created", lambda c: "yes" if c.recreated else "", priority=6),
    fmt.Column("query", lambda c: fmt.one_line(c.query), right=False, flex=True, min_width=30),
)


def _window_title(what: str, target: str | None, since: dt.datetime, until: dt.datetime) -> str:
    who = "every target" if target is None else fmt.safe(target)
    start, end = since.isoformat(timespec="seconds"), until.isoformat(timespec="seconds")
    return f"{what} of {who}, {start} to {end}"


def _flags(result: _history.HistoryChanges) -> str:
    evictions = "unknown" if result.evictions is None else f"{result.evictions:,}"
    return (
        f"status {result.status}: {result.intervals} intervals ({result.complete_intervals} "
        f"complete, {result.reset_intervals} reset, {result.lossy_intervals} lossy), "
        f"evictions {evictions}"
    )


def _changes_arguments(p: argparse.ArgumentParser) -> None:
    _window_options(p, "1h")
    p.add_argument(
        "--order-by",
        choices=tuple(_history.CHANGE_ORDERS),
        default="total_exec_time_ms",
        help="descending order of the statements (default total_exec_time_ms)",
    )
    p.add_argument(
        "--limit",
        type=checked(_validate.limit, int),
        default=20,
        metavar="N",
        help="at most N statements, 1 to 10000 (default 20)",
    )
    p.add_argument(
        "--include-pgstatkit",
        action="store_true",
        help="also pgstatkit's own statements",
    )
    p.add_argument(
        "--group-by",
        choices=("queryid", "fingerprint"),
        default="queryid",
        help="queryid: one row per entry (default); fingerprint: the entries of one query "
        "fingerprint summed (IN lists of any length, other aliases; needs "
        'pip install "pgstatkit[advisor]")',
    )
    _store_options(p)


def _changes(args: argparse.Namespace, out: Out) -> int:
    history = _sync()
    with connect(args) as conn:
        result = history.changes(
            conn,
            since=args.since,
            until=args.until,
            target=args.target,
            order_by=args.order_by,
            limit=args.limit,
            include_pgstatkit=args.include_pgstatkit,
            schema=args.schema,
            timeout_ms=args.timeout_ms,
            group_by=args.group_by,
        )
    if out.form == "json":
        out.json(result)
        return EXIT_OK
    title = _window_title("Changes", result.target, result.since, result.until)
    out.write(
        [*out.title(title), _flags(result), "", *out.rows(list(result.statements), CHANGE_COLUMNS)]
    )
    return EXIT_OK


# ------------------------------------------------------------------ timeline


TIMELINE_COLUMNS = (
    fmt.Column("target", lambda i: fmt.safe(i.target), right=False, priority=2),
    fmt.Column(
        "until", lambda i: i.captured_at.isoformat(timespec="seconds"), right=False, priority=9
    ),
    fmt.Column("status", lambda i: i.status, right=False, priority=8),
    fmt.Column("evictions", lambda i: fmt.num(i.evictions), priority=3),
    fmt.Column("calls", lambda i: fmt.num(i.calls), priority=9),
    fmt.Column("mean ms", lambda i: fmt.ms(i.mean_exec_time_ms), priority=7),
    fmt.Column("stddev ms", lambda i: fmt.ms(i.stddev_exec_time_ms), priority=4),
    fmt.Column("total ms", lambda i: fmt.ms(i.total_exec_time_ms), priority=6),
    fmt.Column("rows", lambda i: fmt.num(i.rows), priority=5),
)


def _timeline_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--queryid",
        type=checked(_validate.queryid, int),
        required=True,
        help="the statement to follow (a pg_stat_statements queryid)",
    )
    _window_options(p, "1h")
    _store_options(p)


def _timeline(args: argparse.Namespace, out: Out) -> int:
    history = _sync()
    with connect(args) as conn:
        series = history.timeline(
            conn,
            queryid=args.queryid,
            since=args.since,
            until=args.until,
            target=args.target,
            schema=args.schema,
            timeout_ms=args.timeout_ms,
        )
    if out.form == "json":
        out.json(series)
        return EXIT_OK
    out.write(
        [*out.title(f"Timeline of queryid {args.queryid}"), *out.rows(series, TIMELINE_COLUMNS)]
    )
    return EXIT_OK


# ------------------------------------------------------------------ prune


def _prune_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--keep",
        type=parse_moment,
        default=_history.DEFAULT_KEEP,
        metavar="SPAN",
        help="keep this much history (default 14d); whole days older are dropped",
    )
    _lock_option(p)
    _store_options(p)


def _prune(args: argparse.Namespace, out: Out) -> int:
    history = _sync()
    if not isinstance(args.keep, dt.timedelta):
        raise CliError("--keep takes a span (14d, 36h), not a time", 2)
    with connect(args) as conn:
        result = history.prune(
            conn,
            keep=args.keep,
            schema=args.schema,
            timeout_ms=args.timeout_ms,
            lock_timeout_ms=args.lock_timeout_ms,
        )
    if out.form == "json":
        out.json(result)
        return EXIT_OK
    out.write(
        [
            *out.title("Prune"),
            *out.pairs(
                [
                    ("cutoff", result.cutoff.isoformat()),
                    ("partitions dropped", fmt.num(result.partitions_dropped)),
                    ("snapshots deleted", fmt.num(result.snapshots_deleted)),
                    ("texts deleted", fmt.num(result.texts_deleted)),
                    ("hourly rows deleted", fmt.num(result.hourly_rows_deleted)),
                ]
            ),
        ]
    )
    return EXIT_OK


# ------------------------------------------------------------------ roll-up

ROLL_UP_COLUMNS = (
    fmt.Column("target", lambda r: fmt.safe(r.target), right=False, priority=9),
    fmt.Column("hours", lambda r: fmt.num(r.buckets), priority=8),
    fmt.Column("rows read", lambda r: fmt.num(r.rows_read), priority=5),
    fmt.Column("rows written", lambda r: fmt.num(r.rows_written), priority=6),
    fmt.Column(
        "rolled up until",
        lambda r: "-" if r.rolled_up_until is None else r.rolled_up_until.isoformat(),
        right=False,
        priority=7,
    ),
    fmt.Column("pending", lambda r: "yes" if r.pending else "no", right=False, priority=4),
)


def _roll_up_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target",
        type=_target,
        default=None,
        metavar="NAME",
        help="only this target of the store (default every target)",
    )
    p.add_argument(
        "--max-buckets",
        type=checked(_history.max_buckets, int),
        default=_history.ROLL_UP_BUCKETS,
        metavar="N",
        help="at most N hours per target (default 24, 1 to 744)",
    )
    p.add_argument(
        "--until-current",
        action="store_true",
        help="run again while hours are pending (each run its own transaction)",
    )
    _lock_option(p)
    _store_options(p)


def _roll_up(args: argparse.Namespace, out: Out) -> int:
    history = _sync()
    done: dict[str, _history.RollUp] = {}
    with connect(args) as conn:
        wanted = args.target
        while True:
            results = history.roll_up(
                conn,
                target=wanted,
                max_buckets=args.max_buckets,
                schema=args.schema,
                timeout_ms=args.timeout_ms,
                lock_timeout_ms=args.lock_timeout_ms,
            )
            for r in results:
                before = done.get(r.target)
                if before is not None:
                    r = dataclasses.replace(
                        r,
                        buckets=before.buckets + r.buckets,
                        rows_read=before.rows_read + r.rows_read,
                        rows_written=before.rows_written + r.rows_written,
                    )
                done[r.target] = r
            if not args.until_current or not any(r.pending and r.buckets for r in results):
                break
    rolled = [done[name] for name in sorted(done)]
    if out.form == "json":
        out.json(rolled)
        return EXIT_OK
    out.write([*out.title("Roll-up"), *out.rows(rolled, ROLL_UP_COLUMNS)])
    return EXIT_OK


# ------------------------------------------------------------------ collect


def _collect_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--interval",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds between snapshots (default 60)",
    )
    p.add_argument(
        "--jitter",
        type=float,
        default=None,
        metavar="S",
        help="each snapshot waits a random 0..S seconds into its tick (default: a tenth "
        "of the interval, at most 5)",
    )
    p.add_argument(
        "--target",
        type=_named_target,
        action="append",
        default=None,
        metavar="NAME=DSN",
        help="a target to snapshot (repeat for several, read concurrently); default: "
        f"--dsn, named {_history.DEFAULT_TARGET}",
    )
    p.add_argument(
        "--store",
        default=None,
        metavar="DSN",
        help="the store (default --dsn / DATABASE_URL / PG*)",
    )
    p.add_argument(
        "--count",
        type=int,
        default=None,
        metavar="N",
        help="stop after N ticks (default: run until SIGINT/SIGTERM)",
    )
    _lock_option(p)
    _store_options(p)


class _Lazy:
    """One psycopg async connection, (re)opened when a tick needs it."""

    def __init__(self, dsn: str, psycopg: Any) -> None:
        self.dsn = dsn
        self.psycopg = psycopg
        self.conn: Any = None

    async def get(self) -> Any:
        if self.conn is None or self.conn.closed or self.conn.broken:
            self.conn = await self.psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, application_name="pgstatkit collect"
            )
        return self.conn

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


async def _collect_loop(args: argparse.Namespace) -> int:
    from pgstatkit import collector

    psycopg = import_psycopg()
    default_dsn = resolve_dsn(args.dsn)
    named = args.target or [(_history.DEFAULT_TARGET, default_dsn)]
    store_dsn = resolve_dsn(args.store) if args.store is not None else default_dsn
    targets = {name: _Lazy(dsn, psycopg) for name, dsn in named}
    stores = {name: _Lazy(store_dsn, psycopg) for name in targets}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log = logging.getLogger("pgstatkit.collector")

    def report(snap: _history.Snapshot) -> None:
        sys.stderr.write(
            f"pgstatkit collect: {fmt.safe(snap.target)} {snap.status} at "
            f"{snap.captured_at.isoformat(timespec='seconds')}: {snap.entries_stored} stored\n"
        )

    ticks = 0
    interval = collector._interval(args.interval)
    jitter = collector._jitter(args.jitter, interval)
    try:
        while not stop.is_set():
            started = loop.time()
            conns: dict[str, Any] = {}
            store_conns: dict[str, Any] = {}
            for name in targets:
                try:
                    conns[name] = await targets[name].get()
                    store_conns[name] = await stores[name].get()
                except psycopg.Error as exc:  # noqa: PERF203 - once per target and tick
                    log.warning("cannot connect for %r (retried next tick): %s", name, exc)
                    sys.stderr.write(
                        f"pgstatkit collect: {fmt.safe(name)}: cannot connect, retried next tick\n"
                    )
                    conns.pop(name, None)
            if conns:
                results = await collector.collect_once(
                    conns,
                    store=store_conns.__getitem__,
                    jitter_s=jitter,
                    schema=args.schema,
                    timeout_ms=args.timeout_ms,
                    lock_timeout_ms=args.lock_timeout_ms,
                    on_snapshot=report,
                )
                for name, result in results.items():
                    if isinstance(result, BaseException):
                        sys.stderr.write(
                            f"pgstatkit collect: {fmt.safe(name)}: failed, retried next tick: "
                            f"{fmt.safe(str(result))}\n"
                        )
            ticks += 1
            if args.count is not None and ticks >= args.count:
                break
            remaining = interval - (loop.time() - started)
            if remaining > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), remaining)
    finally:
        for lazy in (*targets.values(), *stores.values()):
            await lazy.close()
    if stop.is_set():
        sys.stderr.write("pgstatkit collect: stopped\n")
    return EXIT_OK


def _collect(args: argparse.Namespace, out: Out) -> int:
    try:
        from pgstatkit import collector

        interval = collector._interval(args.interval)
        collector._jitter(args.jitter, interval)
    except InvalidArgumentError as exc:
        raise CliError(str(exc), 2) from None
    if args.count is not None and args.count < 1:
        raise CliError("--count must be at least 1", 2)
    return asyncio.run(_collect_loop(args))


COMMANDS = (
    Command(
        "snapshot",
        "take one snapshot of pg_stat_statements into the history (never resets)",
        _snapshot_arguments,
        _snapshot,
    ),
    Command(
        "changes",
        "what each statement did in a window of the history (exact deltas, interval flags)",
        _changes_arguments,
        _changes,
    ),
    Command(
        "timeline",
        "one statement interval by interval (--queryid)",
        _timeline_arguments,
        _timeline,
    ),
    Command(
        "collect",
        "snapshot targets every --interval seconds until SIGINT/SIGTERM (exit 0)",
        _collect_arguments,
        _collect,
    ),
    Command(
        "prune",
        "drop history older than --keep (default 14d), whole days at a time",
        _prune_arguments,
        _prune,
    ),
    Command(
        "roll-up",
        "sum the closed hours of the history into hourly roll-ups (snapshots do it too)",
        _roll_up_arguments,
        _roll_up,
    ),
)

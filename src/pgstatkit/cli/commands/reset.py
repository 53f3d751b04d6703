"""``pgstatkit reset``: forget ``pg_stat_statements``' statistics, of the whole server or
of one ``--queryid``."""

from __future__ import annotations

import argparse
from typing import Any

from pgstatkit import _validate
from pgstatkit.cli._base import EXIT_OK, checked
from pgstatkit.cli._connect import api_options, blocking_api, confirm, connect, run_operation
from pgstatkit.cli._options import add_yes
from pgstatkit.cli._output import Out
from pgstatkit.cli.commands._command import Command

__all__ = ["COMMAND"]

HELP = (
    "forget pg_stat_statements' statistics: of every database on the server, or of "
    "one --queryid (any user, any database)"
)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--queryid",
        type=checked(_validate.queryid, int),
        default=None,
        help="only the entries of this statement; says how many there were",
    )
    p.add_argument(
        "--minmax-only",
        action="store_true",
        help="only the min/max times; keep calls and totals (PostgreSQL 17+)",
    )
    add_yes(p)


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _reset_one(args: argparse.Namespace, conn: Any, server: str) -> tuple[dict[str, Any], str]:
    from pgstatkit import _operations

    qid = args.queryid
    kind = "min/max times" if args.minmax_only else "statistics"
    confirm(
        args,
        f"Reset the pg_stat_statements {kind} of statement {qid} on {server} (every "
        "entry with that queryid: any user, any database)?",
    )
    op = _operations.reset_statement(
        queryid=qid, minmax_only=args.minmax_only, timeout_ms=args.timeout_ms
    )
    done = run_operation(conn, op)
    hidden = (
        ""
        if done.sees_all
        else f" (role {conn.info.user} cannot see other users' queryids without "
        "pg_read_all_stats: their entries with this queryid were reset too, uncounted)"
    )
    if done.entries:
        minmax = "min/max times of " if args.minmax_only else ""
        line = f"reset {minmax}{_entries(done.entries)} of statement {qid} (any user, any database)"
        line += f" on {server}{hidden}"
    else:
        line = f"no statement with queryid {qid} on {server}; nothing reset{hidden}"
    data = {"entries": done.entries, "entries_complete": done.sees_all}
    return {**data, "reset_at": done.reset_at}, line


def _reset_all(args: argparse.Namespace, conn: Any, server: str) -> tuple[dict[str, Any], str]:
    """``pg_stat_statements_reset()`` works server-wide: every database, every user."""
    what = f"all statements of every database on {server}"
    kind = "min/max times" if args.minmax_only else "statistics"
    confirm(args, f"Reset the pg_stat_statements {kind} of {what}?")
    stats = blocking_api()
    when = stats.reset_query_statistics(conn, minmax_only=args.minmax_only, **api_options(args))
    return {
        "entries": None,
        "entries_complete": None,
        "reset_at": when,
    }, f"reset the {kind} of {what}"


def _run(args: argparse.Namespace, out: Out) -> int:
    blocking_api()
    with connect(args) as conn:
        server = f"the server {conn.info.host}:{conn.info.port}"
        reset = _reset_all if args.queryid is None else _reset_one
        data, line = reset(args, conn, server)
    when = data.pop("reset_at")
    data["minmax_only"] = args.minmax_only
    if out.form == "json":
        scope = "server" if args.queryid is None else "statement"
        result = {"reset": True, "scope": scope, "queryid": args.queryid, **data}
        out.json({**result, "reset_at": when and when.isoformat()})
    else:
        at = f" at {when.isoformat()}" if when and data["entries"] != 0 else ""
        out.write([line + at])
    return EXIT_OK


COMMAND = Command("reset", HELP, _add_arguments, _run)

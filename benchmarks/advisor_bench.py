"""The index advisor, measured: ``python benchmarks/advisor_bench.py``.

Needs PostgreSQL 15 from Debian with its ``postgresql-15-hypopg`` and
``postgresql-15-pg-qualstats`` packages (``.ci/run`` installs them). Starts its own
throwaway cluster with ``shared_preload_libraries = 'pg_stat_statements,
pg_qualstats'`` (never a server already on the machine) and:

1. **Side by side**, in one run: the planted-index workload
   (``benchmarks/advisor_workload.py``, the one the tests use) is built twice from
   scratch; each time pgstatkit's advisor (validated with hypopg) and pg_qualstats' own
   ``pg_qualstats_index_advisor()`` (at its defaults) look at the same statements.
   Counted: the planted indexes found (right leading columns), the false suggestions
   (no planted index), the suggestions an existing index already serves, and whether
   each advisor said the same twice. Then pgstatkit's suggestions are created for real
   and the helped statements' execution time is measured before and after (EXPLAIN
   ANALYZE, the best of 5).
2. **Scale**: 10,000 structurally distinct statements in ``pg_stat_statements``; the
   advisor over the top 100, with hypopg and without: its time and the number of
   EXPLAINs it issued.

Writes the comparison table into docs/advisor.md and the scale table into
docs/benchmarks.md (between ``advisor-*`` markers, which ``benchmarks/run.py`` keeps).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path

import advisor_workload as aw
import asyncpg

from pgstatkit import _advise
from pgstatkit._run import run_async
from pgstatkit.adapters import open_async
from pgstatkit.testing import Cluster, find_installations

ROOT = Path(__file__).resolve().parent.parent
DB = "advisor_bench"
SCALE_DB = "advisor_scale"
SCALE_TABLES = 100
SCALE_STATEMENTS = 10_000
COLUMNS = "abcdefgh"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pg15() -> Cluster:
    found = [i for i in find_installations() if i.major == 15 and i.has_pg_stat_statements]
    if not found:
        sys.exit("PostgreSQL 15 (Debian) with pg_stat_statements not found")
    share = Path("/usr/share/postgresql/15/extension")
    for name in ("hypopg", "pg_qualstats"):
        if not (share / f"{name}.control").exists():
            sys.exit(f"{name} is missing: apt-get install postgresql-15-{name.replace('_', '-')}")
    return Cluster(
        found[0],
        preload_pg_stat_statements=False,
        settings={
            "shared_preload_libraries": "pg_stat_statements,pg_qualstats",
            "pg_stat_statements.max": "12000",
            "pg_qualstats.sample_rate": "1",
        },
    )


# --------------------------------------------------------------------------- side by side


_QUALSTATS_INDEX = re.compile(r"ON (?:(\w+)\.)?(\w+) USING (\w+) \((.*)\)")


def qualstats_suggestions(cluster: Cluster) -> list[tuple[str, tuple[str, ...]]]:
    raw = cluster.psql("SELECT pg_qualstats_index_advisor()::text", dbname=DB)
    found = []
    for statement in json.loads(raw).get("indexes") or []:
        match = _QUALSTATS_INDEX.search(statement)
        if match and match.group(3) == "btree":
            columns = tuple(c.strip() for c in match.group(4).split(","))
            found.append((match.group(2), columns))
        elif match:
            found.append((match.group(2), (f"{match.group(3)}:{match.group(4)}",)))
    return found


async def pgstatkit_suggestions(dsn: str) -> list[tuple[str, tuple[str, ...]]]:
    conn = await asyncpg.connect(dsn)
    try:
        async with open_async(conn) as session:
            advice = await run_async(session, _advise.advice(max_indexes=10, timeout_ms=30_000))
    finally:
        await conn.close()
    return [(s.table, s.columns) for s in advice.suggestions]


def existing_indexes(cluster: Cluster) -> list[tuple[str, tuple[str, ...]]]:
    rows = cluster.psql(
        "SELECT c.relname || ':' || string_agg(a.attname, ',' ORDER BY k.pos)"
        " FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'"
        " CROSS JOIN LATERAL generate_subscripts(i.indkey, 1) AS k(pos)"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.pos]"
        " GROUP BY i.indexrelid, c.relname",
        dbname=DB,
    )
    found = []
    for line in rows.splitlines():
        table, columns = line.split(":")
        found.append((table, tuple(columns.split(","))))
    return found


def judge(
    suggestions: list[tuple[str, tuple[str, ...]]], existing: list[tuple[str, tuple[str, ...]]]
) -> dict[str, object]:
    planted = {name: p for name, (_, p) in aw.PLANTED.items() if p is not None}
    found = [
        name
        for name, p in planted.items()
        if any(t == aw.TABLE_OF[name] and aw.leading_matches(c, p) for t, c in suggestions)
    ]
    false = [
        (t, c)
        for t, c in suggestions
        if not any(t == aw.TABLE_OF[n] and aw.leading_matches(c, p) for n, p in planted.items())
    ]
    served = [
        (t, c)
        for t, c in suggestions
        if any(t == et and tuple(ec[: len(c)]) == c for et, ec in existing)
    ]
    return {"planted": len(planted), "found": found, "false": false, "existing": served}


def build(cluster: Cluster) -> None:
    cluster.psql(f"DROP DATABASE IF EXISTS {DB}", dbname="postgres")
    cluster.psql(f"CREATE DATABASE {DB}", dbname="postgres")
    cluster.psql(aw.SCHEMA, dbname=DB)
    cluster.psql("CREATE EXTENSION hypopg; CREATE EXTENSION pg_qualstats", dbname=DB)
    cluster.psql("SELECT pg_qualstats_reset();\n" + aw.workload_sql(), dbname=DB)


async def execution_ms(dsn: str, sql: str) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        best = []
        for _ in range(5):
            plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            best.append(float(json.loads(plan)[0]["Execution Time"]))
        return min(best)
    finally:
        await conn.close()


async def before_after(cluster: Cluster) -> list[tuple[str, float, float]]:
    dsn = cluster.dsn(DB)
    conn = await asyncpg.connect(dsn)
    try:
        async with open_async(conn) as session:
            advice = await run_async(session, _advise.advice(max_indexes=10, timeout_ms=30_000))
        helped = {n: t.format(n=111) for n, (t, p) in aw.PLANTED.items() if p is not None}
        before = {n: await execution_ms(dsn, sql) for n, sql in helped.items()}
        for s in advice.suggestions:
            await conn.execute(s.create_statement)
        await conn.execute("ANALYZE")
        after = {n: await execution_ms(dsn, sql) for n, sql in helped.items()}
    finally:
        await conn.close()
    return [(n, before[n], after[n]) for n in helped]


def side_by_side(cluster: Cluster) -> tuple[list[str], list[str]]:
    runs: dict[str, list[dict[str, object]]] = {"pgstatkit": [], "pg_qualstats": []}
    raw: dict[str, list[list[tuple[str, tuple[str, ...]]]]] = {"pgstatkit": [], "pg_qualstats": []}
    for build_number in (1, 2):
        log(f"planted workload, build {build_number}")
        build(cluster)
        existing = existing_indexes(cluster)
        mine = asyncio.run(pgstatkit_suggestions(cluster.dsn(DB)))
        theirs = qualstats_suggestions(cluster)
        for name, found in (("pgstatkit", mine), ("pg_qualstats", theirs)):
            runs[name].append(judge(found, existing))
            raw[name].append(found)
    timing = asyncio.run(before_after(cluster))
    lines = [
        "| advisor | planted indexes found | false suggestions | suggestions of existing "
        "indexes | same answer on an identical rebuild |",
        "|---|--:|--:|--:|:-:|",
    ]
    for name in ("pgstatkit", "pg_qualstats"):
        first = runs[name][0]
        same = "yes" if sorted(raw[name][0]) == sorted(raw[name][1]) else "**no**"
        lines.append(
            f"| {name} | {len(first['found'])} of {first['planted']} |"  # type: ignore[arg-type]
            f" {len(first['false'])} | {len(first['existing'])} | {same} |"  # type: ignore[arg-type]
        )
    lines.append("")
    for name in ("pgstatkit", "pg_qualstats"):
        shown = "; ".join(f"{t} ({', '.join(c)})" for t, c in raw[name][0]) or "none"
        lines.append(f"- {name} suggested: {shown}.")
    lines.append("")
    lines.append(
        "Execution time of the helped statements (EXPLAIN ANALYZE, best of 5) before and "
        "after creating pgstatkit's suggestions:"
    )
    lines.append("")
    lines += ["| statement | before ms | after ms |", "|---|--:|--:|"]
    lines += [f"| {n} | {b:.3f} | {a:.3f} |" for n, b, a in timing]
    return lines, [f"{n}: {b:.3f} -> {a:.3f} ms" for n, b, a in timing]


# --------------------------------------------------------------------------- scale


def scale_workload(cluster: Cluster) -> int:
    cluster.psql(f"DROP DATABASE IF EXISTS {SCALE_DB}", dbname="postgres")
    cluster.psql(f"CREATE DATABASE {SCALE_DB}", dbname="postgres")
    ddl = ["CREATE EXTENSION pg_stat_statements; CREATE EXTENSION hypopg;"]
    for t in range(SCALE_TABLES):
        cols = ", ".join(f"{c} int NOT NULL" for c in COLUMNS)
        values = ", ".join(f"(g * {i + 3}) % {50 + 97 * i}" for i, _ in enumerate(COLUMNS))
        ddl.append(
            f"CREATE TABLE s{t} (id int PRIMARY KEY, {cols});"
            f" INSERT INTO s{t} SELECT g, {values} FROM generate_series(1, 2000) AS g;"
        )
    ddl.append("ANALYZE;")
    cluster.psql("\n".join(ddl), dbname=SCALE_DB)
    pairs = [(a, b) for a in COLUMNS for b in COLUMNS if a != b]  # 56 ordered pairs
    statements = ["SELECT pg_stat_statements_reset();"]
    per_table = SCALE_STATEMENTS // SCALE_TABLES
    for t in range(SCALE_TABLES):
        for j in range(per_table):
            a, b = pairs[j % len(pairs)]
            op = "<" if j < len(pairs) else ">"
            statements.append(f"SELECT count(*) FROM s{t} WHERE {a} = {j % 7} AND {b} {op} 5;")
    cluster.psql("\n".join(statements), dbname=SCALE_DB)
    return int(cluster.psql("SELECT count(*) FROM pg_stat_statements", dbname=SCALE_DB))


async def scale_run(dsn: str, validate: bool) -> tuple[float, _advise.Advice]:
    conn = await asyncpg.connect(dsn)
    try:
        async with open_async(conn) as session:
            began = time.perf_counter()
            advice = await run_async(
                session,
                _advise.advice(
                    statements=100, max_indexes=10, validate=validate, timeout_ms=60_000
                ),
            )
            return time.perf_counter() - began, advice
    finally:
        await conn.close()


def scale(cluster: Cluster) -> list[str]:
    log("scale workload: 10,000 statements")
    entries = scale_workload(cluster)
    lines = [
        f"An advisor run over the top 100 of {entries:,} `pg_stat_statements` entries "
        f"({SCALE_TABLES} tables of 2,000 rows, PostgreSQL {cluster.installation.version}, "
        "`benchmarks/advisor_bench.py`): the time of the whole call (reading and "
        "fingerprinting every entry, the catalog, the EXPLAINs) and the EXPLAINs it issued.",
        "",
        "| validation | seconds | EXPLAINs | statements examined | candidates | suggestions |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for validate in (True, False):
        asyncio.run(scale_run(cluster.dsn(SCALE_DB), validate))  # warm: parse caches, plans
        seconds, advice = asyncio.run(scale_run(cluster.dsn(SCALE_DB), validate))
        label = "hypopg" if validate else "pg_stats estimate"
        lines.append(
            f"| {label} | {seconds:.2f} | {advice.explains} | {advice.statements_examined} |"
            f" {advice.candidates} | {len(advice.suggestions)} |"
        )
    return lines


# --------------------------------------------------------------------------- pages


def replace_block(path: Path, name: str, lines: list[str], before: str | None = None) -> None:
    text = path.read_text(encoding="utf-8")
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = "\n".join([start, *lines, end])
    if start in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    elif before and before in text:
        text = text.replace(before, block + "\n\n" + before, 1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the docs")
    args = parser.parse_args()
    with pg15() as cluster:
        comparison, timing = side_by_side(cluster)
        scaled = scale(cluster)
    print("\n".join(comparison))
    print("\n".join(scaled))
    if not args.no_write:
        replace_block(ROOT / "docs" / "advisor.md", "advisor-comparison", comparison)
        bench = ["## Index advisor", "", *scaled]
        replace_block(ROOT / "docs" / "benchmarks.md", "advisor-benchmark", bench, "## Findings")
    log("; ".join(timing))


if __name__ == "__main__":
    main()

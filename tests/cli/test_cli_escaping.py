"""Text from the database never reaches the terminal raw (control characters escaped).

Any role can put ESC/BEL bytes in a statement comment, and a table or index owner can
name objects with newlines or bidi controls. The CLI prints them escaped (``\\x1b``,
``\\u202e``) in table and markdown output, and JSON carries no raw C1 or bidi
character; one row stays one line.
"""

from __future__ import annotations

import json
import re

import psycopg
import pytest
from test_cli_server import ok, run_cli

from harness.servers import TestServer

ESCAPE_DB = "pgstatkit_cli_escape"
# ESC ] 0 ; title BEL: sets the terminal window title; CSI 31m: red; RLO: reversed text.
HOSTILE_COMMENT = "\x1b]0;pwned\x07 \x1b[31m red \u202e evil \x9b"
TABLE_NAME = "evil\ntable\x1b[2J"
INDEX_NAME = "idx\u202egnp.exe\x08"

# What no terminal output may contain: C0 controls but newline, DEL, C1 controls,
# Unicode format characters (bidi overrides and isolates, zero-width...), line and
# paragraph separators.
UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
)
# What JSON output may not contain raw (json.dumps escapes C0 itself).
UNSAFE_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


@pytest.fixture(scope="session")
def escape_server(pg_server: TestServer) -> TestServer:
    exists = pg_server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{ESCAPE_DB}'")
    if exists != "1":
        pg_server.psql(f"CREATE DATABASE {ESCAPE_DB}", dbname="postgres")
        pg_server.psql("CREATE EXTENSION pg_stat_statements", dbname=ESCAPE_DB)
    with psycopg.connect(pg_server.dsn_for(dbname=ESCAPE_DB), autocommit=True) as conn:
        table = psycopg.sql.Identifier(TABLE_NAME)
        index = psycopg.sql.Identifier(INDEX_NAME)
        conn.execute(psycopg.sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.execute(psycopg.sql.SQL("CREATE TABLE {} (id int, v text)").format(table))
        conn.execute(psycopg.sql.SQL("CREATE INDEX {} ON {} (v)").format(index, table))
        conn.execute(
            psycopg.sql.SQL("INSERT INTO {} SELECT g, 'x' FROM generate_series(1, 50) g").format(
                table
            )
        )
        for _ in range(3):
            # the comment is kept verbatim in pg_stat_statements' text
            conn.execute(f"SELECT count(*) FROM {table.as_string(conn)} /* {HOSTILE_COMMENT} */")
    return pg_server


def _dsn(server: TestServer) -> str:
    return server.dsn_for(dbname=ESCAPE_DB)


LISTS = [
    ["top", "--limit", "50"],
    ["slow", "--min-duration-ms", "0", "--limit", "50"],
    ["low-cache", "--max-cache-hit-ratio", "1", "--limit", "50"],
    ["tables"],
    ["indexes"],
    ["report", "--min-duration-ms", "0", "--max-cache-hit-ratio", "1", "--limit", "50"],
]


@pytest.mark.parametrize("args", LISTS, ids=lambda a: a[0])
@pytest.mark.parametrize("form", ["table", "markdown"])
def test_no_control_character_reaches_the_terminal(
    escape_server: TestServer, args: list[str], form: str
) -> None:
    out = ok(run_cli(*args, "--format", form, "--dsn", _dsn(escape_server), columns=400))
    assert not UNSAFE.findall(out), sorted(set(UNSAFE.findall(out)))

    def shown(escaped: str) -> str:  # Markdown doubles backslashes
        return escaped if form == "table" else escaped.replace("\\", "\\\\")

    if args[0] in ("top", "slow"):
        assert shown("\\x1b]0;pwned\\x07") in out
        assert shown("\\u202e") in out
    if args[0] in ("tables", "report"):
        assert shown("evil\\ntable\\x1b[2J") in out
    if args[0] in ("indexes", "report"):
        assert shown("idx\\u202egnp.exe\\x08") in out
    # one row per line: the newline in the table name does not split the row
    lines = out.splitlines()
    assert not any(line.startswith("table") and "[2J" in line for line in lines)


@pytest.mark.parametrize("args", LISTS[:5], ids=lambda a: a[0])
def test_json_round_trips_without_raw_c1_or_bidi(
    escape_server: TestServer, args: list[str]
) -> None:
    out = ok(run_cli(*args, "--format", "json", "--dsn", _dsn(escape_server)))
    assert not UNSAFE_JSON.findall(out)
    assert not re.findall("[\x00-\x09\x0b-\x1f]", out)
    rows = json.loads(out)  # the data itself comes back exactly
    if args[0] in ("top", "slow", "low-cache"):
        assert any(HOSTILE_COMMENT in (r["query"] or "") for r in rows)
    if args[0] == "tables":
        assert TABLE_NAME in [r["table"] for r in rows]
    if args[0] == "indexes":
        assert INDEX_NAME in [r["index"] for r in rows]


def test_plan_output_is_escaped(escape_server: TestServer) -> None:
    query = f"SELECT * FROM \"{TABLE_NAME}\" WHERE v = '\x1b]0;pwned\x07'"
    for form in ("table", "markdown"):
        out = ok(run_cli("explain", query, "--format", form, "--dsn", _dsn(escape_server)))
        assert not UNSAFE.findall(out), sorted(set(UNSAFE.findall(out)))
        assert "\\x1b]0;pwned\\x07" in out


def test_error_messages_are_escaped(escape_server: TestServer) -> None:
    # the server's message names the missing table, escape sequence and all
    proc = run_cli("explain", 'SELECT * FROM "gone\x1b]0;pwned\x07"', "--dsn", _dsn(escape_server))
    assert proc.returncode != 0
    assert "gone" in proc.stderr
    assert not UNSAFE.findall(proc.stderr.rstrip("\n")), proc.stderr

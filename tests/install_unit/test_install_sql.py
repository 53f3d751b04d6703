"""install / uninstall / check_setup / migrations without a server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgstatkit import _install, _sql
from pgstatkit._columns import SUPPORTED_VERSIONS, projection
from pgstatkit._protocol import Result, ServerError
from pgstatkit.errors import InvalidArgumentError
from pgstatkit.migrations import _do, install_statements, uninstall_statements
from pgstatkit.models import SetupFinding, SetupReport


@pytest.mark.parametrize("good", ["pgstatkit", "x", "a" * 63, "é" * 31, 'x"; DROP TABLE t; --'])
def test_schema_names_accepted(good: str) -> None:
    assert _install.schema_name(good) == good


@pytest.mark.parametrize("bad", ["", "a" * 64, "é" * 32, "x\x00", "pg_x", "Pg_X", None, 1])
def test_schema_names_rejected(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="schema"):
        _install.schema_name(bad)
    with pytest.raises(InvalidArgumentError):
        _install.install(bad)
    with pytest.raises(InvalidArgumentError):
        _install.uninstall(bad)


def test_operations_write_and_commit() -> None:
    for op in (_install.install(), _install.uninstall()):
        assert (op.read_only, op.commit, op.pin_search_path) == (False, True, True)
    from pgstatkit import _doctor

    check = _doctor.check_setup()
    assert (check.read_only, check.commit) == (True, False)


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_view_sql_quotes_the_schemas(version: tuple[int, int]) -> None:
    hostile = 'x"; DROP TABLE t; --'
    definitions = _install.view_definitions(version, hostile)
    assert list(definitions) == list(_install.VIEWS)
    for sql in definitions.values():
        assert sql.count('"x""; DROP TABLE t; --".pg_stat_statements') == 1
        assert "LIMIT" not in sql
    assert "s.mean_exec_time_ms >= 1000.0" in definitions["slow_queries"]
    assert "s.cache_hit_ratio < 0.9" in definitions["queries_with_low_cache_hit"]
    assert _install.qualified(hostile, "slow_queries") == '"x""; DROP TABLE t; --"."slow_queries"'


def test_grant_statements_quote_the_roles() -> None:
    assert _install.grant_statements("s", ()) == []
    usage, select = _install.grant_statements("s", ('gra"fana', "public", "Public"))
    assert usage == 'GRANT USAGE ON SCHEMA "s" TO "gra""fana", PUBLIC, "Public"'
    assert select == (
        'GRANT SELECT ON "s"."slow_queries", "s"."top_queries_by_total_time", '
        '"s"."queries_with_low_cache_hit" TO "gra""fana", PUBLIC, "Public"'
    )


@pytest.mark.parametrize(
    "bad",
    ["grafana", None, ("",), ["x\x00"], ["a" * 64], [1], {"grafana"}],
)
def test_grant_select_to_rejected_before_any_round_trip(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="grant_select_to"):
        _install.install(grant_select_to=bad)
    with pytest.raises(InvalidArgumentError, match="grant_select_to"):
        install_statements(grant_select_to=bad)  # type: ignore[arg-type]


@given(st.lists(st.text(min_size=1).filter(lambda t: "\x00" not in t)))
def test_role_names_property(names: list[str]) -> None:
    fits = [n for n in names if len(n.encode("utf-8")) <= 63]
    if fits != names:
        with pytest.raises(InvalidArgumentError, match="63 bytes"):
            _install.role_names(names)
        return
    roles = _install.role_names(names)
    assert roles == tuple(dict.fromkeys(names))
    for role in roles:
        quoted = _install.grantee_sql(role)
        if role == "public":
            assert quoted == "PUBLIC"
        else:
            assert quoted == '"' + role.replace('"', '""') + '"'


def _server_error(message: str, sqlstate: str) -> ServerError:
    """A driver error as the steps see one (the adapter's description of it)."""
    return ServerError(sqlstate, message, original=RuntimeError(message))


def _drive_drop(error: Exception) -> tuple[list[str], bool]:
    steps = _install._try_drop("DROP SCHEMA s RESTRICT")
    sent = [next(steps).sql, steps.send(Result((), [])).sql]
    try:
        sent.append(steps.throw(error).sql)
        steps.send(Result((), []))
    except StopIteration as stop:
        return sent, bool(stop.value)
    raise AssertionError("the drop did not finish")  # pragma: no cover


def test_try_drop_classifies_by_sqlstate_not_by_message() -> None:
    german = _server_error(
        "kann Schema s nicht löschen, weil andere Objekte davon abhängen", "2BP01"
    )
    assert _drive_drop(german) == (
        [
            "SAVEPOINT pgstatkit_try",
            "DROP SCHEMA s RESTRICT",
            "ROLLBACK TO SAVEPOINT pgstatkit_try",
        ],
        False,
    )
    other = _server_error("must be owner of schema s (nothing here depends on anything)", "42501")
    with pytest.raises(ServerError):
        _drive_drop(other)


def test_catalog_sql_is_complete() -> None:
    for sql in (
        _install.objects_sql("$1::text"),
        _install.dependents_sql("$1::text", "$2::text[]"),
        _install.missing_roles_sql("$1::text[]"),
    ):
        assert "{{" not in sql and "--" not in sql
    objects = _install.objects_sql("$1::text")
    for name in [_install.META_TABLE, *_install.VIEWS]:
        assert f"'{name}'" in objects
    assert _sql.quote_literal(_install.MARKER) in objects


def test_do_block_tag_never_in_body() -> None:
    body = "SELECT '$pgstatkit0$' $pgstatkit1$"
    sql = _do(body)
    assert sql.startswith("DO $pgstatkit2$\n") and sql.endswith("$pgstatkit2$")
    for statements in (install_statements('a$pgstatkit0$"b'), uninstall_statements("x'y")):
        assert len(statements) == 1
        assert statements[0].startswith("DO $pgstatkit")


def test_migration_versions() -> None:
    (every,) = install_statements()
    assert every.count("SELECT s.*") == 3 * len(SUPPORTED_VERSIONS)
    (one,) = install_statements(pgss_version="1.10")
    assert one.count("SELECT s.*") == 3
    assert "ver = '1.10'" in one
    assert "GRANT SELECT ON" not in one and "GRANT USAGE" not in one
    (granted,) = install_statements(grant_select_to=["grafana"])
    assert 'TO "grafana"' in granted


def _finding(check: str, severity: str, recommended: str | None, restart: bool) -> SetupFinding:
    return SetupFinding(check, severity, "x", "why", "fix", restart, recommended)  # type: ignore[arg-type]


def test_report_renderers_and_dict() -> None:
    report = SetupReport(
        (
            _finding("shared_preload_libraries", "error", "auto_explain, pg_stat_statements", True),
            _finding("log_line_prefix", "ok", "%m [%p] %u@%d %h ", False),
            _finding("read_all_stats", "warning", None, False),
        )
    )
    assert not report.ok
    assert [f.check for f in report.errors] == ["shared_preload_libraries"]
    assert [f.check for f in report.warnings] == ["read_all_stats"]
    assert report.postgresql_conf() == (
        "shared_preload_libraries = 'auto_explain, pg_stat_statements'  # change, then restart\n"
        "log_line_prefix = '%m [%p] %u@%d %h '  # already set\n"
    )
    assert report.docker_compose_command() == (
        "postgres -c 'shared_preload_libraries=auto_explain, pg_stat_statements'"
        " -c 'log_line_prefix=%m [%p] %u@%d %h '"
    )
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["ok"] is False
    assert data["findings"][0]["restart_required"] is True
    assert SetupReport(()).ok and SetupReport(()).postgresql_conf() == ""


# ---- the SQL files: generated ones current, migrations numbered, one marker -------------

ROOT = Path(__file__).resolve().parents[2]


def test_gen_sql_check_passes() -> None:
    """sql/schema/views.sql, sql/install.sql and sql/uninstall.sql are current."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_sql.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_migrations_are_numbered_and_the_newest_is_the_schema_version() -> None:
    found = _install.load_migrations()
    assert [m.version for m in found] == list(range(1, _install.SCHEMA_VERSION + 1))
    assert [m.name for m in found] == ["views", "ownership", "history", "history_rollups"]
    for migration in found:
        for statement in migration.statements:
            assert "@schema@" in statement
            # ALTER: 0004 adds a column to a table of 0003
            assert statement.split(None, 1)[0] in ("CREATE", "COMMENT", "ALTER")
            assert not statement.endswith(";")


def test_split_statements() -> None:
    text = (
        "-- a comment; not a statement\nCREATE TABLE x (a int);\n\nCOMMENT ON TABLE x IS 'a;b';\n"
    )
    assert _install.split_statements(text) == (
        "CREATE TABLE x (a int)",
        "COMMENT ON TABLE x IS 'a;b'",
    )


def test_numbering_gap_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE @schema@.a (x int);\n")
    (tmp_path / "0003_c.sql").write_text("CREATE TABLE @schema@.c (x int);\n")
    with pytest.raises(RuntimeError, match="0001, 0002"):
        _install.load_migrations(tmp_path)


def test_the_marker_is_the_same_everywhere() -> None:
    """The ownership comment of migration 2 and of the plans is MARKER."""
    assert _sql.quote_literal(_install.MARKER) in _sql.read("schema/0002_ownership.sql")
    assert _sql.quote_literal(_install.MARKER) in _install.plan_sql("install_plan")
    for name in _install.PLANS:
        assert "{{" not in _install.plan_sql(name)


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_views_file_is_the_projection(version: tuple[int, int]) -> None:
    """sql/schema/views.sql holds, per version, what _columns.projection builds."""
    definitions = _install.view_definitions(version, "ext")
    source = projection(version, "ext")
    for view, tail in _install.VIEWS.items():
        assert definitions[view] == f"SELECT s.*\nFROM {source} AS s\n{tail}"


def test_static_do_blocks_read_the_settings() -> None:
    install = _sql.read("install.sql")
    assert install.count("SELECT s.*") == 3 * len(SUPPORTED_VERSIONS)
    assert "current_setting('pgstatkit.schema', true)" in install
    assert "current_setting('pgstatkit.grant_select_to', true)" in install
    assert "current_setting('pgstatkit.schema', true)" in _sql.read("uninstall.sql")


def test_sql_path() -> None:
    from pgstatkit.migrations import sql_path

    assert sql_path("install.sql").read_text(encoding="utf-8") == _sql.read("install.sql")
    assert sql_path("schema/0001_views.sql").name == "0001_views.sql"
    with pytest.raises(FileNotFoundError, match="no SQL file"):
        sql_path("nope.sql")

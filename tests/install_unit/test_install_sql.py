"""install / uninstall / check_setup / migrations without a server."""

from __future__ import annotations

import json

import pytest

from pgstatkit import _install
from pgstatkit._columns import SUPPORTED_VERSIONS
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
def test_view_sql_quotes_the_schema(version: tuple[int, int]) -> None:
    hostile = 'x"; DROP TABLE t; --'
    statements = _install.view_statements(hostile, version, "public")
    assert len(statements) == 6
    for sql in statements:
        assert '"x""; DROP TABLE t; --".' in sql
        assert sql.count('"x""; DROP TABLE t; --"') == 1
    creates = [s for s in statements if s.startswith("CREATE VIEW")]
    assert "s.mean_exec_time_ms >= 1000.0" in creates[0]
    assert "s.cache_hit_ratio < 0.9" in creates[2]
    assert all("LIMIT" not in s for s in creates)


def test_do_block_tag_never_in_body() -> None:
    body = "SELECT '$pgstatkit0$' $pgstatkit1$"
    sql = _do(body)
    assert sql.startswith("DO $pgstatkit2$\n") and sql.endswith("$pgstatkit2$")
    for statements in (install_statements('a$pgstatkit0$"b'), uninstall_statements("x'y")):
        assert len(statements) == 1
        assert statements[0].startswith("DO $pgstatkit")


def test_migration_versions() -> None:
    (every,) = install_statements()
    assert every.count("CREATE VIEW") == 3 * len(SUPPORTED_VERSIONS)
    (one,) = install_statements(pgss_version="1.10")
    assert one.count("CREATE VIEW") == 3
    assert "ver = '1.10'" in one


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

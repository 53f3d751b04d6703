"""Parts of ``pgstatkit.testing`` that need no PostgreSQL server.

The reaper program (run as the real program, on stand-in processes), the URIs of
``RunningCluster`` (checked against libpq's own parser through psycopg) and the
validation of psql variables.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pgstatkit.testing import RunningCluster, _reaper
from pgstatkit.testing.base import psql_variable_args
from pgstatkit.testing.running import _Uri

# A stand-in for a postmaster: "postgres" is on its command line (the reaper checks),
# it leads its own session like the server, and it exits cleanly on SIGQUIT.
STAND_IN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGQUIT, lambda *_: sys.exit(0))\n"
    "print('ready', flush=True)\n"
    "time.sleep(600)\n"
)


def _spawn(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _stand_in(processes: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    proc = _spawn([sys.executable, "-c", STAND_IN, "postgres"])
    processes.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"  # its SIGQUIT handler is installed
    return proc


def _cluster_dir(tmp_path: Path) -> tuple[Path, Path]:
    base = tmp_path / "pgstatkit-cluster-x"
    (base / "data").mkdir(parents=True)
    return base, base / "data"


# --------------------------------------------------------------------------- reaper


def test_read_messages() -> None:
    read, write = os.pipe()
    os.write(write, b"pid 12\npid x\nhello\npid 3")
    os.write(write, b"4\ndone\npid 5")  # a line split over two writes; no final newline
    os.close(write)
    try:
        assert _reaper.read_messages(read) == ({12, 34}, True)
    finally:
        os.close(read)


def test_reaper_stops_the_server_when_the_owner_goes(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    base, data = _cluster_dir(tmp_path)
    told, from_pidfile = _stand_in(processes), _stand_in(processes)
    (data / "postmaster.pid").write_text(f"{from_pidfile.pid}\n{data}\n")
    bystander = _spawn([shutil.which("sleep") or "/bin/sleep", "600"])  # not postgres
    processes.append(bystander)
    reaper = _reaper.Reaper(data, [base])
    reaper.watch(told.pid)
    reaper.watch(bystander.pid)
    reaper.release(clean=False, timeout_s=60)  # end-of-file without "done": owner gone
    assert told.wait(timeout=60) == 0  # SIGQUIT, handled: a clean exit
    assert from_pidfile.wait(timeout=60) == 0
    assert bystander.poll() is None  # not a postgres process: left alone
    assert not base.exists()


def test_reaper_does_nothing_after_done(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    base, data = _cluster_dir(tmp_path)
    server = _stand_in(processes)
    reaper = _reaper.Reaper(data, [base])
    reaper.watch(server.pid)
    assert reaper.pid is not None
    reaper.release(clean=True, timeout_s=60)
    assert reaper.pid is None
    reaper.release(clean=False)  # idempotent
    assert server.poll() is None
    assert base.is_dir()


def test_reaper_runs_as_a_module_and_checks_its_arguments() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pgstatkit.testing._reaper"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, PYTHONPATH=str(Path(_reaper.__file__).parents[2])),
    )
    assert proc.returncode == 2
    assert "usage" in proc.stderr
    assert _reaper.reap([os.getpid(), 1, 0], [], grace_s=0) == []  # pytest is not postgres


def _ignored_signals(pid: int) -> set[int]:
    """The signals ``pid`` ignores, from ``/proc/PID/status`` (``SigIgn``, a hex mask)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            mask = int(line.split()[1], 16)
            return {sig for sig in range(1, 65) if mask & (1 << (sig - 1))}
    return set()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_reaper_ignores_terminal_signals(tmp_path: Path) -> None:
    base, data = _cluster_dir(tmp_path)
    reaper = _reaper.Reaper(data, [base])
    assert reaper.pid is not None
    terminal = {signal.SIGINT, signal.SIGHUP, signal.SIGTERM}
    try:
        while not terminal <= _ignored_signals(reaper.pid):  # until its handlers are set
            assert _reaper.alive(reaper.pid)
            time.sleep(0.01)
        for sig in terminal:
            os.kill(reaper.pid, sig)
        assert _reaper.alive(reaper.pid)
    finally:
        reaper.release(clean=True, timeout_s=60)
    assert base.is_dir()


# --------------------------------------------------------------------------- URIs

NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12)
HOSTS = st.sampled_from(["localhost", "127.0.0.1", "::1", "db.example.com"])


def test_from_address_quotes() -> None:
    server = RunningCluster.from_address(
        "::1", 5, user="a b", password="p@ss", dbname="d/b", params={"sslmode": "disable"}
    )
    assert server.dsn() == "postgresql://a%20b:p%40ss@[::1]:5/d%2Fb?sslmode=disable"
    assert "p@ss" not in repr(server) and "p%40ss" not in repr(server)
    socket = RunningCluster.from_address("/run/pg sock", 5433, user="u")
    assert socket.dsn() == "postgresql://u@?host=%2Frun%2Fpg+sock&port=5433"


@given(host=HOSTS, port=st.integers(1, 65535), user=NAMES, password=NAMES, dbname=NAMES)
def test_dsn_is_what_libpq_reads(
    host: str, port: int, user: str, password: str, dbname: str
) -> None:
    conninfo = pytest.importorskip("psycopg.conninfo")
    server = RunningCluster.from_address(host, port, user=user, password=password, dbname=dbname)
    parsed = conninfo.conninfo_to_dict(server.dsn())
    assert parsed == {
        "host": host,
        "port": str(port),
        "user": user,
        "password": password,
        "dbname": dbname,
    }
    assert _Uri.parse(server.dsn()) == _Uri.parse(RunningCluster(server.dsn()).dsn())


def test_dsn_parts_must_be_utf8() -> None:
    with pytest.raises(ValueError, match="surrogates"):
        RunningCluster.from_address("localhost", user="\ud800")


def test_dsn_replaces_database_and_role() -> None:
    server = RunningCluster(
        "postgres://boss:secret@h1:5432,h2:5433/main?sslmode=require&application_name=x",
        passwords={"monitor": "m0n"},
    )
    assert server.user == "boss"  # from the URI: no round trip
    assert server.dsn() == (
        "postgres://boss:secret@h1:5432,h2:5433/main?sslmode=require&application_name=x"
    )
    assert server.dsn(dbname="other") == (
        "postgres://boss:secret@h1:5432,h2:5433/other?sslmode=require&application_name=x"
    )
    assert server.dsn(user="monitor").startswith("postgres://monitor:m0n@h1:5432,h2:5433/main?")
    assert server.dsn(user="nobody").startswith("postgres://nobody@h1")  # no password known
    assert not server.managed
    # user, password and dbname given as query parameters count as the URI's own
    lifted = RunningCluster("postgresql://h/?dbname=d%20b&user=u&password=p&sslmode=disable")
    assert lifted.dsn() == "postgresql://u:p@h/d%20b?sslmode=disable"
    assert RunningCluster().dsn() == "postgresql://"  # everything from the environment
    assert RunningCluster().dsn(dbname="x", user="y") == "postgresql://y@/x"


@pytest.mark.parametrize(
    "dsn",
    ["host=db password=secret", "dbname=x", "http://db/x", "postgresql:db", ""],
)
def test_running_cluster_takes_only_uris(dsn: str) -> None:
    with pytest.raises(ValueError, match="libpq connection URI") as info:
        RunningCluster(dsn)
    assert "secret" not in str(info.value)


# --------------------------------------------------------------------------- psql variables


@given(
    name=st.from_regex(r"\A[a-z_][a-z0-9_]*\Z"),
    value=st.text(st.characters(exclude_characters="\x00")),
)
def test_psql_variables_accepted(name: str, value: str) -> None:
    assert psql_variable_args({name: value}) == ["-v", f"{name}={value}"]


@given(name=st.text(max_size=8))
@example(name="_\n")  # "$" also matches before a final newline: found by this test
def test_psql_variable_names_validated(name: str) -> None:
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        assert psql_variable_args({name: "v"}) == ["-v", f"{name}=v"]
    else:
        with pytest.raises(ValueError, match="psql variable name"):
            psql_variable_args({name: "v"})


def test_psql_variable_values_validated() -> None:
    with pytest.raises(ValueError, match="NUL"):
        psql_variable_args({"x": "a\x00b"})
    with pytest.raises(ValueError, match="string"):
        psql_variable_args({"x": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="ON_ERROR_STOP"):
        psql_variable_args({"ON_ERROR_STOP": "0"})  # psql's own: upper case

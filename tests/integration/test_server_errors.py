"""What an operation's steps see of a driver's error: the adapter's ``ServerError``.

On every driver and connection kind, live: the SQLSTATE and the server's message parts
(read from the driver's diagnostics, never parsed), whether the connection is gone, and
the driver's own exception; what then leaves the call is unchanged (the driver's
exception, or the pgstatkit error with it as ``__cause__``).
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.servers import TestServer
from pgstatkit._protocol import Context, Operation, Query, ServerError, Steps
from pgstatkit._run import run_async, run_sync
from pgstatkit.adapters import open_async, open_sync
from pgstatkit.errors import StatementTimeoutError

from .conftest import CONNECTIONS, Client, open_client

pytestmark = pytest.mark.server

RAISE = (
    "DO $$ BEGIN RAISE EXCEPTION 'pgstatkit probe %', 1 USING ERRCODE = '22023', "
    "DETAIL = 'the detail', HINT = 'the hint'; END $$"
)


def _seeing(sql: str, seen: list[ServerError], *, handle: bool) -> Operation[str]:
    def steps(ctx: Context) -> Steps[str]:
        try:
            yield Query(sql)
        except ServerError as exc:
            seen.append(exc)
            if not handle:
                raise
            return "handled"
        return "ran"

    return Operation("probe", steps, 200)


async def _run(client: Client, op: Operation[str]) -> str:
    if client.is_async:
        async with open_async(client.source) as session:
            return await run_async(session, op)
    with open_sync(client.source) as sync_session:
        return run_sync(sync_session, op)


@pytest.mark.parametrize("kind", CONNECTIONS)
async def test_steps_see_the_servers_error(pg_server: TestServer, kind: str) -> None:
    async for client in open_client(kind, pg_server.dsn):
        seen: list[ServerError] = []
        assert await _run(client, _seeing(RAISE, seen, handle=True)) == "handled"
        (error,) = seen
        assert error.sqlstate == "22023"
        assert error.message == "pgstatkit probe 1"
        assert (error.detail, error.hint) == ("the detail", "the hint")
        assert not error.connection_lost
        assert not error.client_param_error
        assert type(error.original).__module__.split(".")[0] in ("asyncpg", "psycopg")
        # the connection is usable: the guard rolled back
        assert await client("database_statistics")


@pytest.mark.parametrize("kind", CONNECTIONS)
async def test_what_leaves_is_the_drivers_exception(pg_server: TestServer, kind: str) -> None:
    async for client in open_client(kind, pg_server.dsn):
        seen: list[ServerError] = []
        with pytest.raises(Exception) as info:
            await _run(client, _seeing(RAISE, seen, handle=False))
        assert info.value is seen[0].original  # not recognised: unchanged
        assert not isinstance(info.value.__cause__, ServerError)
        assert not isinstance(info.value.__context__, ServerError)
        seen.clear()
        with pytest.raises(StatementTimeoutError) as timeout:
            await _run(client, _seeing("SELECT pg_sleep(5)", seen, handle=False))
        assert seen[0].sqlstate == "57014"
        assert timeout.value.__cause__ is seen[0].original


@pytest.mark.parametrize("kind", CONNECTIONS)
async def test_a_lost_connection_is_said(pg_server: TestServer, kind: str) -> None:
    async for client in open_client(kind, pg_server.dsn):
        seen: list[ServerError] = []
        lost: Any = None
        try:
            await _run(
                client, _seeing("SELECT pg_terminate_backend(pg_backend_pid())", seen, handle=False)
            )
        except Exception as exc:  # the driver's, whatever it is
            lost = exc
        assert lost is not None
        (error,) = seen
        assert error.connection_lost
        assert error.original is lost
        assert not isinstance(lost.__context__, ServerError)

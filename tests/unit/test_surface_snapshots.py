"""Snapshots of the public surface: ``pgstatkit --help`` (and every subcommand's) and the
OpenAPI document of :func:`pgstatkit.fastapi.create_router`.

They were taken from the code before the report registry (structure issue) and guard
that a restructuring changes neither the command line nor the HTTP surface. The help is
compared byte for byte (with ``COLUMNS=100``, so argparse wraps the same; argparse's
layout differs between Python versions: the files are this project's Python's); the
OpenAPI document as parsed JSON.

A deliberate change of the surface updates the files: run

    PGSTATKIT_UPDATE_SNAPSHOTS=1 python -m pytest tests/unit/test_surface_snapshots.py

and review the diff of ``tests/unit/snapshots/`` before committing it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pgstatkit.cli import main

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("PGSTATKIT_UPDATE_SNAPSHOTS", "") not in ("", "0")
HOW = "PGSTATKIT_UPDATE_SNAPSHOTS=1 python -m pytest tests/unit/test_surface_snapshots.py"

SUBCOMMANDS = (
    "report",
    "slow",
    "top",
    "low-cache",
    "db",
    "tables",
    "indexes",
    "advise",
    "explain",
    "reset",
    "install",
    "uninstall",
    "doctor",
    "snapshot",
    "changes",
    "timeline",
    "collect",
    "prune",
    "roll-up",
    "health",
    "demo",
    "check",
    "alert-rules",
)


def _compare_text(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path.name}; create it with: {HOW}"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path.name} differs from the snapshot; if meant: {HOW}"


def _help(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("LINES", "24")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    return out.getvalue()


@pytest.mark.parametrize("command", [None, *SUBCOMMANDS])
def test_help_is_unchanged(command: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["--help"] if command is None else [command, "--help"]
    name = "pgstatkit" if command is None else f"pgstatkit-{command}"
    _compare_text(SNAPSHOTS / "help" / f"{name}.txt", _help(argv, monkeypatch))


def _openapi(**options: Any) -> dict[str, Any]:
    pytest.importorskip("fastapi")
    from fastapi import FastAPI

    from pgstatkit.fastapi import bearer_token, create_router

    app = FastAPI(title="snapshot", version="0")
    router = create_router(lambda: None, auth=bearer_token("snapshot-token"), **options)
    app.include_router(router, prefix="/admin")
    schema: dict[str, Any] = app.openapi()
    return schema


ROUTER_OPTIONS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "everything": {
        "enable_explain": True,
        "enable_explain_analyze": True,
        "enable_reset": True,
        "enable_metrics": True,
        "metrics_health": True,
    },
}


@pytest.mark.parametrize("variant", sorted(ROUTER_OPTIONS))
def test_openapi_is_unchanged(variant: str) -> None:
    schema = _openapi(**ROUTER_OPTIONS[variant])
    path = SNAPSHOTS / f"openapi-{variant}.json"
    if UPDATE:
        _compare_text(path, json.dumps(schema, indent=2, sort_keys=True) + "\n")
        return
    assert path.exists(), f"no snapshot {path.name}; create it with: {HOW}"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert schema == expected, f"{path.name} differs from the snapshot; if meant: {HOW}"

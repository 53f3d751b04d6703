"""tools/async_to_sync.py: the blocking twins are the async sources, converted, and current."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import tokenize
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "async_to_sync.py"


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location("async_to_sync", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["async_to_sync"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


tool = _tool()


def test_check_passes() -> None:
    completed = subprocess.run(
        [sys.executable, str(TOOL), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr


def test_the_generated_modules() -> None:
    targets = {twin.target for twin in tool.TWINS}
    assert targets == {
        "pgstatkit/_run_sync.py",
        "pgstatkit/adapters/_psycopg_sync.py",
        "pgstatkit/sync/stats.py",
        "pgstatkit/sync/history.py",
        "pgstatkit/sync/advisor.py",
        "pgstatkit/sync/regressions.py",
        "pgstatkit/sync/history_report.py",
    }
    for twin in tool.TWINS:
        text = twin.target_path.read_text(encoding="utf-8")
        assert text.startswith(
            f"# Generated from src/{twin.source} by tools/async_to_sync.py: do not edit.\n"
        )
        # formatting aside, the target is the source's syntax tree, converted
        source = twin.source_path.read_text(encoding="utf-8")
        expected = ast.dump(ast.parse(tool.convert(source, twin.docstring)))
        assert ast.dump(ast.parse(text)) == expected
        for node in ast.walk(ast.parse(text)):
            assert not isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncWith)


def test_a_stale_file_fails_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "mod_async.py"
    source.write_text('"""Async."""\n\n\nasync def f_async() -> None:\n    await g()\n')
    target = tmp_path / "mod_sync.py"
    monkeypatch.setattr(tool, "TWINS", (tool.Twin(str(source), str(target)),))
    assert tool.main(["--check"]) == 1  # missing
    assert "is stale" in capsys.readouterr().err
    assert tool.main([]) == 0
    assert "def f_sync() -> None:\n    g()\n" in target.read_text()
    assert tool.main(["--check"]) == 0
    target.write_text(target.read_text() + "# edited by hand\n")
    assert tool.main(["--check"]) == 1


CONVERSIONS = [
    ("async def f(): await g()", "def f(): g()"),
    (
        "async def f():\n    async with a() as b, c:\n        pass",
        "def f():\n    with a() as b, c:\n        pass",
    ),
    (
        "async def f():\n    async for x in y:\n        pass",
        "def f():\n    for x in y:\n        pass",
    ),
    ("async def f(): return [x async for x in y]", "def f(): return [x for x in y]"),
    ("async def f(): return -await (g())", "def f(): return -(g())"),
    ("x = run_async(open_async)", "x = run_sync(open_sync)"),
    ("from pgstatkit._run_async import run_async", "from pgstatkit._run_sync import run_sync"),
    ("import pgstatkit._run_async as r_async", "import pgstatkit._run_sync as r_sync"),
    ("from contextlib import asynccontextmanager", "from contextlib import contextmanager"),
    ("c: psycopg.AsyncConnection[Any]", "c: psycopg.Connection[Any]"),
    ("async def __aenter__(self): await tx.__aenter__()", "def __enter__(self): tx.__enter__()"),
    (
        "class PsycopgAsyncSession(AsyncSession): pass",
        "class PsycopgSyncSession(SyncSession): pass",
    ),
    ("f(AsyncShield=1)", "f(SyncShield=1)"),
    ("def f(open_async=None): pass", "def f(open_sync=None): pass"),
    ('__all__ = ["run_async", "other"]', '__all__ = ["run_sync", "other"]'),
    ('x = ["run_async"]  # not __all__', 'x = ["run_async"]  # not __all__'),
    ("_async = async_ = 1", "_async = async_ = 1"),
]


@pytest.mark.parametrize(("source", "expected"), CONVERSIONS)
def test_conversion(source: str, expected: str) -> None:
    assert tool.convert(source + "\n") == expected + "\n"


def test_comments_strings_and_docstrings_stay() -> None:
    source = '''"""The run_async module, for AsyncSession."""

# run_async: a comment stays as written
async def run_async(session: AsyncSession) -> str:  # noqa: X1 - await here
    """Await run_async's AsyncSession."""
    text = (
        "await "  # implicit concatenation
        "run_async"
    )
    return await session.fetch(text)  # await
'''
    expected = '''"""The run_async module, for AsyncSession."""

# run_async: a comment stays as written
def run_sync(session: SyncSession) -> str:  # noqa: X1 - await here
    """Await run_async's AsyncSession."""
    text = (
        "await "  # implicit concatenation
        "run_async"
    )
    return session.fetch(text)  # await
'''
    assert tool.convert(source) == expected


def test_module_docstring_replacements() -> None:
    source = '"""The async runner.\n\nMore."""\nx = 1\n'
    converted = tool.convert(source, (("async runner", "blocking runner"),))
    assert converted == '"""The blocking runner.\n\nMore."""\nx = 1\n'
    with pytest.raises(tool.ConversionError, match="exactly once"):
        tool.convert(source, (("missing", "x"),))
    with pytest.raises(tool.ConversionError, match="no docstring"):
        tool.convert("x = 1\n", (("x", "y"),))


def test_refuses_what_it_cannot_write_back() -> None:
    with pytest.raises(tool.ConversionError, match="ends the line"):
        tool.convert("async def f():\n    return await \\\n        g()\n")


IDENTIFIERS = st.sampled_from(
    [*tool.NAMES, "run_async", "open_async", "plain", "value", "x_async", "_async", "asyncio"]
)
COMMENTS = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20)


@st.composite
def _modules(draw: st.DrawFn) -> str:
    lines = []
    for i in range(draw(st.integers(1, 6))):
        a, b, c = draw(IDENTIFIERS), draw(IDENTIFIERS), draw(IDENTIFIERS)
        comment = draw(COMMENTS).replace("\r", " ").replace("\x0c", " ")
        template = draw(
            st.sampled_from(
                [
                    "async def f{i}({a}: {b}) -> None:  # {comment}\n    await {c}.{a}({b}={c})\n",
                    "async def f{i}() -> None:\n    async with {a}() as {b}:  # {comment}\n"
                    "        return [v async for v in {c}]\n",
                    "from m.{a} import {b} as {c}  # {comment}\n",
                    "{a} = {b}.{c}  # {comment}\n",
                ]
            )
        )
        lines.append(template.format(i=i, a=a, b=b, c=c, comment=comment))
    return "".join(lines)


def _comments(text: str) -> list[str]:
    tokens = tokenize.generate_tokens(StringIO(text).readline)
    return [t.string for t in tokens if t.type == tokenize.COMMENT]


@given(_modules())
def test_any_module_converts_and_keeps_its_comments(source: str) -> None:
    converted = tool.convert(source)  # checks itself against the converted syntax tree
    assert _comments(converted) == _comments(source)
    for node in ast.walk(ast.parse(converted)):
        assert not isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncWith)
        assert not (isinstance(node, ast.comprehension) and node.is_async)

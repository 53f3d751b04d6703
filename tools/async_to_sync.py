"""Generate the blocking twins of pgstatkit's async modules from their async source.

    python tools/async_to_sync.py            # write every generated module
    python tools/async_to_sync.py --check    # exit 1 if one is stale (the unit tests run it)

The async module is the one written by hand; its twin (see :data:`TWINS`) starts with
``# Generated from <source> by tools/async_to_sync.py: do not edit.`` Edit the async
source, then run this tool and commit both.

What the conversion does, defined on the syntax tree (:class:`SyncTransformer`) and
applied to the source text token by token, so comments, docstrings, string layout and
``# noqa`` stay as written (the result must parse to the transformed tree, else the
tool refuses); then ``ruff format`` formats it with the repository's settings:

- ``async def`` -> ``def``, ``async with`` -> ``with``, ``async for`` -> ``for``
  (also in comprehensions), ``await x`` -> ``x``;
- every identifier -- a name, an attribute, an argument or keyword, a definition, an
  imported module or name, a string in ``__all__`` -- is renamed by :data:`NAMES`, and a
  name ending in ``_async`` ends in ``_sync`` (``run_async`` -> ``run_sync``);
- the module docstring gets the twin's replacements (:attr:`Twin.docstring`); other
  docstrings, comments and strings are kept as they are (write them for both twins).

Where the two worlds differ in mechanism rather than in name (the runner's shields,
the psycopg adapter's wait for a socket), the difference lives in a hand-written module
that offers both with the same names and signatures (``pgstatkit._shield``,
``pgstatkit.adapters._psycopg_common``), so the async source converts mechanically.
"""

from __future__ import annotations

import argparse
import ast
import io
import itertools
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "pgstatkit"
TOOL = "tools/async_to_sync.py"

NAMES: dict[str, str] = {
    # pgstatkit
    "AsyncSession": "SyncSession",
    "AsyncShield": "SyncShield",
    "PsycopgAsyncSession": "PsycopgSyncSession",
    # the standard library
    "AbstractAsyncContextManager": "AbstractContextManager",
    "AsyncIterator": "Iterator",
    "asynccontextmanager": "contextmanager",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    # psycopg
    "AsyncConnection": "Connection",
    "AsyncConnectionPool": "ConnectionPool",
    "AsyncRawCursor": "RawCursor",
}
"""Identifiers renamed in the twin (besides the ``_async`` -> ``_sync`` suffix rule)."""

_ASYNC_SUFFIX, _SYNC_SUFFIX = "_async", "_sync"


def sync_name(name: str) -> str:
    """The twin's name for identifier ``name`` (``name`` itself if unchanged)."""
    if name in NAMES:
        return NAMES[name]
    if name.endswith(_ASYNC_SUFFIX) and len(name) > len(_ASYNC_SUFFIX):
        return name[: -len(_ASYNC_SUFFIX)] + _SYNC_SUFFIX
    return name


def _dotted(name: str) -> str:
    return ".".join(sync_name(part) for part in name.split("."))


@dataclass(frozen=True)
class Twin:
    """A generated module: ``target`` is made from ``source`` (paths below ``src/``)."""

    source: str
    target: str
    docstring: tuple[tuple[str, str], ...] = ()
    """Replacements ``(old, new)`` in the module docstring; each ``old`` must occur once."""

    @property
    def source_path(self) -> Path:
        return ROOT / "src" / self.source

    @property
    def target_path(self) -> Path:
        return ROOT / "src" / self.target


_STATS_ASYNC = """The async monitoring API: ``from pgstatkit import stats``.

Every function takes ``conn`` first: an asyncpg ``Connection`` or ``Pool``, a psycopg
``AsyncConnection`` or ``AsyncConnectionPool``, or a SQLAlchemy ``AsyncConnection``,
``AsyncSession`` or ``AsyncEngine`` (asyncpg or psycopg driver). Anything else raises
``TypeError``. The blocking twin, :mod:`pgstatkit.sync.stats`, has the same names and
keyword arguments."""

_STATS_SYNC = """The blocking monitoring API: ``from pgstatkit.sync import stats``.

Generated from :mod:`pgstatkit.stats` by ``tools/async_to_sync.py``: do not edit.

Every function takes ``conn`` first: a psycopg ``Connection`` or ``ConnectionPool``, or
a SQLAlchemy ``Connection``, ``Session`` or ``Engine`` (psycopg driver). Anything else
raises ``TypeError``. The async twin, :mod:`pgstatkit.stats`, has the same names and
keyword arguments."""

_HISTORY_ASYNC = """History, async: ``from pgstatkit import history``.

The blocking twin, :mod:`pgstatkit.sync.history`, has the same names and keyword
arguments."""

_HISTORY_SYNC = """History, blocking: ``from pgstatkit.sync import history``.

Generated from :mod:`pgstatkit.history` by ``tools/async_to_sync.py``: do not edit. The
async twin has the same names and keyword arguments."""

_REGRESSIONS_ASYNC = """Regressions, async: ``from pgstatkit import regressions``.

The blocking twin, :mod:`pgstatkit.sync.regressions`, has the same names and keyword
arguments."""

_REGRESSIONS_SYNC = """Regressions, blocking: ``from pgstatkit.sync import regressions``.

Generated from :mod:`pgstatkit.regressions` by ``tools/async_to_sync.py``: do not edit.
The async twin has the same names and keyword arguments."""

_REPORT_ASYNC = """History reports, async: ``from pgstatkit import history_report``.

The blocking twin, :mod:`pgstatkit.sync.history_report`, has the same names and keyword
arguments."""

_REPORT_SYNC = """History reports, blocking: ``from pgstatkit.sync import history_report``.

Generated from :mod:`pgstatkit.history_report` by ``tools/async_to_sync.py``: do not
edit. The async twin has the same names and keyword arguments."""

_GENERATED_HERE = f"is generated from this module by\n``{TOOL}``: edit this one, then run the tool."

TWINS: tuple[Twin, ...] = (
    Twin(
        "pgstatkit/_run_async.py",
        "pgstatkit/_run_sync.py",
        (
            ("The async runner, :func:`run_async`", "The blocking runner, :func:`run_sync`"),
            (
                f"The blocking runner, :mod:`pgstatkit._run_sync`, {_GENERATED_HERE}",
                f"Generated from :mod:`pgstatkit._run_async` by ``{TOOL}``: do not edit.",
            ),
        ),
    ),
    Twin(
        "pgstatkit/adapters/_psycopg_async.py",
        "pgstatkit/adapters/_psycopg_sync.py",
        (
            (
                "psycopg 3, async: ``AsyncConnection`` and ``AsyncConnectionPool``.",
                "psycopg 3, blocking: ``Connection`` and ``ConnectionPool``.",
            ),
            (
                "The blocking twin,\n:mod:`pgstatkit.adapters._psycopg_sync`, " + _GENERATED_HERE,
                "Generated from\n:mod:`pgstatkit.adapters._psycopg_async` by "
                f"``{TOOL}``: do not edit.",
            ),
        ),
    ),
    Twin("pgstatkit/stats.py", "pgstatkit/sync/stats.py", ((_STATS_ASYNC, _STATS_SYNC),)),
    Twin("pgstatkit/history.py", "pgstatkit/sync/history.py", ((_HISTORY_ASYNC, _HISTORY_SYNC),)),
    Twin(
        "pgstatkit/advisor.py",
        "pgstatkit/sync/advisor.py",
        (
            (
                "Async API (the source; :mod:`pgstatkit.sync.advisor` is its generated "
                "blocking twin)::",
                "Blocking API (generated from :mod:`pgstatkit.advisor`: do not edit)::",
            ),
            ("    from pgstatkit import advisor", "    from pgstatkit.sync import advisor"),
            (
                "in await advisor.suggest_indexes(conn):",
                "in advisor.suggest_indexes(conn):",
            ),
        ),
    ),
    Twin(
        "pgstatkit/regressions.py",
        "pgstatkit/sync/regressions.py",
        ((_REGRESSIONS_ASYNC, _REGRESSIONS_SYNC),),
    ),
    Twin(
        "pgstatkit/history_report.py",
        "pgstatkit/sync/history_report.py",
        ((_REPORT_ASYNC, _REPORT_SYNC),),
    ),
)
"""Every generated module, with the async module it is made from."""


class ConversionError(ValueError):
    """The source cannot be converted as it is written (the message says where)."""


def _is_all(node: ast.AST) -> bool:
    """Whether ``node`` assigns ``__all__`` (whose strings are names, renamed too)."""
    return isinstance(node, ast.Assign) and any(
        isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
    )


class SyncTransformer(ast.NodeTransformer):
    """The conversion on the syntax tree: the definition the text edits must match."""

    def _replaced(self, node: ast.AST, kind: type[ast.AST]) -> ast.AST:
        node = self.generic_visit(node)
        new = kind(**{field: getattr(node, field, None) for field in node._fields})
        return ast.copy_location(new, node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        node.name = sync_name(node.name)
        return self._replaced(node, ast.FunctionDef)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> ast.AST:
        return self._replaced(node, ast.With)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> ast.AST:
        return self._replaced(node, ast.For)

    def visit_Await(self, node: ast.Await) -> ast.AST:
        return self.visit(node.value)

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        node.is_async = 0
        return self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = sync_name(node.name)
        return self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = sync_name(node.name)
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = sync_name(node.id)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        node.attr = sync_name(node.attr)
        return self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = sync_name(node.arg)
        return self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        if node.arg is not None:
            node.arg = sync_name(node.arg)
        return self.generic_visit(node)

    def visit_alias(self, node: ast.alias) -> ast.AST:
        node.name = _dotted(node.name)
        if node.asname is not None:
            node.asname = sync_name(node.asname)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        if node.module is not None:
            node.module = _dotted(node.module)
        return self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        if _is_all(node) and isinstance(node.value, ast.List | ast.Tuple):
            for element in node.value.elts:
                if isinstance(element, ast.Constant) and isinstance(element.value, str):
                    element.value = sync_name(element.value)
        return self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> ast.AST:
        node.names = [sync_name(name) for name in node.names]
        return node

    def visit_Nonlocal(self, node: ast.Nonlocal) -> ast.AST:
        node.names = [sync_name(name) for name in node.names]
        return node


def _offsets(source: str) -> list[int]:
    """The offset in ``source`` of each line's start (index 1 = line 1)."""
    offsets = [0, 0]
    for line in source.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return offsets


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def _token_edits(
    source: str, tokens: list[tokenize.TokenInfo], tree: ast.Module
) -> list[tuple[int, int, str]]:
    """``(start, end, replacement)`` for each token the conversion changes, in order."""
    offsets = _offsets(source)
    all_lines = {
        line
        for node in tree.body
        if _is_all(node)
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }
    edits = []
    for token, following in itertools.pairwise(tokens):
        (row, col), (end_row, end_col) = token.start, token.end
        start, end = offsets[row] + col, offsets[end_row] + end_col
        if token.type == tokenize.STRING and row in all_lines:
            name = ast.literal_eval(token.string)
            if sync_name(name) != name:
                edits.append((start, end, token.string.replace(name, sync_name(name))))
        if token.type != tokenize.NAME:
            continue
        if token.string in ("async", "await"):
            if following.start[0] != end_row:
                raise ConversionError(f"line {row}: {token.string} ends the line")
            edits.append((start, offsets[following.start[0]] + following.start[1], ""))
        elif sync_name(token.string) != token.string:
            edits.append((start, end, sync_name(token.string)))
    return edits


def _applied(source: str, edits: list[tuple[int, int, str]]) -> str:
    parts, done = [], 0
    for start, end, replacement in edits:
        if start < done:
            raise ConversionError("overlapping edits")
        parts += [source[done:start], replacement]
        done = end
    return "".join([*parts, source[done:]])


_LAYOUT = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENCODING)


def _docstring_edits(
    source: str,
    tokens: list[tokenize.TokenInfo],
    tree: ast.Module,
    replacements: tuple[tuple[str, str], ...],
) -> list[tuple[int, int, str]]:
    """The edit of the module docstring's literal for ``replacements`` (and of ``tree``)."""
    if not replacements:
        return []
    first = tree.body[0] if tree.body else None
    literal_token = next(t for t in tokens if t.type not in _LAYOUT)
    if (
        ast.get_docstring(tree, clean=False) is None
        or not isinstance(first, ast.Expr)
        or not isinstance(first.value, ast.Constant)
        or literal_token.type != tokenize.STRING
    ):
        raise ConversionError("docstring replacements given, but the module has no docstring")
    literal, value = literal_token.string, str(first.value.value)
    for old, new in replacements:
        if literal.count(old) != 1 or value.count(old) != 1:
            raise ConversionError(f"module docstring: {old[:60]!r} is not there exactly once")
        literal, value = literal.replace(old, new), value.replace(old, new)
    first.value.value = value
    offsets = _offsets(source)
    (row, col), (end_row, end_col) = literal_token.start, literal_token.end
    return [(offsets[row] + col, offsets[end_row] + end_col, literal)]


def convert(source: str, docstring: tuple[tuple[str, str], ...] = ()) -> str:
    """The blocking twin of the async module ``source`` (not yet formatted).

    Raises:
        ConversionError: the source uses what the conversion cannot write back
            (``await`` at the end of a line, a docstring replacement that is missing),
            or the edited text does not match the converted syntax tree.
    """
    tree = ast.parse(source)
    tokens = _tokens(source)
    edits = _token_edits(source, tokens, tree) + _docstring_edits(source, tokens, tree, docstring)
    text = _applied(source, sorted(edits))
    expected = ast.dump(SyncTransformer().visit(tree))
    if ast.dump(ast.parse(text)) != expected:
        raise ConversionError("the edited text does not match the converted syntax tree")
    return text


def formatted(source: str, target: Path) -> str:
    """``source`` as ``ruff format`` writes it, with the repository's settings."""
    proc = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(target), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return proc.stdout


def generate(twin: Twin) -> str:
    """The text ``twin.target`` must have: header, converted source, formatted."""
    source = twin.source_path.read_text(encoding="utf-8")
    header = f"# Generated from src/{twin.source} by {TOOL}: do not edit.\n"
    return formatted(header + convert(source, twin.docstring), twin.target_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    args = parser.parse_args(argv)
    stale = []
    for twin in TWINS:
        expected = generate(twin)
        path = twin.target_path
        if path.exists() and path.read_text(encoding="utf-8") == expected:
            continue
        if args.check:
            stale.append(twin.target)
        else:
            path.write_text(expected, encoding="utf-8")
            print(f"wrote src/{twin.target}")
    for target in stale:
        print(f"src/{target} is stale: run python {TOOL}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

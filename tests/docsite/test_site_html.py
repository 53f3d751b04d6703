"""What a reader of the built documentation site sees, checked in its HTML.

The site is built once (``mkdocs build --strict``) and every page is read; a check
fails with every offending page and snippet, so a page added later is checked without
being listed. What fails:

- a literal ``\\|`` (a table cell's escaped pipe that Python-Markdown kept);
- a Sphinx role (``:func:``, ``:class:``...) that leaked from a docstring;
- a link whose text is a file name (``prometheus.md``) instead of a title;
- a code line longer than the layout shows (:data:`site_support.MAX_CODE_COLUMNS`),
  unless its block wraps (``{ .text .wrap }``: one-line messages);
- a Python example fenced as ``text`` (it loses its highlighting: non-runnable Python
  is fenced ```` ```python title="..." ```` , see tests/test_docs.py).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from site_support import (
    MAX_CODE_COLUMNS,
    ROOT,
    Article,
    build_site,
    html_pages,
    read_article,
)

SPHINX_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|exc|data|obj|ref|doc|term|const):")
FILE_NAME = re.compile(r"^[\w./-]*\w\.(?:md|html?|rst)$")
SOURCE_FILE = re.compile(r"^[\w./-]*\w\.(?:py|txt|toml|ya?ml|json|sql|cfg|ini)$")
TEXT_FENCE = re.compile(r"^```(?:text|\{ \.text[^}]*\})\n(.*?)^```$", re.MULTILINE | re.DOTALL)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def articles(site: Path) -> dict[str, Article]:
    found = {page.relative_to(site).as_posix(): read_article(page) for page in html_pages(site)}
    assert len(found) >= 20, sorted(found)
    return found


def _context(text: str, start: int, end: int) -> str:
    return text[max(0, start - 30) : end + 30].replace("\n", " ")


def _prose_hits(articles: dict[str, Article], pattern: re.Pattern[str]) -> list[str]:
    hits = []
    for name, article in articles.items():
        text = " ".join(article.prose)
        found = (_context(text, m.start(), m.end()) for m in pattern.finditer(text))
        hits.extend(f"{name}: ...{snippet}..." for snippet in found)
    return hits


def test_no_escaped_pipe_is_shown(articles: dict[str, Article]) -> None:
    hits = _prose_hits(articles, re.compile(r"\\\|"))
    assert not hits, "a literal \\| in the rendered pages:\n" + "\n".join(hits)


def test_no_sphinx_role_leaks(articles: dict[str, Article]) -> None:
    hits = _prose_hits(articles, SPHINX_ROLE)
    assert not hits, "Sphinx roles in the rendered pages:\n" + "\n".join(hits)


def _is_internal(href: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", href) and not href.startswith("#")


def test_link_texts_are_titles_not_file_names(articles: dict[str, Article]) -> None:
    hits = []
    for name, article in articles.items():
        for link in article.links:
            page_name = FILE_NAME.match(link.text)
            source_name = SOURCE_FILE.match(link.text) and _is_internal(link.href)
            if page_name or source_name:
                hits.append(f"{name}: [{link.text}]({link.href})")
    assert not hits, "links whose text is a file name (give the page's title):\n" + "\n".join(hits)


def _long_lines(articles: dict[str, Article]) -> Iterator[str]:
    for name, article in articles.items():
        for block in article.blocks:
            if "wrap" in block.classes:
                continue
            for number, line in enumerate(block.text.split("\n"), start=1):
                if len(line) > MAX_CODE_COLUMNS:
                    yield f"{name}: line {number} has {len(line)} columns: {line[:60]}..."


def test_code_lines_fit_the_layout(articles: dict[str, Article]) -> None:
    hits = list(_long_lines(articles))
    assert not hits, (
        f"code lines longer than {MAX_CODE_COLUMNS} columns (wrap them, or fence a one-line "
        "message as ``` { .text .wrap }):\n" + "\n".join(hits)
    )


def _looks_like_python(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    python = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.With, ast.Call)
    return any(isinstance(node, python) for node in ast.walk(tree))  # not postgresql.conf


def test_python_examples_are_not_fenced_as_text() -> None:
    hits = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for match in TEXT_FENCE.finditer(page.read_text(encoding="utf-8")):
            if _looks_like_python(match.group(1)):
                first = match.group(1).splitlines()[0]
                hits.append(f"{page.relative_to(ROOT)}: {first}")
    assert not hits, (
        'Python fenced as text (fence it ```python title="..." to keep it highlighted '
        "without running it):\n" + "\n".join(hits)
    )


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    """Each check fails on a page made to have its problem."""
    page = tmp_path / "index.html"
    page.write_text(
        "<html><body><nav><a href='x.md'>x.md</a></nav><article>"
        "<table><tr><td><code>int \\| None</code></td></tr></table>"
        "<p>One check of :func:<code>x</code>; see <a href='../prometheus/'>prometheus.md</a>"
        " and <a href='../app/'>app.py</a> and <a href='https://x/y.py'>y.py</a>.</p>"
        f"<pre><code>{'x' * (MAX_CODE_COLUMNS + 1)}\nshort</code></pre>"
        f"<div class='wrap'><pre><code>{'y' * 300}</code></pre></div>"
        "</article></body></html>",
        encoding="utf-8",
    )
    articles = {"index.html": read_article(page)}
    assert len(_prose_hits(articles, re.compile(r"\\\|"))) == 1
    assert len(_prose_hits(articles, SPHINX_ROLE)) == 1
    with pytest.raises(AssertionError, match=r"prometheus\.md.*\n.*app\.py\]"):
        test_link_texts_are_titles_not_file_names(articles)
    expected = f" line 1 has {MAX_CODE_COLUMNS + 1} columns"
    assert [hit.split(":")[1] for hit in _long_lines(articles)] == [expected]
    assert _looks_like_python("import os\nprint(os.sep)\n")
    assert _looks_like_python("router = create_router(pool)\n")
    assert not _looks_like_python("Slow queries (mean >= 250 ms)\n=====\n")
    assert not _looks_like_python("shared_preload_libraries = 'pg_stat_statements'\n")

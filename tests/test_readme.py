"""README.md and the getting-started page, as a new user meets them.

- README.md is also the PyPI page, where a relative link (``docs/cli.md``) leads
  nowhere: every link in it is absolute.
- pgstatkit is not on PyPI before its first release: every ``pip install pgstatkit...``
  in README.md, docs/index.md and docs/cli.md says it is for after the first release
  (the phrase below, in its paragraph or code block or the one before); installing from
  a clone (``pip install ".[extra]"``) needs no such note.

(The README's demo excerpt is compared with a real demo run in
``tests/cli/test_cli_demo.py``.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKER = "once pgstatkit is on pypi"
# A command (at the start of a line, of inline code, or after a "$ " prompt); not an error
# message quoted in the docs ("psycopg is not installed: pip install ...").
FROM_PYPI = re.compile(r"(?:^|`|\$ )\s*pip install\s+[\"']?pgstatkit\b", re.MULTILINE)
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)""", re.IGNORECASE)


def links(text: str) -> list[str]:
    return [
        *INLINE_LINK.findall(text),
        *REFERENCE_LINK.findall(text),
        *HTML_LINK.findall(text),
    ]


def test_link_finder_finds_every_kind() -> None:
    text = '[a](docs/a.md) ![i](img.png) <a href="x.html">x</a>\n[r]: ref.md\n'
    assert links(text) == ["docs/a.md", "img.png", "ref.md", "x.html"]


def test_readme_links_work_on_pypi() -> None:
    found = links((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found
    relative = [link for link in found if not link.startswith("https://")]
    assert relative == [], "README.md is the PyPI page: make these links absolute"


def blocks(text: str) -> list[str]:
    """Paragraphs and fenced code blocks (a code block is one, blank lines and all)."""
    out: list[str] = []
    current: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and not line.strip() and current:
            out.append("\n".join(current))
            current = []
        elif line.strip() or fenced:
            current.append(line)
    if current:
        out.append("\n".join(current))
    return out


@pytest.mark.parametrize("page", ["README.md", "docs/index.md", "docs/cli.md"])
def test_pip_install_from_pypi_is_marked_for_after_the_first_release(page: str) -> None:
    parts = blocks((ROOT / page).read_text(encoding="utf-8"))
    unmarked = [
        part
        for i, part in enumerate(parts)
        if FROM_PYPI.search(part)
        and MARKER not in part.lower()
        and (i == 0 or MARKER not in parts[i - 1].lower())
    ]
    assert unmarked == [], f"{page}: say these are for after the first release"

"""MkDocs hook (``hooks:`` in mkdocs.yml): what Python-Markdown renders unlike GitHub.

- Sphinx roles in docstrings become links. pgstatkit's docstrings cross-reference with
  Sphinx roles (``:class:`~pgstatkit.errors.X```), which Markdown renders as the role
  name followed by code. This turns each into a mkdocs-autorefs reference: a link to the
  API reference when the target is documented there, plain code otherwise
  (``optional``: never a warning). A leading ``~`` shows only the last component, as in
  Sphinx.
- A pipe in code in a table cell is written ``\\|`` (else it would end the cell); GitHub
  shows ``|``, Python-Markdown kept the backslash. The backslash goes.

tests/docsite/test_site_html.py checks the built pages for what these fix.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj):<code>(~?)([\w.]+)</code>")


def _replace(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    title = target.rsplit(".", 1)[-1] if short else target
    return f'<autoref identifier="{target}" optional><code>{title}</code></autoref>'


TABLE = re.compile(r"<table>.*?</table>", re.DOTALL)
CODE = re.compile(r"<code>.*?</code>", re.DOTALL)


def _unescape_pipes(table: re.Match[str]) -> str:
    return CODE.sub(lambda code: code.group(0).replace("\\|", "|"), table.group(0))


def on_page_content(html: str, **kwargs: Any) -> str:
    return TABLE.sub(_unescape_pipes, ROLE.sub(_replace, html))

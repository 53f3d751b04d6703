"""MkDocs hook (``hooks:`` in mkdocs.yml): Sphinx roles in docstrings become links.

pgstatkit's docstrings cross-reference with Sphinx roles (``:class:`~pgstatkit.errors.X```),
which Markdown renders as the role name followed by code. This turns each into a
mkdocs-autorefs reference: a link to the API reference when the target is documented
there, plain code otherwise (``optional``: never a warning). A leading ``~`` shows only
the last component, as in Sphinx.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj):<code>(~?)([\w.]+)</code>")


def _replace(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    title = target.rsplit(".", 1)[-1] if short else target
    return f'<autoref identifier="{target}" optional><code>{title}</code></autoref>'


def on_page_content(html: str, **kwargs: Any) -> str:
    return ROLE.sub(_replace, html)

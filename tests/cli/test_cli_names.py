"""Names from the database in the command line's messages are quoted as identifiers
(one helper, ``_format.ident``): an inner double quote is doubled, so the message says
unambiguously where the name ends, and control characters are escaped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pgstatkit.cli._errors import extension_message
from pgstatkit.errors import ExtensionNotInstalledError

NAMES = st.text(st.sampled_from(['"', "a", " ", "\\", "\n", "\x1b", "é"]), min_size=1)


def unquote(text: str) -> str:
    assert text.startswith('"') and text.endswith('"'), text
    inner = text[1:-1]
    assert '"' not in inner.replace('""', ""), text
    return inner.replace('""', '"')


@given(NAMES)
def test_the_database_of_an_extension_message_is_one_quoted_name(name: str) -> None:
    message = extension_message(ExtensionNotInstalledError("not created"), name)
    quoted = message.split(" in database ", 1)[1].split(": run ", 1)[0]
    shown = unquote(quoted)
    assert "\n" not in shown and "\x1b" not in shown
    assert shown.replace("\\n", "\n").replace("\\x1b", "\x1b") == name

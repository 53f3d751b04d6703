"""Connection strings: what the CLI says about a bad one, and that a password never shows.

``parse_dsn`` runs libpq's own parser (through psycopg) on the DSN with its password
masked, so libpq's message names the real problem with nothing but the password hidden.
The property tests build DSNs of every shape pgstatkit accepts, with and without errors,
around passwords full of characters that need quoting, and check that no piece of the
password reaches the output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgstatkit.cli import EXIT_BAD_ARGUMENTS, CliError, mask_dsn, parse_dsn

MARK = "§"  # in every password, between every few characters; in nothing else
MARK_ENCODED = quote(MARK).lower()  # %c2%a7
SPECIALS = list(" '\\\"@:/?#%=&[]$;\t") + list("abcXYZ019é")

pieces = st.text(alphabet=st.sampled_from(SPECIALS), max_size=4)
passwords = st.lists(pieces, min_size=1, max_size=5).map(
    lambda parts: MARK + MARK.join(parts) + MARK
)
names = st.text(alphabet="abcdefgh_", min_size=1, max_size=8)
hosts = st.sampled_from(["localhost", "127.0.0.1", "db.example.com", "[::1]", ""])
ports = st.sampled_from(["", ":5432", ":1", ":x"])
schemes = st.sampled_from(["postgresql", "postgres", "POSTGRESQL"])
secret_keys = st.sampled_from(["password", "sslpassword", "oauth_client_secret"])
equals = st.sampled_from(["=", " = ", "= ", " ="])


def kv_quoted(password: str) -> str:
    return "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"


def kv_escaped(password: str) -> str:
    return "".join("\\" + c if c in " \t\\'" else c for c in password)


def raw(password: str) -> str:
    """A password written raw (not percent-encoded, not quoted), without "=".

    One that holds "=" cannot be told apart from the option after it ("password=a b=c":
    is "b" an option?), by libpq or anyone.
    """
    return password.replace("=", "")


def uri_shapes(draw: st.DrawFn, password: str) -> str:
    scheme, user, host, port, db = (
        draw(schemes),
        draw(names),
        draw(hosts),
        draw(ports),
        draw(names),
    )
    encoded = quote(password, safe="")
    key = draw(secret_keys)
    shape = draw(st.sampled_from(["user", "no-user", "param", "raw", "param-raw"]))
    if shape == "user":
        return f"{scheme}://{user}:{encoded}@{host}{port}/{db}"
    if shape == "no-user":
        return f"{scheme}://:{encoded}@{host}{port}/{db}"
    if shape == "param":
        return f"{scheme}://{host}{port}/{db}?application_name=a&{key}={encoded}&connect_timeout=3"
    if shape == "raw":
        return f"{scheme}://{user}:{raw(password)}@{host}{port}/{db}"
    return f"{scheme}://{user}@{host}{port}/{db}?{key}={raw(password)}"


def kv_shapes(draw: st.DrawFn, password: str) -> str:
    key, eq = draw(secret_keys), draw(equals)
    value = draw(
        st.sampled_from([kv_quoted(password), kv_escaped(password), raw(password), "'" + password])
    )
    parts = [f"host={draw(hosts) or 'h'}", f"user={draw(names)}", f"{key}{eq}{value}"]
    order = draw(st.permutations(parts))
    return " ".join(order)


BREAKERS = [
    "",
    " bogus_option=1",
    " dbname",
    " port='unterminated",
    "?foo=bar",
    "&sslmode",
    "%zz",
    " [::1",
]


@st.composite
def dsns(draw: st.DrawFn) -> tuple[str, str]:
    password = draw(passwords)
    shape = draw(st.sampled_from([uri_shapes, kv_shapes]))
    dsn = shape(draw, password)
    return dsn + draw(st.sampled_from(BREAKERS)), password


def assert_no_leak(text: str, password: str) -> None:
    lowered = text.lower()
    assert MARK not in text, text
    assert MARK_ENCODED not in lowered, text
    assert password not in text
    assert raw(password) not in text


@settings(max_examples=400, deadline=None)
@given(dsns())
def test_mask_dsn_never_shows_a_password(case: tuple[str, str]) -> None:
    dsn, password = case
    assert_no_leak(mask_dsn(dsn), password)


@example(case=("postgresql://_:\u00a7%90\u00a7@localhost/_", "\u00a7%90\u00a7"))
@settings(max_examples=400, deadline=None)
@given(dsns())
def test_parse_errors_never_show_a_password(case: tuple[str, str]) -> None:
    dsn, password = case
    error: CliError | None = None
    try:
        assert isinstance(parse_dsn(dsn), dict)
    except CliError as exc:
        error = exc
    if error is not None:
        assert error.code == EXIT_BAD_ARGUMENTS
        message = str(error)
        assert message.startswith("invalid connection string (--dsn or DATABASE_URL): ")
        assert_no_leak(message, password)


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("host", 'missing "=" after "host" in connection info string'),
        ("host=db password=pw user", 'missing "=" after "user" in connection info string'),
        (
            "host=db.example.com dbname=shop bogus_option=1",
            'invalid connection option "bogus_option"',
        ),
        ("postgresql://alice@db/shop?foo=bar", 'invalid URI query parameter: "foo"'),
        ("postgresql://alice:pw@db/shop?sslmode", 'URI query parameter: "sslmode"'),
        ("host=db port='5432", "unterminated quoted string"),
        ("postgresql://alice:pw@[::1/shop", '"postgresql://alice:***@[::1/shop"'),
    ],
)
def test_parse_errors_say_what_is_wrong(dsn: str, expected: str) -> None:
    with pytest.raises(CliError) as info:
        parse_dsn(dsn)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("dsn", "advice"),
    [
        ("postgresql://alice:50%off@db/shop", "percent-encode"),
        ("postgresql://alice@db/shop?password=50%off", "percent-encode"),
        ("host=db password='it''s", "quote it"),
        ("host=db password=two words", "quote it"),
        ("host=db password=two words user=alice", "quote it"),
    ],
)
def test_a_malformed_password_is_named_not_shown(dsn: str, advice: str) -> None:
    with pytest.raises(CliError) as info:
        parse_dsn(dsn)
    message = str(info.value)
    assert "the password" in message
    assert advice in message
    for secret in ("50%off", "off", "it", "two", "words"):
        assert f'"{secret}"' not in message


def test_mask_dsn_hides_only_the_password() -> None:
    assert mask_dsn("postgresql://alice:s3cr%2Ft@db:5432/shop?sslmode=require") == (
        "postgresql://alice:***@db:5432/shop?sslmode=require"
    )
    assert mask_dsn("postgresql://alice:a/b@c@db/shop") == "postgresql://alice:***@db/shop"
    assert mask_dsn("postgresql://db/shop?password=x&application_name=a@b") == (
        "postgresql://db/shop?password=***&application_name=a@b"
    )
    assert mask_dsn("host=db password = 'it\\'s me' user=alice sslpassword=k") == (
        "host=db password = *** user=alice sslpassword=***"
    )
    assert mask_dsn("host=db password=two words user=alice") == "host=db password=*** user=alice"
    assert mask_dsn("host='my db' user=alice") == "host='my db' user=alice"


def test_the_command_line_names_the_problem() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    proc = subprocess.run(
        [sys.executable, "-m", "pgstatkit", "slow", "--dsn", "host=x password=s3cr3t bogus=1"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "pgstatkit: error: invalid connection string (--dsn or DATABASE_URL): "
        'invalid connection option "bogus"\n'
    )


def test_percent_encoded_bytes_that_are_not_utf8() -> None:
    """psycopg fails such a DSN with UnicodeDecodeError, not psycopg.Error: still exit 2."""
    with pytest.raises(CliError) as info:
        parse_dsn("postgresql://app@db/shop%90")
    assert info.value.code == EXIT_BAD_ARGUMENTS
    assert "not UTF-8" in str(info.value)

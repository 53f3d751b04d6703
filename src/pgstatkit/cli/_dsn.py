"""Connection strings for the command line: find the password, mask it, explain errors.

libpq accepts two shapes (https://www.postgresql.org/docs/current/libpq-connect.html):
a URI, ``postgresql://user:password@host:port/dbname?key=value&...`` (percent-encoded),
and ``key=value`` pairs separated by whitespace (a value in single quotes may hold
spaces; a backslash escapes the next character). :func:`mask_dsn` replaces the values of
``password``, ``sslpassword`` and the other secrets (:data:`SECRET_KEYS`) in either shape
by ``***`` and leaves every other
character alone. It reads the DSN the way libpq does, and more generously where the
DSN is malformed (a password with an unencoded ``/`` or ``@``, unquoted words after
``password=``, an unterminated quote), so that what libpq would read as something
else is still masked.

:func:`parse_dsn` runs libpq's own parser (``conninfo_to_dict``); when it fails, the
masked DSN is parsed again to get libpq's message -- which names the problem (``missing
"=" after "host"``, ``invalid URI query parameter: "foo"``) and cannot contain the
password. If only the password was malformed, the masked DSN parses and the message
says so, with the fix, without showing it.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import unquote

__all__ = ["mask_dsn", "parse_dsn", "password_spans"]

MASK = "***"
SECRET_KEYS = frozenset(
    {"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key"}
)
LIBPQ_KEYWORDS = frozenset(
    [
        "application_name",
        "channel_binding",
        "client_encoding",
        "connect_timeout",
        "dbname",
        "fallback_application_name",
        "gssdelegation",
        "gssencmode",
        "gsslib",
        "host",
        "hostaddr",
        "keepalives",
        "keepalives_count",
        "keepalives_idle",
        "keepalives_interval",
        "krbsrvname",
        "load_balance_hosts",
        "max_protocol_version",
        "min_protocol_version",
        "oauth_client_id",
        "oauth_client_secret",
        "oauth_issuer",
        "oauth_scope",
        "options",
        "passfile",
        "password",
        "port",
        "replication",
        "require_auth",
        "requirepeer",
        "scram_client_key",
        "scram_server_key",
        "service",
        "ssl_max_protocol_version",
        "ssl_min_protocol_version",
        "sslcert",
        "sslcertmode",
        "sslcompression",
        "sslcrl",
        "sslcrldir",
        "sslkey",
        "sslkeylogfile",
        "sslmode",
        "sslnegotiation",
        "sslpassword",
        "sslrootcert",
        "sslsni",
        "target_session_attrs",
        "tcp_user_timeout",
        "user",
    ]
)
"""libpq's connection options (``PQconndefaults``, libpq 18); see :func:`_keywords`."""


@functools.cache
def _keywords() -> frozenset[str]:
    """The option names of the libpq psycopg uses, when it is installed, and libpq 18's."""
    try:
        from psycopg import pq

        return LIBPQ_KEYWORDS | {o.keyword.decode() for o in pq.Conninfo.get_defaults()}
    except Exception:  # no psycopg, or a libpq that cannot say: the static list
        return LIBPQ_KEYWORDS


_URI_PREFIX = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")
_SPACE = " \t\n\r\f\v"
# What starts the next option after a password value: a libpq option name and "=".
_KEY_THEN_EQUALS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*=")
_URI_PARAM = re.compile(r"[A-Za-z0-9_%]+=")
_URI_QUERY_START = re.compile(r"\?[A-Za-z0-9_%]+=")

MALFORMED_IN_URI = (
    "the password is malformed: percent-encode its special characters "
    "(% as %25, @ as %40, / as %2F, ? as %3F, # as %23, & as %26, space as %20)"
)
MALFORMED_IN_KV = (
    "the password is malformed: quote it, password='...', writing ' as \\' and \\ as \\\\"
)


def _is_uri(dsn: str) -> bool:
    return _URI_PREFIX.match(dsn) is not None


def _uri_userinfo_end(dsn: str, start: int) -> int:
    """Index of the ``@`` that ends the user info, or -1."""
    # libpq: the first "@" when no "/" comes before it. A password with an unencoded "/",
    # "?" or "@" is read generously: up to the last "@" before the query ("?key=").
    ends = []
    first_at, slash = dsn.find("@", start), dsn.find("/", start)
    if first_at >= 0 and (slash < 0 or first_at < slash):
        ends.append(first_at)
    query = _URI_QUERY_START.search(dsn, start)
    last_at = dsn.rfind("@", start, query.start() if query else len(dsn))
    if last_at >= 0:
        ends.append(last_at)
    return max(ends, default=-1)


def _uri_spans(dsn: str) -> list[tuple[int, int]]:
    prefix = _URI_PREFIX.match(dsn)
    assert prefix is not None
    start = prefix.end()
    spans: list[tuple[int, int]] = []
    at = _uri_userinfo_end(dsn, start)
    if at >= 0:
        colon = dsn.find(":", start, at)
        if colon >= 0:
            spans.append((colon + 1, at))
    question = dsn.find("?", max(at, start))
    if question < 0:
        return spans
    offset = question + 1
    secret_end = -1
    for param in dsn[question + 1 :].split("&"):
        key, eq, _value = param.partition("=")
        if secret_end >= 0 and not _URI_PARAM.match(param):
            secret_end = offset + len(param)  # "&..." in a password that was not encoded
        else:
            if secret_end >= 0:
                spans.append((spans.pop()[0], secret_end))
                secret_end = -1
            if eq and unquote(key).strip().lower() in SECRET_KEYS:
                spans.append((offset + len(key) + 1, offset + len(param)))
                secret_end = offset + len(param)
        offset += len(param) + 1
    if secret_end >= 0:
        spans.append((spans.pop()[0], secret_end))
    return spans


def _skip_space(dsn: str, i: int) -> int:
    while i < len(dsn) and dsn[i] in _SPACE:
        i += 1
    return i


def _kv_value_end(dsn: str, i: int) -> int:
    """Index just past the value starting at ``i`` (libpq's rules: quotes, backslashes)."""
    n = len(dsn)
    quoted = i < n and dsn[i] == "'"
    i += 1 if quoted else 0
    while i < n:
        if dsn[i] == "\\":
            i += 2
        elif quoted and dsn[i] == "'":
            return i + 1
        elif not quoted and dsn[i] in _SPACE:
            return i
        else:
            i += 1
    return n


def _kv_spans(dsn: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    n = len(dsn)
    i = _skip_space(dsn, 0)
    while i < n:
        key_start = i
        while i < n and dsn[i] not in _SPACE and dsn[i] != "=":
            i += 1
        key = dsn[key_start:i]
        i = _skip_space(dsn, i)
        if i >= n or dsn[i] != "=":
            continue  # libpq: missing "=" after the key; go on to the next word
        i = _skip_space(dsn, i + 1)
        value_start = i
        i = _kv_value_end(dsn, i)
        if key.lower() in SECRET_KEYS:
            # Words after the value that are neither "key=" nor an option name belong
            # to a password that should have been quoted: mask them too.
            while True:
                j = _skip_space(dsn, i)
                if j >= n or _KEY_THEN_EQUALS.match(dsn, j):
                    break
                word_end = _kv_value_end(dsn, j)
                if dsn[j:word_end] in _keywords():
                    break
                i = word_end
            spans.append((value_start, i))
        i = _skip_space(dsn, i)
    return spans


def password_spans(dsn: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every password value in ``dsn``, in order, not overlapping."""
    return _uri_spans(dsn) if _is_uri(dsn) else _kv_spans(dsn)


def mask_dsn(dsn: str) -> str:
    """``dsn`` with every secret (``password``, ``sslpassword``...) replaced by ``***``."""
    out = []
    done = 0
    for start, end in sorted(password_spans(dsn)):
        if start < done:
            continue
        out += [dsn[done:start], MASK]
        done = end
    out.append(dsn[done:])
    return "".join(out)


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def parse_dsn(dsn: str) -> dict[str, Any]:
    """libpq's reading of ``dsn`` (``conninfo_to_dict``).

    Raises:
        CliError: exit code 2, ``invalid connection string (--dsn or DATABASE_URL):``
            and what is wrong, never the password.
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    from pgstatkit.cli import EXIT_BAD_ARGUMENTS, CliError

    # A percent-encoded byte sequence that is not UTF-8 (%90) fails the decoding of
    # psycopg's conninfo_to_dict with UnicodeDecodeError, not a psycopg.Error.
    unreadable = (psycopg.Error, UnicodeDecodeError)
    try:
        return conninfo_to_dict(dsn)
    except unreadable:
        try:
            conninfo_to_dict(mask_dsn(dsn))
        except UnicodeDecodeError:
            reason = "a percent-encoded value is not UTF-8 text (e.g. %90)"
        except psycopg.Error as masked:
            reason = _first_line(masked)
        else:
            reason = MALFORMED_IN_URI if _is_uri(dsn) else MALFORMED_IN_KV
        raise CliError(
            f"invalid connection string (--dsn or DATABASE_URL): {reason}", EXIT_BAD_ARGUMENTS
        ) from None  # libpq's own message may quote the password: not even in --debug

"""Which statements a metrics scrape sends: texts only when needed (issue 20).

The live behaviour (own statements left out, one series per statement) is tested on
real servers in tests/http/test_http_prometheus_reads.py; here, the choice of
``pg_stat_statements(showtext)`` over successive scrapes, step by step.
"""

from __future__ import annotations

from typing import Any

import pytest

from pgstatkit import _operations as ops
from pgstatkit import _sql
from pgstatkit._own import OwnQueryids
from pgstatkit._protocol import Context, Query, Result

CTX = Context((1, 11), "public")
COLUMNS = (
    "queryid",
    "database",
    "username",
    "calls",
    "rows",
    "total_exec_time_ms",
    "total_plan_time_ms",
    "shared_blks_hit",
    "shared_blks_read",
    "temp_blks_written",
    "query",
    "own_queryids",
)
# $1 limit, $2 showtext, $3 text filter, $4 return texts, $5 excluded queryids, $6 all dbs
SHOWTEXT, TEXT_FILTER, EXCLUDE, ALL_DBS = 1, 2, 4, 5


def _result(queryids: list[int], own: list[int] | None) -> Result:
    text = None if own is None else ",".join(map(str, own))
    rows = [(q, "db", "u", 1, 1, 1.0, 0.0, 0, 0, 0, None, text) for q in queryids]
    return Result(COLUMNS, rows)


def _scrape(known: OwnQueryids | None, *answers: Result, **kwargs: Any) -> list[Query]:
    """The queries one statement_totals call sends, answered in order."""
    steps = ops.statement_totals(known=known, **kwargs).steps(CTX)
    sent = [next(steps)]
    left = list(answers)
    while left:
        try:
            item = steps.send(left.pop(0))
        except StopIteration:
            return sent
        assert isinstance(item, Query)
        sent.append(item)
    raise AssertionError(f"still running after {len(answers)} answers: {sent}")


def test_texts_once_then_showtext_false() -> None:
    known = OwnQueryids()
    first = _scrape(known, _result([1, 2], [7, 8]))
    assert len(first) == 1
    assert first[0].params[SHOWTEXT] is True and first[0].params[TEXT_FILTER] is True
    assert known.own == {7, 8} and known.others == {1, 2}
    # the next scrape: no texts, the learned own statements left out by queryid
    second = _scrape(known, _result([2, 1], None))
    assert len(second) == 1
    assert second[0].params[SHOWTEXT] is False and second[0].params[TEXT_FILTER] is False
    assert second[0].params[EXCLUDE] == "7,8"


def test_a_statement_new_to_the_top_reads_the_texts_again() -> None:
    known = OwnQueryids()
    _scrape(known, _result([1], [7]))
    sent = _scrape(known, _result([1, 3], None), _result([1, 3], [7, 9]))
    assert [q.params[SHOWTEXT] for q in sent] == [False, True]
    assert known.own == {7, 9} and {1, 3} <= known.others


def test_without_a_cache_every_scrape_reads_texts() -> None:
    sent = _scrape(None, _result([1], [7]))
    assert sent[0].params[SHOWTEXT] is True


def test_include_pgstatkit_never_reads_texts() -> None:
    sent = _scrape(OwnQueryids(), _result([1, 7], None), include_pgstatkit=True)
    assert len(sent) == 1
    assert sent[0].params[SHOWTEXT] is False and sent[0].params[EXCLUDE] == ""


def test_query_label_reads_texts() -> None:
    sent = _scrape(OwnQueryids(), _result([1], []), query_text=True)
    assert sent[0].params[SHOWTEXT] is True


def test_all_databases_is_a_parameter() -> None:
    sent = _scrape(None, _result([1], []), all_databases=True)
    assert sent[0].params[ALL_DBS] is True


@pytest.mark.parametrize("text", ["OVER (", "percent_of_total_time", "pg_stat_statements AS"])
def test_the_metrics_query_reads_only_what_it_exports(text: str) -> None:
    """No window function, no unused column, never the view (which reads texts)."""
    assert text not in _sql.load("statements.sql", "statement_totals")


def test_projection_lets_a_caller_choose_showtext() -> None:
    from pgstatkit._columns import projection

    assert ".pg_stat_statements AS p" in projection((1, 11), "public")
    lean = projection((1, 11), "public", include_pgstatkit=True, showtext=False)
    assert ".pg_stat_statements(false) AS p" in lean
    with pytest.raises(ValueError, match="showtext=False"):
        projection((1, 11), "public", showtext=False)


def test_every_source_keeps_what_it_learned() -> None:
    """Also a source that cannot be weakly referenced (asyncpg's Pool has __slots__)."""
    from pgstatkit.prometheus import _known

    class Slotted:
        __slots__ = ("x",)

    class Plain:
        pass

    for source in (Slotted(), Plain()):
        assert _known(source) is _known(source)

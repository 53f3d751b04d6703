"""A shop's tests, as they would be without pgstatkit; the plugin adds the checks."""

from __future__ import annotations

from typing import Any

import pytest


def order_page(db: Any) -> list[tuple[str, int]]:
    # what a lazy-loading ORM does: the orders, then each order's customer, one by one
    orders = db.execute("SELECT id, customer_id FROM shop_order ORDER BY id LIMIT 8").fetchall()
    return [
        (db.execute("SELECT name FROM shop_customer WHERE id = %s", (customer,)).fetchone()[0], oid)
        for oid, customer in orders
    ]


def test_order_page(db: Any) -> None:
    assert len(order_page(db)) == 8  # correct, but 9 statements: pgstatkit warns (N+1)


@pytest.mark.query_budget(max_calls=3)
def test_cart_over_budget(db: Any) -> None:
    for _ in range(4):  # one statement too many for its budget: fails with the table
        db.execute("SELECT count(*) AS cart_items FROM shop_order WHERE customer_id = 1")


def test_order_by_number(db: Any) -> None:
    # uses the index on shop_order(number): few blocks per call, until it is dropped
    for number in ("N-17", "N-42"):
        row = db.execute("SELECT id FROM shop_order WHERE number = %s", (number,)).fetchone()
        assert row is not None


def test_customer(db: Any, pgstatkit_queries: Any) -> None:
    assert db.execute("SELECT name FROM shop_customer WHERE id = %s", (3,)).fetchone()
    (statement,) = pgstatkit_queries.assert_budget(max_calls=1, max_rows=1)
    assert statement.query == "SELECT name FROM shop_customer WHERE id = $1"

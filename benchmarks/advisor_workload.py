"""The planted-index workload of the index advisor: a small shop with skew whose
statements would each be served by one known missing index, plus negatives.

Shared by tests/integration/test_advisor.py and benchmarks/advisor.py (the comparison
with pg_qualstats' advisor). Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["PLANTED", "RUNS", "SCHEMA", "TABLE_OF", "leading_matches", "workload_sql"]

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, name text NOT NULL,
                        country text NOT NULL);
INSERT INTO customers
SELECT g, 'user' || g || '@example.com', md5(g::text) || CASE WHEN g % 7 = 0 THEN 'son' ELSE '' END,
       (ARRAY['de', 'fr', 'us', 'us', 'us'])[1 + g % 5]
FROM generate_series(1, 20000) AS g;
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
                     total numeric NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO orders
SELECT g, 1 + ((((g * 7919) % 10007) / 10007.0) ^ 2 * 19999)::int,
       (ARRAY['paid', 'paid', 'paid', 'open'])[1 + g % 4],
       g % 500, '2024-01-01'::timestamptz + g * interval '1 minute'
FROM generate_series(1, 60000) AS g;
CREATE INDEX orders_customer_created ON orders (customer_id, created_at);
CREATE TABLE line_items (id int PRIMARY KEY, order_id int NOT NULL, product_id int NOT NULL,
                         warehouse_id int NOT NULL, qty int NOT NULL,
                         shipped_at timestamptz NOT NULL);
INSERT INTO line_items
SELECT g, 1 + g % 60000, 1 + ((((g * 7919) % 10007) / 10007.0) ^ 3 * 999)::int,
       1 + g % 10, 1 + g % 5,
       '2024-01-01'::timestamptz + (g % 200) * interval '1 day'
FROM generate_series(1, 150000) AS g;
CREATE TABLE events (id int PRIMARY KEY, account_id int NOT NULL, kind text NOT NULL,
                     created_at timestamptz NOT NULL);
INSERT INTO events
SELECT g, 1 + ((((g * 7919) % 10007) / 10007.0) ^ 2 * 299)::int,
       (ARRAY['click', 'view', 'buy'])[1 + g % 3],
       '2024-01-01'::timestamptz + g * interval '10 seconds'
FROM generate_series(1, 150000) AS g;
CREATE TABLE settings (id int PRIMARY KEY, key text NOT NULL, value text);
INSERT INTO settings SELECT g, 'key' || g, 'v' FROM generate_series(1, 20) AS g;
VACUUM ANALYZE customers, orders, line_items, events, settings;
-- the load is not the workload: its inserts would count as the tables' write rate
SELECT pg_stat_reset();
"""

# name -> (statement with {n} for a varying constant, the planted index's leading
# columns: a set for the equality columns, then the next column; None for a negative)
PLANTED: dict[str, tuple[str, tuple[frozenset[str], str | None] | None]] = {
    "selective_equality": (
        "SELECT id, name FROM customers WHERE email = 'user{n}@example.com'",
        (frozenset({"email"}), None),
    ),
    "equality_and_range": (
        "SELECT sum(qty) FROM line_items WHERE product_id = {n} AND warehouse_id = 3"
        " AND shipped_at >= '2024-05-01'",
        (frozenset({"product_id", "warehouse_id"}), "shipped_at"),
    ),
    "foreign_key_join": (
        "SELECT li.product_id, li.qty FROM orders o JOIN line_items li ON li.order_id = o.id"
        " WHERE o.id = {n}",
        (frozenset(), "order_id"),
    ),
    "order_by_limit": (
        "SELECT id, kind FROM events WHERE account_id = {n} ORDER BY created_at DESC LIMIT 20",
        (frozenset({"account_id"}), "created_at"),
    ),
    "no_btree": ("SELECT count(*) FROM customers WHERE name LIKE '%son{n}%'", None),
    "already_served": ("SELECT id, total FROM orders WHERE customer_id = {n}", None),
    "tiny_table": ("SELECT value FROM settings WHERE key = 'key{n}'", None),
}
TABLE_OF = {
    "selective_equality": "customers",
    "equality_and_range": "line_items",
    "foreign_key_join": "line_items",
    "order_by_limit": "events",
    "no_btree": "customers",
    "already_served": "orders",
    "tiny_table": "settings",
}
RUNS = 15


def workload_sql() -> str:
    lines = [
        "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database"
        " WHERE datname = current_database();"
    ]
    for n in range(1, RUNS + 1):
        lines += [f"{text.format(n=n * 37)};" for text, _ in PLANTED.values()]
    return "\n".join(lines) + "\n"


def leading_matches(columns: Sequence[str], planted: tuple[frozenset[str], str | None]) -> bool:
    """Whether an index on ``columns`` has the planted index's leading columns: its
    equality columns in any order, then its next column."""
    equality, after = planted
    head = set(columns[: len(equality)])
    rest = list(columns[len(equality) :])
    return head == set(equality) and (after is None or (bool(rest) and rest[0] == after))

"""Install pgstatkit's helper views (schema ``pgstatkit``).

Revision ID: 0001_pgstatkit
Revises:
"""

from __future__ import annotations

from alembic import op

from pgstatkit.migrations import install_statements, uninstall_statements

revision = "0001_pgstatkit"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    for sql in install_statements(schema="pgstatkit"):
        op.execute(sql)


def downgrade() -> None:
    for sql in uninstall_statements(schema="pgstatkit"):
        op.execute(sql)

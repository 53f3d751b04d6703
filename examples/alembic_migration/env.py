"""Alembic environment: run the migrations on PGSTATKIT_DSN (a ``postgresql://`` URI)."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

url = os.environ["PGSTATKIT_DSN"].replace("postgresql://", "postgresql+psycopg://", 1)
engine = sa.create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()

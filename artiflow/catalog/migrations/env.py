"""Alembic environment for the artiflow catalog (shipped inside the package)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from artiflow.catalog.engine import WRITE, create_engine_for
from artiflow.catalog.models import metadata

config = context.config
_LOCK_ID = 0x61727469666C6F  # "artiflo": serialises concurrent upgrades on PostgreSQL


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
        # SQLite runs DDL in transactions too: one transaction (BEGIN IMMEDIATE) around reading
        # the current revision and migrating, so concurrent first opens cannot migrate twice
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine_for(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            conn.execution_options(**WRITE)
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

"""Run the catalog's Alembic migrations (``artiflow db upgrade``).

Example:
    >>> from artiflow.catalog.engine import create_engine_for
    >>> e = create_engine_for("sqlite://")
    >>> upgrade(e) == head_revision()
    True
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from .engine import WRITE, single_read_options

__all__ = [
    "alembic_config",
    "current_revision",
    "downgrade",
    "ensure_schema",
    "head_revision",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0007"  # keep in step with the newest file in migrations/versions (a test checks it)


def alembic_config(url: str = "sqlite://"):  # type: ignore[no-untyped-def]
    """An Alembic ``Config`` pointing at the migrations shipped in the package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this package."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    return heads[0] if len(heads) == 1 else ",".join(sorted(heads))


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database.

    One plain read of ``alembic_version`` (no BEGIN/COMMIT round trips); only when that table
    cannot be read is the schema inspected (an empty database, or an error to raise).
    """
    with engine.connect() as conn:
        try:
            row = (
                conn.execution_options(**single_read_options(engine.dialect.name))
                .execute(text("SELECT version_num FROM alembic_version"))
                .first()
            )
            return row[0] if row else None
        except DBAPIError:
            conn.rollback()
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return row[0] if row else None


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the database to ``revision`` (default: head) and return the new revision."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        conn.execution_options(**WRITE)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()
    return current_revision(engine)


def downgrade(engine: Engine, revision: str) -> str | None:
    """Downgrade the database to ``revision`` (``base`` empties it)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        conn.execution_options(**WRITE)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        conn.commit()
    return current_revision(engine)


def ensure_schema(engine: Engine) -> None:
    """Create or upgrade the schema when it is not at :data:`HEAD` (cheap when it is).

    Opening a registry while its database restarts waits it out, as every transaction does
    (``ARTIFLOW_DB_RETRY_SECONDS``); an upgrade itself is never repeated.
    """
    import time

    from ._retry import backoff, is_transient, retry_seconds

    deadline = time.monotonic() + retry_seconds()
    attempt = 0
    while True:
        try:
            revision = current_revision(engine)
            break
        except DBAPIError as exc:
            if not is_transient(exc) or time.monotonic() + backoff(attempt) > deadline:
                raise
            time.sleep(backoff(attempt))
            attempt += 1
    if revision != HEAD:
        upgrade(engine)

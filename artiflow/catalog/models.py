"""SQLAlchemy tables of the registry catalog (never exposed outside ``artiflow.catalog``).

Example:
    >>> sorted(metadata.tables)[:3]
    ['alias_events', 'alias_freshness', 'aliases']
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "alias_events",
    "aliases",
    "collections",
    "entries",
    "gc_intents",
    "gc_state",
    "metadata",
    "pending_tombstones",
    "run_io",
    "runs",
    "tags",
    "versions",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)
BigId = BigInteger().with_variant(Integer(), "sqlite")

collections = Table(
    "collections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project", String(128), nullable=False),
    Column("name", String(128), nullable=False),
    Column("type", String(64), nullable=False),
    Column("kind", String(16), nullable=False, server_default="artifact"),
    Column("description", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_index", Integer, nullable=False, server_default="0"),
    UniqueConstraint("project", "name", name="uq_collections_project_name"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("collection_id", Integer, ForeignKey("collections.id"), nullable=False),
    Column("idx", Integer),  # NULL while PENDING: indices are allocated at commit
    Column("digest", String(64)),
    Column("size", BigInteger, nullable=False, server_default="0"),
    Column("file_count", Integer, nullable=False, server_default="0"),
    Column("state", String(16), nullable=False),
    Column("description", Text),
    Column("meta", JSON),
    Column("semver", String(128)),
    Column("distributed_id", String(255)),
    Column("target_id", Integer, ForeignKey("versions.id")),  # registry links
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("committed_at", DateTime(timezone=True)),
    Column("deleted_at", DateTime(timezone=True)),
    # collaborative PENDING versions age by their last upsert (gc removes them after the grace)
    Column("last_upsert_at", DateTime(timezone=True)),
    # bumped by every edit of description, metadata, tags or aliases (optimistic concurrency)
    Column("revision", Integer, nullable=False, server_default="0"),
    UniqueConstraint("collection_id", "idx", name="uq_versions_collection_idx"),
    UniqueConstraint("collection_id", "semver", name="uq_versions_collection_semver"),
    UniqueConstraint("collection_id", "distributed_id", name="uq_versions_collection_distributed"),
    Index("ix_versions_collection_state_idx", "collection_id", "state", "idx"),
    Index("ix_versions_target", "target_id"),
    Index("ix_versions_state_id", "state", "id"),  # the oldest PENDING version (0006)
)

entries = Table(
    "entries",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("path", Text, nullable=False),
    Column("digest", String(64)),
    Column("size", BigInteger),
    Column("ref", Text),
    Column("extra", JSON(none_as_null=True)),  # SQL NULL, not the JSON text null: no decoding
    UniqueConstraint("version_id", "path", name="uq_entries_version_path"),
    Index("ix_entries_digest", "digest"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("collection_id", Integer, ForeignKey("collections.id"), nullable=False),
    Column("alias", String(128), nullable=False),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    UniqueConstraint("collection_id", "alias", name="uq_aliases_collection_alias"),
    Index("ix_aliases_version", "version_id"),
)

alias_events = Table(
    "alias_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("collection_id", Integer, ForeignKey("collections.id"), nullable=False),
    Column("alias", String(128), nullable=False),
    Column("version_id", Integer, ForeignKey("versions.id")),
    Column("previous_version_id", Integer, ForeignKey("versions.id")),
    Column("run_id", String(64)),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_alias_events_collection", "collection_id", "id"),
)

tags = Table(
    "tags",
    metadata,
    Column("version_id", Integer, ForeignKey("versions.id"), primary_key=True),
    Column("tag", String(128), primary_key=True),
    Index("ix_tags_tag", "tag"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("orchestrator", String(32), nullable=False),
    Column("pipeline", String(255)),
    Column("pipeline_run", String(255)),
    Column("task", String(255)),
    Column("try_number", Integer),
    Column("map_index", Integer),
    Column("host", String(255)),
    Column("state", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("info", JSON),
    Column("error", Text),
    Index("ix_runs_pipeline_run", "orchestrator", "pipeline_run"),
    Index("ix_runs_started", "started_at"),
)

run_io = Table(
    "run_io",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("run_id", String(64), ForeignKey("runs.id"), nullable=False),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("direction", String(8), nullable=False),  # "used" | "logged"
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("run_id", "version_id", "direction", name="uq_run_io_edge"),
    Index("ix_run_io_version", "version_id", "direction"),
    Index("ix_run_io_run", "run_id", "direction"),
)

# ---- gc coordination (see artiflow/_ops/gc.py for the protocol) ----------------------------
gc_state = Table(
    "gc_state",
    metadata,
    Column("id", Integer, primary_key=True),  # one row, id = 1
    # odd while a gc run may delete blobs, even between runs; every run moves it by 2
    Column("epoch", BigInteger, nullable=False, server_default="0"),
    # intents tagged below this epoch were pruned: a writer whose epoch is older re-checks all
    Column("floor", BigInteger, nullable=False, server_default="0"),
)

gc_intents = Table(
    "gc_intents",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("epoch", BigInteger, nullable=False),  # the (odd) epoch of the run that may delete it
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_gc_intents_epoch", "epoch"),
)

pending_tombstones = Table(
    "pending_tombstones",
    metadata,
    Column("collection_id", Integer, ForeignKey("collections.id"), primary_key=True),
    Column("distributed_id", String(255), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_upsert_at", DateTime(timezone=True)),
    Column("collected_at", DateTime(timezone=True), nullable=False),
)

from . import _control as _control  # noqa: E402  (the lineage-control tables, same metadata)

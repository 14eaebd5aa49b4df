"""One JSON-ready shape for versions, runs and lineage graphs.

:meth:`ArtifactVersion.to_dict`, :meth:`Run.to_dict` and the nodes of a
:class:`~artiflow.LineageGraph` all come from here, so a run or a version reads the same in
every output (lineage JSON/Mermaid/DOT, ``show``, the web API).

Example:
    >>> import datetime as dt
    >>> from artiflow.catalog import RunRow
    >>> row = RunRow("ab12", "train", "airflow", "nightly", "manual__1", "fit", 2, 3, "w1",
    ...              "SUCCESS", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), None)
    >>> run_label(row)
    'airflow: nightly.fit [run manual__1, try 2, map 3]'
    >>> run_node(row)["id"], run_node(row)["label"] == run_label(row)
    ('run:ab12', True)
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .catalog import CollectionRecord, RunRow

__all__ = [
    "RunLike",
    "VersionLike",
    "collection_dict",
    "iso",
    "run_dict",
    "run_label",
    "run_node",
    "version_fields",
    "version_node",
]


class VersionLike(Protocol):
    """What :func:`version_node` reads of a version: a catalog ``VersionRecord``, or the
    lighter summary the lineage graph reads (``Catalog.version_summaries``)."""

    @property
    def id(self) -> int: ...
    @property
    def ref(self) -> str: ...
    @property
    def project(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def digest(self) -> str | None: ...
    @property
    def state(self) -> str: ...
    @property
    def aliases(self) -> tuple[str, ...]: ...
    @property
    def created_at(self) -> dt.datetime: ...


class RunLike(Protocol):
    """What :func:`run_node` reads of a run: a ``RunRecord`` or ``Catalog.run_summaries``'."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def orchestrator(self) -> str: ...
    @property
    def pipeline(self) -> str | None: ...
    @property
    def pipeline_run(self) -> str | None: ...
    @property
    def task(self) -> str | None: ...
    @property
    def try_number(self) -> int | None: ...
    @property
    def map_index(self) -> int | None: ...
    @property
    def host(self) -> str | None: ...
    @property
    def state(self) -> str: ...
    @property
    def started_at(self) -> dt.datetime: ...
    @property
    def ended_at(self) -> dt.datetime | None: ...


def iso(value: dt.datetime | None) -> str | None:
    """A timestamp as ISO 8601 text (None stays None)."""
    return value.isoformat() if value is not None else None


def collection_dict(record: CollectionRecord) -> dict[str, Any]:
    """A collection (``artiflow ls --json``, the web API): its version count and the ``vN`` of
    its newest version (None while it has none)."""
    return {
        "project": record.project,
        "name": record.name,
        "type": record.type,
        "kind": record.kind,
        "description": record.description,
        "version_count": record.version_count,
        "latest": f"v{record.latest_index}" if record.latest_index is not None else None,
        "created_at": iso(record.created_at),
    }


def version_fields(row: VersionLike) -> dict[str, Any]:
    """The fields every serialisation of a version carries."""
    return {
        "ref": row.ref,
        "project": row.project,
        "name": row.name,
        "version": row.version,
        "type": row.type,
        "digest": row.digest,
        "state": str(row.state),
        "aliases": list(row.aliases),
    }


def version_node(row: VersionLike) -> dict[str, Any]:
    """A version as a lineage node (``id`` ``version:<db id>``, ``kind`` ``version``)."""
    return {
        "id": f"version:{row.id}",
        "kind": "version",
        **version_fields(row),
        "created_at": iso(row.created_at),
    }


def run_label(row: Any) -> str:
    """How people know a run: ``"<orchestrator>: <pipeline>.<task>"`` (the run's name stands in
    for a missing task) followed by ``[run <pipeline run>, try N, map M]`` with what the
    orchestrator gave. ``row``: a run record or a :class:`~artiflow.Run`."""
    task = str(row.task or row.name)
    extra = []
    if row.pipeline_run:
        extra.append(f"run {row.pipeline_run}")
    if row.try_number is not None:
        extra.append(f"try {row.try_number}")
    if row.map_index is not None and row.map_index >= 0:
        extra.append(f"map {row.map_index}")
    where = f"{row.pipeline}.{task}" if row.pipeline else task
    label = f"{row.orchestrator or 'run'}: {where}"
    return label + (f" [{', '.join(extra)}]" if extra else "")


def _run_fields(row: RunLike) -> dict[str, Any]:
    return {
        "name": row.name,
        "label": run_label(row),
        "orchestrator": row.orchestrator,
        "pipeline": row.pipeline,
        "pipeline_run": row.pipeline_run,
        "task": row.task,
        "try_number": row.try_number,
        "map_index": row.map_index,
        "host": row.host,
        "state": str(row.state),
        "started_at": iso(row.started_at),
        "ended_at": iso(row.ended_at),
    }


def run_dict(row: RunRow) -> dict[str, Any]:
    """A run in full (what :meth:`Run.to_dict` returns)."""
    return {"id": row.id, **_run_fields(row), "info": dict(row.info), "error": row.error}


def run_node(row: RunLike) -> dict[str, Any]:
    """A run as a lineage node (``id`` ``run:<run id>``, ``kind`` ``run``, ``run_id``)."""
    return {"id": f"run:{row.id}", "kind": "run", "run_id": row.id, **_run_fields(row)}

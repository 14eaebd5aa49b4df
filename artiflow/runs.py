"""Runs: one execution (an Airflow task-instance try, a Prefect task run, a manual block) that
uses and logs versions. Lineage is the graph of these edges.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> registry = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("model", type="model")
    >>> with draft.new_file("w.json") as f:
    ...     _ = f.write("{}")
    >>> with registry.run("train", pipeline="nightly") as run:
    ...     model = run.log(draft, aliases=["candidate"])
    >>> model.logged_by().name, run.state
    ('train', 'SUCCESS')
"""

from __future__ import annotations

import datetime as dt
import socket
import traceback
import uuid
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._ops import stale as _stale  # seam: staleness
from .catalog import RunRow
from .exceptions import ArtifactNotFoundError
from .limits import clean_error_text, validate_run_fields

if TYPE_CHECKING:
    from .artifact import Artifact
    from .registry import Registry
    from .version import ArtifactVersion

__all__ = ["RUNNING", "Run"]

RUNNING, SUCCESS, FAILED = "RUNNING", "SUCCESS", "FAILED"


class Run:
    """A run context. Use it as a context manager, or call :meth:`finish` yourself."""

    def __init__(self, registry: Registry, row: RunRow) -> None:
        self._registry = registry
        self._row = row

    # ---- attributes -------------------------------------------------------------------
    id = property(lambda self: self._row.id)
    name = property(lambda self: self._row.name)
    orchestrator = property(lambda self: self._row.orchestrator)
    pipeline = property(lambda self: self._row.pipeline)
    pipeline_run = property(lambda self: self._row.pipeline_run)
    task = property(lambda self: self._row.task)
    try_number = property(lambda self: self._row.try_number)
    map_index = property(lambda self: self._row.map_index)
    host = property(lambda self: self._row.host)
    state = property(lambda self: self._row.state)
    started_at = property(lambda self: self._row.started_at)
    ended_at = property(lambda self: self._row.ended_at)
    info = property(lambda self: dict(self._row.info))
    error = property(lambda self: self._row.error)

    def __repr__(self) -> str:
        where = "/".join(str(x) for x in (self.pipeline, self.pipeline_run, self.task) if x)
        return f"<Run {self.name} {self.orchestrator}{':' + where if where else ''} {self.state}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the run."""
        r = self._row
        return {
            "id": r.id,
            "name": r.name,
            "orchestrator": r.orchestrator,
            "pipeline": r.pipeline,
            "pipeline_run": r.pipeline_run,
            "task": r.task,
            "try_number": r.try_number,
            "map_index": r.map_index,
            "host": r.host,
            "state": r.state,
            "started_at": r.started_at.isoformat() if r.started_at else None,
            "ended_at": r.ended_at.isoformat() if r.ended_at else None,
            "info": dict(r.info),
            "error": r.error,
        }

    # ---- recording --------------------------------------------------------------------
    def use(self, ref: str | ArtifactVersion) -> ArtifactVersion:
        """Resolve ``ref`` (or take a version) and record that this run consumed it.

        Example:
            >>> # ds = run.use("bike-dataset:production")
        """
        from .version import ArtifactVersion

        version = ref if isinstance(ref, ArtifactVersion) else self._registry.get(ref)
        self._registry.catalog.record_io(self.id, version.id, "used")
        _stale.record_via(self._registry, self.id, ref, version)  # seam: staleness
        return version

    def log(
        self, artifact: Artifact, aliases: Any = (), tags: Any = (), version: str | None = None
    ) -> ArtifactVersion:
        """Log a draft and record that this run produced it.

        Example:
            >>> # run.log(draft, aliases=["candidate"])
        """
        return self._registry.log(artifact, aliases=aliases, tags=tags, version=version, run=self)

    def log_many(self, items: Any) -> list[ArtifactVersion]:
        """Log several drafts as one commit (all or none) produced by this run.

        Example:
            >>> # model, report = run.log_many([model_draft, report_draft])
        """
        return self._registry.log_many(items, run=self)

    def used_artifacts(self) -> list[ArtifactVersion]:
        """Versions this run consumed."""
        return self._registry._versions_of_run(self.id, "used")

    def logged_artifacts(self) -> list[ArtifactVersion]:
        """Versions this run produced."""
        return self._registry._versions_of_run(self.id, "logged")

    def finish(self, state: str = SUCCESS, error: str | None = None) -> None:
        """Record the end of the run (``SUCCESS`` or ``FAILED``)."""
        if error is not None:
            error = clean_error_text(str(error))  # NUL / lone surrogates: storable everywhere
        ended = self._registry.catalog.finish_run(self.id, state, error)
        if ended is None:
            raise ArtifactNotFoundError(f"run {self.id} is not in the registry any more")
        self._row = replace(self._row, state=state, ended_at=ended, error=error)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.finish(SUCCESS)
        else:
            text = "".join(traceback.format_exception_only(exc_type, exc)).strip()
            self.finish(FAILED, text[:4000])


def new_run_row(
    name: str,
    *,
    orchestrator: str = "manual",
    pipeline: str | None = None,
    pipeline_run: str | None = None,
    task: str | None = None,
    try_number: int | None = None,
    map_index: int | None = None,
    host: str | None = None,
    info: dict[str, Any] | None = None,
    run_id: str | None = None,
    max_metadata_bytes: int | None = None,
) -> RunRow:
    """A fresh RUNNING run row (used by :meth:`Registry.run`), every field checked against
    ``limits.LIMITS`` first (:class:`~artiflow.exceptions.InvalidFieldError`).

    Example:
        >>> new_run_row("train", pipeline="nightly").state
        'RUNNING'
    """
    pipeline_run = None if pipeline_run is None else str(pipeline_run)
    host = host or socket.gethostname()
    validate_run_fields(
        name=name,
        run_id=run_id,
        orchestrator=orchestrator,
        pipeline=pipeline,
        pipeline_run=pipeline_run,
        task=task,
        host=host,
        try_number=try_number,
        map_index=map_index,
        info=info,
        max_metadata_bytes=max_metadata_bytes,
    )
    return RunRow(
        id=run_id or uuid.uuid4().hex,
        name=name,
        orchestrator=orchestrator,
        pipeline=pipeline,
        pipeline_run=pipeline_run,
        task=task,
        try_number=try_number,
        map_index=map_index,
        host=host,
        state=RUNNING,
        started_at=dt.datetime.now(dt.timezone.utc),
        ended_at=None,
        info=dict(info or {}),
    )

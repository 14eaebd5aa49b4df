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

from . import serialize
from ._context import RegistryContext, context_of
from .catalog import RunRow
from .exceptions import ArtifactNotFoundError
from .limits import clean_error_text, validate_run_fields
from .states import RunState

if TYPE_CHECKING:
    from .artifact import Artifact
    from .registry import Registry
    from .version import ArtifactVersion

__all__ = ["FAILED", "RUNNING", "SUCCESS", "Run", "RunState"]

#: the run states as plain strings (older spellings of :class:`~artiflow.states.RunState`)
RUNNING, SUCCESS, FAILED = RunState.RUNNING.value, RunState.SUCCESS.value, RunState.FAILED.value


class Run:
    """A run context. Use it as a context manager, or call :meth:`finish` yourself.

    ``registry``: the :class:`~artiflow.Registry` (or its context) the run belongs to."""

    def __init__(self, registry: Registry | RegistryContext, row: RunRow) -> None:
        self._ctx = context_of(registry)
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

    @property
    def record(self) -> RunRow:
        """The catalog record of this run (frozen)."""
        return self._row

    @property
    def label(self) -> str:
        """How people know this run, e.g. ``"airflow: nightly.train [run manual__2026-01-01,
        try 2, map 3]"`` (orchestrator: pipeline.task, then the pipeline run, try and map index);
        lineage and ``show`` name runs by it.

        Example:
            >>> # registry.get("ds:v3").logged_by().label
        """
        return serialize.run_label(self._row)

    def __repr__(self) -> str:
        return f"<Run {self.name} ({self.label}) {self.state}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the run."""
        return serialize.run_dict(self._row)

    # ---- recording --------------------------------------------------------------------
    def use(self, ref: str | ArtifactVersion) -> ArtifactVersion:
        """Resolve ``ref`` (or take a version) and record that this run consumed it.

        Example:
            >>> # ds = run.use("bike-dataset:production")
        """
        from ._ops.query import get
        from ._ops.runs import record_used
        from .version import ArtifactVersion

        version = ref if isinstance(ref, ArtifactVersion) else get(self._ctx, ref)
        record_used(self._ctx, self, version, ref)  # the edge + the alias it was read through
        return version

    def log(
        self,
        artifact: Artifact,
        aliases: Any = (),
        tags: Any = (),
        version: str | None = None,
        *,
        semver: str | None = None,
    ) -> ArtifactVersion:
        """Log a draft and record that this run produced it (``semver=`` a semantic version
        label; ``version=`` is its older spelling).

        Example:
            >>> # run.log(draft, aliases=["candidate"], semver="1.4.0")
        """
        from ._ops.log import log_many

        opts = {"aliases": aliases, "tags": tags, "version": version, "semver": semver}
        return log_many(self._ctx, [(artifact, opts)], run=self)[0]

    def log_many(self, items: Any) -> list[ArtifactVersion]:
        """Log several drafts as one commit (all or none) produced by this run.

        Example:
            >>> # model, report = run.log_many([model_draft, report_draft])
        """
        from ._ops.log import log_many

        return log_many(self._ctx, items, run=self)

    def used_artifacts(self) -> list[ArtifactVersion]:
        """Versions this run consumed."""
        from ._ops.runs import versions_of_run

        return versions_of_run(self._ctx, self.id, "used")

    def logged_artifacts(self) -> list[ArtifactVersion]:
        """Versions this run produced."""
        from ._ops.runs import versions_of_run

        return versions_of_run(self._ctx, self.id, "logged")

    def finish(self, state: str = SUCCESS, error: str | None = None) -> None:
        """Record the end of the run (``SUCCESS`` or ``FAILED``; a :class:`RunState` or its
        value)."""
        state = str(state)  # a RunState is stored as its plain value
        if error is not None:
            error = clean_error_text(str(error))  # NUL / lone surrogates: storable everywhere
        ended = self._ctx.catalog.finish_run(self.id, state, error)
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
        state=RunState.RUNNING.value,
        started_at=dt.datetime.now(dt.timezone.utc),
        ended_at=None,
        info=dict(info or {}),
    )

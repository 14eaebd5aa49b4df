"""Prefect integration: artifact-aware tasks, registry events as Prefect events.

Requires ``pip install 'artiflow[prefect]'``.

Example:
    >>> from artiflow.prefect import artifact_task
    >>> @artifact_task(inputs={"raw": "bike-dataset:latest"}, outputs={"clean": "bike-clean"})
    ... def clean(raw, clean, min_rows: int = 10):
    ...     clean.add_dir(raw.local_path)
"""

from __future__ import annotations

try:
    import prefect  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("artiflow.prefect needs Prefect: pip install 'artiflow[prefect]'") from exc

from .blocks import ArtiflowRegistry, BlockNotFoundError, resolve_registry
from .events import (
    ALIAS_MOVED,
    ALIAS_REMOVED,
    VERSION_CREATED,
    VERSION_QUARANTINED,
    VERSION_RELEASED,
    PromotionGateError,
    alias_moved_trigger,
    emit_registry_event,
    flush_events,
    forward_events,
    promote,
    resource_id,
    to_prefect_event,
    trigger_parameter,
    version_created_trigger,
)
from .replay import REPLAY_TAG, ReplayError, replay
from .runs import ARTIFLOW_PARAMETER, ForeignTriggerError
from .tasks import (
    ArtifactInputsPolicy,
    ArtifactTask,
    artifact_task,
    asset_key,
    commit_parts,
    prefect_distributed_id,
    with_refs,
)

__all__ = [
    "ALIAS_MOVED",
    "ALIAS_REMOVED",
    "ARTIFLOW_PARAMETER",
    "REPLAY_TAG",
    "VERSION_CREATED",
    "VERSION_QUARANTINED",
    "VERSION_RELEASED",
    "ArtifactInputsPolicy",
    "ArtifactTask",
    "ArtiflowRegistry",
    "BlockNotFoundError",
    "ForeignTriggerError",
    "PromotionGateError",
    "ReplayError",
    "alias_moved_trigger",
    "artifact_task",
    "asset_key",
    "commit_parts",
    "emit_registry_event",
    "flush_events",
    "forward_events",
    "prefect_distributed_id",
    "promote",
    "replay",
    "resolve_registry",
    "resource_id",
    "to_prefect_event",
    "trigger_parameter",
    "version_created_trigger",
    "with_refs",
]

"""Airflow integration: artifact-aware tasks, operators, sensors and Assets.

Example:
    >>> from artiflow.operators import artifact_task
    >>> @artifact_task(inputs={"raw": "bike-rides"}, outputs={"clean": "bike-dataset"})
    ... def build(raw, clean):
    ...     clean.add_dir(raw.local_path)

Also available as ``@task.artiflow`` (registered through the ``apache_airflow_provider`` entry
point). Importing this package imports Airflow; :mod:`artiflow` itself never does.
"""

from __future__ import annotations

try:
    import airflow.sdk  # noqa: F401  (the extra: a clear message instead of a bare import error)
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ModuleNotFoundError(
        "artiflow.operators needs Apache Airflow 3.3: pip install 'artiflow[airflow]'",
        name=_exc.name,
    ) from _exc

from ._registry import get_registry
from ._runtime import (
    XCOM_KEY,
    TaskArtifacts,
    current_task_artifacts,
    distributed_id,
    use_artifact,
)
from .assets import alias_asset, alias_uri, artifact_alias, artifact_asset, artifact_uri
from .base import ArtifactOperator, ArtifactOperatorMixin
from .decorator import ArtifactCommitOperator, ArtifactDecoratedOperator, artifact_task
from .event_trigger import ArtifactEventTrigger
from .hooks import ArtiflowHook
from .lineage import OpenLineageMixin, lineage_datasets
from .operators import LogArtifactOperator, PromoteArtifactOperator
from .sensors import ArtifactSensor, ArtifactTrigger

__all__ = [
    "XCOM_KEY",
    "ArtifactCommitOperator",
    "ArtifactDecoratedOperator",
    "ArtifactEventTrigger",
    "ArtifactOperator",
    "ArtifactOperatorMixin",
    "ArtifactSensor",
    "ArtifactTrigger",
    "ArtiflowHook",
    "LogArtifactOperator",
    "OpenLineageMixin",
    "PromoteArtifactOperator",
    "TaskArtifacts",
    "alias_asset",
    "alias_uri",
    "artifact_alias",
    "artifact_asset",
    "artifact_task",
    "artifact_uri",
    "current_task_artifacts",
    "distributed_id",
    "get_registry",
    "lineage_datasets",
    "use_artifact",
]

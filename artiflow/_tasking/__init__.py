"""The task runtime both integrations share (no orchestrator import in here).

An artifact task's life — declarations, the per-process registry, the registry run of a try and
its state, input resolution through one resolver per pipeline run, downloads, output drafts,
committing all outputs in one transaction, error recording — lives here once. The Airflow
(:mod:`artiflow.operators`) and Prefect (:mod:`artiflow.prefect`) modules only translate their
context into a :class:`TaskContext` and an :class:`~artiflow._tasking.resolver.Upstream`.

Example:
    >>> from artiflow._tasking import TaskContext
    >>> TaskContext("prefect", "etl", "flow-run-id", "clean").pipeline_key.pipeline
    'etl'
"""

from __future__ import annotations

from .execution import (
    FAILED,
    MAX_ERROR,
    SKIPPED,
    SUCCESS,
    TaskContext,
    TaskExecution,
    current_execution,
    error_text,
    record_failed_try,
)
from .pins import trigger_pins
from .registries import ENV_KEYS, cached_registry, default_registry, env_key
from .resolver import (
    PipelineRun,
    Resolver,
    Upstream,
    UpstreamTaskRuns,
    UpstreamTasks,
    resolver_for,
)
from .spec import (
    InputSpec,
    OutputSpec,
    check_overlap,
    check_parameters,
    normalize_inputs,
    normalize_outputs,
    output_to_dict,
)

__all__ = [
    "ENV_KEYS",
    "FAILED",
    "MAX_ERROR",
    "SKIPPED",
    "SUCCESS",
    "InputSpec",
    "OutputSpec",
    "PipelineRun",
    "Resolver",
    "TaskContext",
    "TaskExecution",
    "Upstream",
    "UpstreamTaskRuns",
    "UpstreamTasks",
    "cached_registry",
    "check_overlap",
    "check_parameters",
    "current_execution",
    "default_registry",
    "env_key",
    "error_text",
    "normalize_inputs",
    "normalize_outputs",
    "output_to_dict",
    "record_failed_try",
    "resolver_for",
    "trigger_pins",
]

"""Airflow listener: records artifact-aware task-instance tries the operator could not record.

An artifact-aware operator records its own registry run (used/produced versions, SUCCESS or
FAILED). A try can also fail before the operator's ``execute`` starts (template rendering, an
inactive asset, a failing ``pre_execute``): this listener then records a FAILED run with the
error, so every failed try of an artifact-aware task is visible in the registry. It also writes
the final Airflow state of the try into the run's info when the operator recorded it.

Listeners run in the task process (and in-process under ``dag.test()``).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

__all__ = ["on_task_instance_failed", "on_task_instance_success", "record_failed_try"]

log = logging.getLogger(__name__)


def _is_artifact_task(task: Any) -> bool:
    return hasattr(task, "artiflow_inputs") or hasattr(task, "artiflow_outputs")


def record_failed_try(task_instance: Any, error: BaseException | str | None) -> Any:
    """Record a FAILED registry run for a try the operator did not record; return it or None.

    Example:
        >>> record_failed_try(ti, "boom")  # doctest: +SKIP
    """
    task = getattr(task_instance, "task", None)
    if task is None or not _is_artifact_task(task):
        return None
    ta = getattr(task, "_artiflow", None)
    if ta is not None and ta.run is not None:
        return None  # the operator recorded this try itself
    from artiflow._tasking import record_failed_try as record
    from artiflow.operators import get_registry
    from artiflow.operators._runtime import airflow_task_context

    context = airflow_task_context(
        None,
        task_instance,
        info={"operator": type(task).__name__, "recorded_by": "listener"},
    )
    return record(context, get_registry(), error)


@hookimpl
def on_task_instance_failed(previous_state: Any, task_instance: Any, error: Any) -> None:
    """Record a failed try of an artifact-aware task that never reached its registry run."""
    try:
        record_failed_try(task_instance, error)
    except Exception:  # a listener must never break the task's own failure handling
        log.exception("artiflow listener: could not record the failed try")


@hookimpl
def on_task_instance_success(previous_state: Any, task_instance: Any) -> None:
    """Nothing to add: a successful artifact-aware try recorded its run in ``execute``."""
    return None

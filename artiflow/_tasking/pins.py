"""Trigger pins from the versions that started a pipeline run (both adapters build them here).

An Airflow DAG run scheduled on artiflow assets may merge several asset events into one run,
and a Prefect event carries one version: either way the adapter passes every triggering version
ref and gets ``{"project/name": "project/name:vN"}`` with the NEWEST version per collection
(``TaskContext.trigger_pins``); the adapter records all of them on the run's info.

Example:
    >>> trigger_pins(["bike-training-set:v1", "default/bike-training-set:v3", "team/m:v0"])
    {'default/bike-training-set': 'default/bike-training-set:v3', 'team/m': 'team/m:v0'}
"""

from __future__ import annotations

from collections.abc import Iterable

from artiflow.exceptions import InvalidRefError
from artiflow.refs import is_version_index, parse_ref

__all__ = ["trigger_pins"]


def trigger_pins(refs: Iterable[str], default_project: str = "default") -> dict[str, str]:
    """``{"project/name": "project/name:vN"}``: the newest of ``refs`` per collection.

    Every ref must name a version index (``name:vN``): an event names what was logged.

    Example:
        >>> trigger_pins(["ds:v2", "ds:v1"])
        {'default/ds': 'default/ds:v2'}
    """
    newest: dict[str, int] = {}
    for ref in refs:
        r = parse_ref(ref, default_project)
        if not is_version_index(r.selector):
            raise InvalidRefError(
                f"trigger pin {ref!r} must name a version ('name:v3'), not {r.selector!r}"
            )
        key, index = f"{r.project}/{r.name}", int(r.selector[1:])
        newest[key] = max(index, newest.get(key, index))
    return {key: f"{key}:v{index}" for key, index in newest.items()}

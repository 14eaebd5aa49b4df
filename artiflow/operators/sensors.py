"""``ArtifactSensor`` (and its trigger): wait for a new version or for an alias to move.

* ``ref="bike-dataset"`` (or ``:latest``) waits for a version newer than the baseline;
* ``ref="churn-model:production"`` waits until ``production`` points elsewhere than the baseline.

The baseline is ``since`` when given (a version such as ``"v3"``, templated), else what the ref
resolves to when the sensor starts (``None`` when nothing exists yet: then any version counts).
With ``deferrable=True`` the waiting happens in the triggerer (:class:`ArtifactTrigger`), which
polls the registry without holding a worker slot. The sensor returns the new version's ref
(pushed to XCom).

Example:
    >>> ArtifactSensor(task_id="wait", ref="churn-model:production", deferrable=True,
    ...                poke_interval=30)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.triggers.base import BaseTrigger, TriggerEvent

from artiflow.refs import parse_ref

from ._registry import get_registry, registry_identity
from .assets import alias_asset, artifact_asset

__all__ = ["ArtifactSensor", "ArtifactTrigger", "check_artifact"]


def _current(ref: str, conn_id: str | None = None) -> dict[str, Any] | None:
    from artiflow.exceptions import ArtifactNotFoundError

    try:
        v = get_registry(conn_id).get(ref)
    except ArtifactNotFoundError:
        return None
    return {"ref": v.ref, "version": v.version, "index": v.index, "digest": v.digest}


def check_artifact(
    ref: str, baseline: str | None, conn_id: str | None = None
) -> dict[str, Any] | None:
    """Return the version ``ref`` resolves to if it differs from (or is newer than) ``baseline``.

    ``baseline`` is a version string (``"v3"``) or None. For ``latest`` a version counts as new
    when its index is greater; for an alias, when it points to another version.

    Example:
        >>> check_artifact("no-such-collection", None) is None  # doctest: +SKIP
        True
    """
    cur = _current(ref, conn_id)
    if cur is None:
        return None
    if baseline is None:
        return cur
    r = parse_ref(ref)
    base_index = int(baseline.rsplit(":", 1)[-1].lstrip("v"))
    if r.is_latest:
        return cur if cur["index"] > base_index else None
    return cur if cur["index"] != base_index else None


class ArtifactTrigger(BaseTrigger):
    """Polls the registry in the triggerer until :func:`check_artifact` finds a change.

    Example:
        >>> ArtifactTrigger(ref="ds", baseline="v1").serialize()[0]
        'artiflow.operators.sensors.ArtifactTrigger'
    """

    def __init__(
        self,
        ref: str,
        baseline: str | None,
        poll_interval: float = 30.0,
        artiflow_conn_id: str | None = None,
    ) -> None:
        super().__init__()
        self.artiflow_conn_id = artiflow_conn_id
        self.ref = ref
        self.baseline = baseline
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "ref": self.ref,
                "baseline": self.baseline,
                "poll_interval": self.poll_interval,
                "artiflow_conn_id": self.artiflow_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            found = await asyncio.to_thread(
                check_artifact, self.ref, self.baseline, self.artiflow_conn_id
            )
            if found is not None:
                yield TriggerEvent({"status": "success", **found})
                return
            await asyncio.sleep(self.poll_interval)


class ArtifactSensor(BaseSensorOperator):
    """Wait for a new version of a collection, or for an alias to move (see the module doc).

    Example:
        >>> ArtifactSensor(task_id="wait", ref="bike-dataset", since="v4")  # doctest: +SKIP
    """

    template_fields: Sequence[str] = ("since",)
    ui_color = "#e8f8f5"

    def __init__(
        self,
        *,
        ref: str,
        since: str | None = None,
        deferrable: bool = False,
        artiflow_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        r = parse_ref(ref)
        ident = registry_identity(artiflow_conn_id)
        if r.version_index is not None:
            raise ValueError(f"ArtifactSensor: {ref!r} names a fixed version; wait on an alias")
        inlet = (
            artifact_asset(f"{r.project}/{r.name}", registry=ident)
            if r.is_latest
            else alias_asset(f"{r.project}/{r.name}", r.selector, registry=ident)
        )
        kwargs["inlets"] = [*(kwargs.get("inlets") or []), inlet]
        super().__init__(**kwargs)
        self.ref = ref
        self.since = since
        self.deferrable = deferrable
        self.artiflow_conn_id = artiflow_conn_id
        self._baseline: str | None = None
        self._baseline_set = False

    def _get_baseline(self) -> str | None:
        if not self._baseline_set:
            if self.since:
                self._baseline = str(self.since)
            else:
                cur = _current(self.ref, self.artiflow_conn_id)
                self._baseline = cur["version"] if cur else None
            self._baseline_set = True
        return self._baseline

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        baseline = self._get_baseline()
        found = check_artifact(self.ref, baseline, self.artiflow_conn_id) if self.since else None
        if found is not None:
            return found["ref"]
        self.defer(
            trigger=ArtifactTrigger(
                self.ref,
                baseline,
                poll_interval=self.poke_interval,
                artiflow_conn_id=self.artiflow_conn_id,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) if self.timeout else None,
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger fired: return the new version's ref."""
        if not event or event.get("status") != "success":
            raise RuntimeError(f"ArtifactSensor: trigger ended without a new version: {event!r}")
        self.log.info("artiflow: %s now resolves to %s", self.ref, event["ref"])
        return str(event["ref"])

    def poke(self, context: Any) -> bool | PokeReturnValue:
        baseline = self._get_baseline()
        found = check_artifact(self.ref, baseline, self.artiflow_conn_id)
        if found is None:
            return False
        return PokeReturnValue(is_done=True, xcom_value=found["ref"])

"""``LogArtifactOperator`` and ``PromoteArtifactOperator``.

Example:
    >>> log = LogArtifactOperator(task_id="log", name="bike-dataset", path="/data/out")  # doctest: +SKIP
    >>> gate = PromoteArtifactOperator(task_id="promote", ref="churn-model", alias="production",
    ...                                metric="auc", threshold=0.8)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowSkipException

from artiflow.refs import parse_ref, validate_alias

from ._registry import registry_identity
from .assets import alias_asset
from .base import ArtifactOperator

__all__ = ["LogArtifactOperator", "PromoteArtifactOperator"]

log = logging.getLogger(__name__)


class LogArtifactOperator(ArtifactOperator):
    """Log a local file, a folder, or a reference URI as a new version of ``name``.

    ``path`` is templated; a ``scheme://`` path is recorded as a reference (not copied).
    The operator returns the ref of the version (``project/name:vN``).

    Example:
        >>> op = LogArtifactOperator(task_id="log", name="rides", path="/tmp/rides.csv",
        ...                          aliases=["raw"])  # doctest: +SKIP
    """

    template_fields: Sequence[str] = ("path", "description", "entry_name")

    def __init__(
        self,
        *,
        name: str,
        path: str | os.PathLike[str],
        type: str = "dataset",
        aliases: Sequence[str] = (),
        tags: Sequence[str] = (),
        metadata: dict[str, Any] | None = None,
        description: str | None = None,
        entry_name: str | None = None,
        inputs: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        output = {
            "name": name,
            "type": type,
            "aliases": list(aliases),
            "tags": list(tags),
            "metadata": dict(metadata or {}),
            "description": description,
        }
        super().__init__(inputs=inputs, outputs={"artifact": output}, **kwargs)
        self.name = name
        self.path = str(path)
        self.description = description
        self.entry_name = entry_name

    def execute_artifacts(
        self, context: Any, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> str:
        draft = outputs["artifact"]
        if self.description:
            draft.description = self.description
        if "://" in self.path:
            draft.add_reference(self.path, name=self.entry_name)
        else:
            p = Path(self.path)
            if p.is_dir():
                draft.add_dir(p, name=self.entry_name)
            elif p.is_file():
                draft.add_file(p, name=self.entry_name)
            else:
                raise FileNotFoundError(f"LogArtifactOperator: {self.path!r} does not exist")
        return self.path

    def execute(self, context: Any) -> Any:
        super().execute(context)
        return self.artiflow.produced["artifact"].ref


class PromoteArtifactOperator(ArtifactOperator):
    """Move ``alias`` to a version, optionally only if a metric passes a threshold (a gate).

    ``ref`` is resolved like an input (``model`` / ``model:latest`` is pinned to the version an
    upstream task produced in this DAG run). With ``metric``, the version's
    ``metadata[metric]`` must be ``>= threshold`` (``higher_is_better=True``) or ``<=`` it;
    with ``compare_to_current=True`` it must also be at least as good as the version that
    holds ``alias`` now. When the gate fails the task is skipped (``on_fail="skip"``, default)
    or fails (``on_fail="fail"``); nothing moves. A metric gate is recorded on the version as
    a check (``version.add_check(check_name or metric, passed, details)``, before the alias
    moves), so a protected alias (``Registry.protect(..., require_checks=("auc",))``) accepts
    what the gate passed. The alias move emits an asset event on
    ``x-artiflow://<registry>/<project>/<name>/alias/<alias>``.

    Returns ``{"ref", "alias", "promoted", "metric", "value"}``.

    Example:
        >>> PromoteArtifactOperator(task_id="promote", ref="churn-model", alias="production",
        ...                         metric="auc", threshold=0.8)  # doctest: +SKIP
    """

    template_fields: Sequence[str] = ("threshold",)
    ui_color = "#fdebd0"

    def __init__(
        self,
        *,
        ref: str,
        alias: str,
        metric: str | None = None,
        threshold: float | None = None,
        higher_is_better: bool = True,
        compare_to_current: bool = False,
        on_fail: str = "skip",
        check_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        validate_alias(alias)
        if on_fail not in ("skip", "fail"):
            raise ValueError("on_fail must be 'skip' or 'fail'")
        r = parse_ref(ref)
        ident = registry_identity(kwargs.get("artiflow_conn_id"))
        outlets = [
            *(kwargs.pop("outlets", None) or []),
            alias_asset(f"{r.project}/{r.name}", alias, registry=ident),
        ]
        super().__init__(
            inputs={"candidate": ref}, outlets=outlets, download_inputs=False, **kwargs
        )
        self.ref = ref
        self.alias = alias
        self.metric = metric
        self.threshold = threshold
        self.higher_is_better = higher_is_better
        self.compare_to_current = compare_to_current
        self.on_fail = on_fail
        self.check_name = check_name

    def _passes(self, value: Any, bound: Any) -> bool:
        return (
            float(value) >= float(bound) if self.higher_is_better else float(value) <= float(bound)
        )

    def _gate(self, version: Any) -> tuple[bool, Any, str]:
        if self.metric is None:
            return True, None, "no gate"
        value = (version.metadata or {}).get(self.metric)
        if value is None:
            return False, None, f"{version.ref} has no metadata[{self.metric!r}]"
        if self.threshold is not None and not self._passes(value, self.threshold):
            return False, value, f"{self.metric}={value} does not pass threshold {self.threshold}"
        if self.compare_to_current:
            reg = self.artiflow.registry
            r = parse_ref(version.ref)
            try:
                current = reg.get(f"{r.project}/{r.name}:{self.alias}")
            except LookupError:
                current = None
            if current is not None and current.ref != version.ref:
                cur = (current.metadata or {}).get(self.metric)
                if cur is not None and not self._passes(value, cur):
                    return (
                        False,
                        value,
                        f"{self.metric}={value} is worse than {current.ref} ({cur})",
                    )
        return True, value, "passed"

    def execute_artifacts(
        self, context: Any, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> dict[str, Any]:
        version = inputs["candidate"]
        ok, value, why = self._gate(version)
        result = {
            "ref": version.ref,
            "alias": self.alias,
            "promoted": ok,
            "metric": self.metric,
            "value": value,
            "reason": why,
        }
        if self.metric is not None:  # the gate, recorded as a check before anything moves
            details = {
                "metric": self.metric,
                "value": value,
                "threshold": self.threshold,
                "higher_is_better": self.higher_is_better,
                "compare_to_current": self.compare_to_current,
                "alias": self.alias,
                "reason": why,
                "task": self.task_id,
                "artiflow_run": self.artiflow.run.id if self.artiflow.run is not None else None,
            }
            version.add_check(self.check_name or self.metric, ok, details)
            result["check"] = self.check_name or self.metric
        if not ok:
            msg = f"not promoting {version.ref} to {self.alias!r}: {why}"
            if self.on_fail == "skip":
                raise AirflowSkipException(msg)
            raise ValueError(msg)
        self.artiflow.registry.alias(version.ref, self.alias, run=self.artiflow.run)
        log.info("artiflow: %s is now %r", version.ref, self.alias)
        return result

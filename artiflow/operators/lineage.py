"""OpenLineage for artifact-aware operators (used when the OpenLineage provider is installed).

The provider calls ``get_openlineage_facets_on_start`` before and
``get_openlineage_facets_on_complete`` / ``_on_failure`` after a task runs. Artiflow answers with
one OpenLineage ``Dataset`` per input and output: namespace ``artiflow://<registry>/<project>``
(see :mod:`artiflow.identity`), name the collection, and, once the task ran, a ``version`` facet naming the exact version used or
produced. Without the provider these methods return ``None`` (nothing is imported eagerly).

Example:
    >>> lineage_datasets({"raw": "bike-rides"}, {}, {}, {})["inputs"][0]["namespace"]  # doctest: +ELLIPSIS
    'artiflow://.../default'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from artiflow.identity import openlineage_dataset
from artiflow.refs import parse_ref

from ._registry import default_project, registry_identity

__all__ = ["OpenLineageMixin", "lineage_datasets"]


def _dataset(ref: str, version: Any | None, registry: str) -> dict[str, Any]:
    r = parse_ref(ref, default_project=default_project())
    namespace, name = openlineage_dataset(registry, r.project, r.name)
    data: dict[str, Any] = {"namespace": namespace, "name": name}
    if version is not None:
        data["version"] = version.version
        data["digest"] = version.digest
    return data


def lineage_datasets(
    inputs: Mapping[str, str],
    outputs: Mapping[str, Mapping[str, Any]],
    used: Mapping[str, Any],
    produced: Mapping[str, Any],
    registry: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Plain-dict OpenLineage datasets of a task: ``{"inputs": [...], "outputs": [...]}``.

    ``used``/``produced`` map parameter names to versions once the task ran (else empty).

    Example:
        >>> lineage_datasets({}, {"m": {"name": "team/model"}}, {}, {})["outputs"]  # doctest: +ELLIPSIS
        [{'namespace': 'artiflow://.../team', 'name': 'model'}]
    """
    ident = registry or registry_identity()
    ins = [_dataset(ref, used.get(p), ident) for p, ref in inputs.items()]
    # inputs recorded at run time without a declaration (e.g. the commit task)
    ins += [_dataset(v.ref, v, ident) for p, v in used.items() if p not in inputs]
    outs = [_dataset(o["name"], produced.get(p), ident) for p, o in outputs.items()]
    return {"inputs": ins, "outputs": outs}


def _operator_lineage(data: dict[str, list[dict[str, Any]]]) -> Any:
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset
        from openlineage.client.facet_v2 import dataset_version_dataset
    except ImportError:  # the provider is not installed
        return None

    from artiflow.openlineage import FACET_KEY, artiflow_facet_class

    facet = artiflow_facet_class()

    def build(d: dict[str, Any]) -> Any:
        facets: dict[str, Any] = {}
        if "version" in d:
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=d["version"]
            )
            # namespace artiflow://<registry>/<project> (artiflow.identity.openlineage_dataset)
            registry, _, project = d["namespace"].split("://", 1)[-1].partition("/")
            facets[FACET_KEY] = facet(
                ref=f"{project}/{d['name']}:{d['version']}",
                version=d["version"],
                digest=d.get("digest"),
                registry=registry,
            )
        return Dataset(namespace=d["namespace"], name=d["name"], facets=facets)

    return OperatorLineage(
        inputs=[build(d) for d in data["inputs"]],
        outputs=[build(d) for d in data["outputs"]],
    )


class OpenLineageMixin:
    """Adds the OpenLineage provider's operator methods to an artifact-aware operator.

    Example:
        >>> OpenLineageMixin.get_openlineage_facets_on_start.__name__
        'get_openlineage_facets_on_start'
    """

    artiflow_inputs: Mapping[str, str]
    artiflow_outputs: Mapping[str, Mapping[str, Any]]

    def artiflow_lineage(self, ran: bool = True) -> dict[str, list[dict[str, Any]]]:
        """Plain-dict datasets; with versions when this process ran the task."""
        ta = getattr(self, "_artiflow", None) if ran else None
        used = dict(ta.inputs) if ta is not None else {}
        produced = dict(ta.produced) if ta is not None else {}
        return lineage_datasets(
            getattr(self, "artiflow_inputs", {}) or {},
            getattr(self, "artiflow_outputs", {}) or {},
            used,
            produced,
            registry_identity(getattr(self, "artiflow_conn_id", None)),
        )

    def get_openlineage_facets_on_start(self) -> Any:
        """OperatorLineage with the declared inputs/outputs (no versions yet)."""
        return _operator_lineage(self.artiflow_lineage(ran=False))

    def get_openlineage_facets_on_complete(self, task_instance: Any = None) -> Any:
        """OperatorLineage with the exact versions used and produced."""
        return _operator_lineage(self.artiflow_lineage())

    def get_openlineage_facets_on_failure(self, task_instance: Any = None) -> Any:
        """OperatorLineage after a failure: inputs with versions, outputs without (none logged)."""
        return _operator_lineage(self.artiflow_lineage())

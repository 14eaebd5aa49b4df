"""OpenLineage ``RunEvent``s of a lineage graph, spec-exact, built with the typed client.

:meth:`artiflow.LineageGraph.to_openlineage` delegates here. With ``openlineage-python``
installed (the ``openlineage`` extra, also installed by Airflow's OpenLineage provider) every
event is built with ``openlineage.client.event_v2`` and serialised by its ``Serde``, so the
schema URLs are the client's own (``...OpenLineage.json#/$defs/RunEvent``, facet
``_schemaURL`` with its ``#/$defs/<Facet>`` fragment). Without it the same dicts are written
by hand.

Each dataset is a collection (namespace ``artiflow://<registry>/<project>``, name the
collection, see :mod:`artiflow.identity`) with a ``version`` facet and a custom ``artiflow``
facet: the exact version's ref and content digest, and the registry identity.

Jobs join the events of Airflow's OpenLineage provider for the same task: a run recorded by an
Airflow task is job ``<dag_id>.<task_id>`` in the provider's namespace (``$OPENLINEAGE_NAMESPACE``
or Airflow's ``[openlineage] namespace`` through ``AIRFLOW__OPENLINEAGE__NAMESPACE``, default
``default``). Other runs keep ``artiflow://<orchestrator>`` and ``<pipeline>.<task>``.

This is core code: it never imports Airflow; the OpenLineage client is optional.

Example:
    >>> from artiflow.lineage import LineageGraph
    >>> run_events(LineageGraph(root="version:1"))
    []
    >>> job_of({"orchestrator": "airflow", "pipeline": "nightly", "task": "build"}, "prod")
    ('prod', 'nightly.build')
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from typing import Any

__all__ = [
    "ARTIFLOW_FACET_SCHEMA_URL",
    "PRODUCER",
    "RUN_EVENT_SCHEMA_URL",
    "VERSION_FACET_SCHEMA_URL",
    "airflow_namespace",
    "artiflow_facet",
    "job_of",
    "run_events",
    "typed_client_available",
]

PRODUCER = "https://github.com/artiflow/artiflow"
RUN_EVENT_SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
VERSION_FACET_SCHEMA_URL = (
    "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
    "#/$defs/DatasetVersionDatasetFacet"
)
#: the JSON schema of the custom ``artiflow`` dataset facet (docs/airflow.md describes it)
ARTIFLOW_FACET_SCHEMA_URL = (
    "https://github.com/artiflow/artiflow/blob/main/docs/openlineage/ArtiflowDatasetFacet.json"
    "#/$defs/ArtiflowDatasetFacet"
)
#: the key of the custom facet in a dataset's ``facets``
FACET_KEY = "artiflow"

_STATES = {"SUCCESS": "COMPLETE", "FAILED": "FAIL", "RUNNING": "RUNNING", "SKIPPED": "ABORT"}


def typed_client_available() -> bool:
    """Whether ``openlineage-python`` (the typed client) is importable.

    Example:
        >>> isinstance(typed_client_available(), bool)
        True
    """
    try:
        import openlineage.client.event_v2  # noqa: F401
    except ImportError:
        return False
    return True


def airflow_namespace() -> str:
    """The job namespace of Airflow's OpenLineage provider, read as the provider reads it
    (``AIRFLOW__OPENLINEAGE__NAMESPACE``, then ``OPENLINEAGE_NAMESPACE``, else ``default``),
    from the environment only.

    Example:
        >>> isinstance(airflow_namespace(), str)
        True
    """
    return (
        os.environ.get("AIRFLOW__OPENLINEAGE__NAMESPACE")
        or os.environ.get("OPENLINEAGE_NAMESPACE")
        or "default"
    )


def job_of(run: dict[str, Any], namespace: str | None = None) -> tuple[str, str]:
    """``(job namespace, job name)`` of a run node; ``namespace`` overrides the namespace of
    Airflow runs (default :func:`airflow_namespace`).

    Example:
        >>> job_of({"orchestrator": "prefect", "pipeline": "etl", "task": "load", "name": "x"})
        ('artiflow://prefect', 'etl.load')
    """
    orchestrator = run.get("orchestrator") or "manual"
    name = ".".join(str(x) for x in (run.get("pipeline"), run.get("task") or run.get("name")) if x)
    if orchestrator == "airflow" and run.get("pipeline") and run.get("task"):
        return namespace or airflow_namespace(), name
    return f"artiflow://{orchestrator}", name


def artiflow_facet(node: dict[str, Any], registry: str) -> dict[str, Any]:
    """The custom facet's fields for a version node: ref, version, digest, registry.

    Example:
        >>> artiflow_facet({"ref": "default/ds:v1", "version": "v1", "digest": "ab"}, "prod")
        {'ref': 'default/ds:v1', 'version': 'v1', 'digest': 'ab', 'registry': 'prod'}
    """
    return {
        "ref": node.get("ref"),
        "version": node.get("version"),
        "digest": node.get("digest"),
        "registry": registry,
    }


def _uuid_of(hex_id: str) -> str:
    try:
        return str(uuid.UUID(hex_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, hex_id))


def _time(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else datetime.now().astimezone().isoformat()


def _datasets(graph: Any, run: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    inputs = [graph.nodes[s] for s, t, k in graph.edges if t == run["id"] and k == "used"]
    outputs = [graph.nodes[t] for s, t, k in graph.edges if s == run["id"] and k == "logged"]
    return inputs, outputs


def run_events(
    graph: Any,
    producer: str = PRODUCER,
    registry: Any = None,
    *,
    job_namespace: str | None = None,
    typed: bool | None = None,
) -> list[dict[str, Any]]:
    """One OpenLineage ``RunEvent`` (a JSON-ready dict) per run of ``graph``.

    ``registry`` is a Registry or its identity (default: the environment's); ``job_namespace``
    overrides the namespace of Airflow jobs; ``typed`` forces (True) or avoids (False) the
    typed client (default: use it when installed).

    Example:
        >>> from artiflow.lineage import LineageGraph
        >>> run_events(LineageGraph(root="version:1"), typed=False)
        []
    """
    from .identity import registry_identity

    ident = registry_identity(registry)
    use_typed = typed_client_available() if typed is None else typed
    events = []
    for run in graph.runs():
        inputs, outputs = _datasets(graph, run)
        state = _STATES.get(run.get("state", ""), "OTHER")
        namespace, name = job_of(run, job_namespace)
        when = _time(run.get("ended_at") or run.get("started_at"))
        run_id = _uuid_of(str(run["id"])[4:])
        build = _typed_event if use_typed else _plain_event
        events.append(build(state, when, producer, run_id, namespace, name, inputs, outputs, ident))
    return events


def _dataset_ns(node: dict[str, Any], registry: str) -> tuple[str, str]:
    from .identity import openlineage_dataset

    return openlineage_dataset(registry, node["project"], node["name"])


def _plain_event(
    state: str,
    when: str,
    producer: str,
    run_id: str,
    namespace: str,
    name: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    registry: str,
) -> dict[str, Any]:
    def dataset(node: dict[str, Any], io_facets: str) -> dict[str, Any]:
        ns, ds = _dataset_ns(node, registry)
        return {
            io_facets: {},
            "namespace": ns,
            "name": ds,
            "facets": {
                "version": {
                    "_producer": producer,
                    "_schemaURL": VERSION_FACET_SCHEMA_URL,
                    "datasetVersion": node["version"],
                },
                FACET_KEY: {
                    "_producer": producer,
                    "_schemaURL": ARTIFLOW_FACET_SCHEMA_URL,
                    **artiflow_facet(node, registry),
                },
            },
        }

    return {
        "eventTime": when,
        "producer": producer,
        "schemaURL": RUN_EVENT_SCHEMA_URL,
        "eventType": state,
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": namespace, "name": name, "facets": {}},
        "inputs": [dataset(n, "inputFacets") for n in inputs],
        "outputs": [dataset(n, "outputFacets") for n in outputs],
    }


_FACET_CLASS: Any = None


def artiflow_facet_class() -> Any:
    """The typed client's facet class of the custom ``artiflow`` dataset facet (built once;
    needs ``openlineage-python``).

    Example:
        >>> cls = artiflow_facet_class()  # doctest: +SKIP
        >>> cls(ref="default/ds:v1", version="v1", digest="ab", registry="prod")._schemaURL  # doctest: +SKIP
        'https://github.com/artiflow/artiflow/blob/main/docs/openlineage/ArtiflowDatasetFacet.json#/$defs/ArtiflowDatasetFacet'
    """
    global _FACET_CLASS
    if _FACET_CLASS is None:
        import attr
        from openlineage.client.facet_v2 import DatasetFacet

        @attr.define
        class ArtiflowDatasetFacet(DatasetFacet):  # type: ignore[misc]
            """The exact artiflow version of a dataset: ref, version, content digest and the
            identity of the registry that holds it."""

            ref: str | None = attr.field(default=None)
            version: str | None = attr.field(default=None)
            digest: str | None = attr.field(default=None)
            registry: str | None = attr.field(default=None)

            @staticmethod
            def _get_schema() -> str:
                return ARTIFLOW_FACET_SCHEMA_URL

        _FACET_CLASS = ArtiflowDatasetFacet
    return _FACET_CLASS


def _typed_event(
    state: str,
    when: str,
    producer: str,
    run_id: str,
    namespace: str,
    name: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    registry: str,
) -> dict[str, Any]:
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import dataset_version_dataset
    from openlineage.client.serde import Serde

    facet = artiflow_facet_class()

    def facets(node: dict[str, Any]) -> dict[str, Any]:
        return {
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=node["version"], producer=producer
            ),
            FACET_KEY: facet(**artiflow_facet(node, registry), producer=producer),
        }

    event = RunEvent(
        eventType=RunState(state),
        eventTime=when,
        run=Run(runId=run_id),
        job=Job(namespace=namespace, name=name),
        producer=producer,
        inputs=[InputDataset(*_dataset_ns(n, registry), facets=facets(n)) for n in inputs],
        outputs=[OutputDataset(*_dataset_ns(n, registry), facets=facets(n)) for n in outputs],
    )
    out: dict[str, Any] = Serde.to_dict(event)
    return out

"""The web API's JSON shapes, built on :mod:`artiflow.serialize` (what ``to_dict`` and lineage
nodes use) over the core's own types: :class:`~artiflow.ArtifactVersion`, :class:`~artiflow.Run`,
the catalog's :class:`~artiflow.catalog.CollectionRecord`, :class:`~artiflow.records.AliasEvent`
and :class:`~artiflow.LineageGraph`. No FastAPI here; the response models in ``_models`` pick
the fields each answer carries.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> registry = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("ds")
    >>> with draft.new_file("a.csv") as f:
    ...     _ = f.write("a")
    >>> v = registry.log(draft)
    >>> version_summary(v)["ref"], etag(v)
    ('default/ds:v0', '"v0.r0"')
    >>> node = lineage_dict(registry.lineage(v), root_ref=v.ref, direction="upstream", depth=None)
    >>> node["nodes"][0]["label"], node["nodes"][0]["sublabel"]
    ('ds:v0', 'dataset · latest')
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import serialize

if TYPE_CHECKING:
    from ..catalog import CollectionRecord
    from ..lineage import LineageGraph
    from ..records import AliasEvent
    from ..runs import Run
    from ..version import ArtifactVersion

__all__ = [
    "alias_event_dict",
    "collection_dict",
    "etag",
    "jsonable",
    "lineage_dict",
    "lineage_edge",
    "lineage_node",
    "pinned_ref",
    "run_dict",
    "version_summary",
]

#: the fields of a version in a list (``VersionOut``): its ``to_dict`` without metadata/count
SUMMARY_KEYS = (
    "ref",
    "project",
    "name",
    "version",
    "index",
    "type",
    "state",
    "digest",
    "size",
    "created_at",
    "aliases",
    "tags",
    "semver",
    "description",
    "linked",
    "revision",
)


def jsonable(value: Any) -> Any:
    """Metadata values as JSON: containers recursively, datetimes as ISO text, rest as ``str``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, _dt.datetime):
        return serialize.iso(value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc))
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def pinned_ref(version: ArtifactVersion) -> str:
    """``project/name:vN`` of a version (what links and downloads use)."""
    return version.ref


def version_summary(version: ArtifactVersion) -> dict[str, Any]:
    """The list view of a version (:meth:`ArtifactVersion.to_dict`'s fields in
    :data:`SUMMARY_KEYS`); never touches the manifest."""
    full = version.to_dict()
    return {key: full[key] for key in SUMMARY_KEYS}


def etag(version: ArtifactVersion) -> str:
    """The ETag of a version's editable state: ``"v3.r7"`` (version and revision)."""
    return f'"{version.version}.r{version.revision}"'


def run_dict(run: Run) -> dict[str, Any]:
    """A run's recorded facts (:meth:`Run.to_dict`)."""
    return run.to_dict()


def collection_dict(collection: CollectionRecord) -> dict[str, Any]:
    """A collection (``Registry.collections()`` item): :func:`artiflow.serialize.collection_dict`
    (the answer's model picks its fields)."""
    return serialize.collection_dict(collection)


def alias_event_dict(event: AliasEvent) -> dict[str, Any]:
    """One alias move (``Registry.alias_history()`` item)."""
    return {**event.to_dict(), "at": serialize.iso(event.at)}


# --- lineage -------------------------------------------------------------------------------
def lineage_node(node: Mapping[str, Any]) -> dict[str, Any]:
    """A lineage node (:func:`artiflow.serialize.version_node` / :func:`~artiflow.serialize.
    run_node`) with the fields the browser needs to label it and link to it."""
    if node["kind"] == "run":
        run_id = node["run_id"]
        pipeline, task, orchestrator = node["pipeline"], node["task"], node["orchestrator"]
        where = ".".join(str(p) for p in (pipeline, task) if p) or None
        name = node["name"] if node["name"] is not None else task
        return {
            "id": node["id"],
            "kind": "run",
            "label": str(name or run_id),
            "sublabel": " · ".join(str(p) for p in (orchestrator, where) if p) or None,
            "state": node["state"],
            "run_id": run_id,
            "orchestrator": orchestrator,
            "pipeline": pipeline,
            "task": task,
            "started_at": node["started_at"],
        }
    aliases = [str(a) for a in node["aliases"] if a]
    sub = ([str(node["type"])] if node["type"] else []) + aliases
    return {
        "id": node["id"],
        "kind": "version",
        "label": f"{node['name']}:{node['version']}",
        "sublabel": " · ".join(sub) or None,
        "ref": node["ref"],
        "project": node["project"],
        "name": node["name"],
        "version": node["version"],
        "type": node["type"],
        "aliases": aliases,
        "state": node["state"],
    }


def lineage_edge(edge: tuple[str, str, str]) -> dict[str, Any]:
    """A ``(source, target, kind)`` edge of a :class:`~artiflow.LineageGraph`."""
    source, target, kind = edge
    return {"source": source, "target": target, "kind": kind}


def lineage_dict(
    graph: LineageGraph, *, root_ref: str, direction: str, depth: int | None
) -> dict[str, Any]:
    """The lineage graph in the UI's stable shape (see ``LineageOut``); ``root_ref`` names the
    root version (the graph's root is its node id)."""
    nodes = [lineage_node(n) for n in graph.nodes.values()]
    ids = {n["id"] for n in nodes}
    edges = [lineage_edge(e) for e in graph.edges if e[0] in ids and e[1] in ids]
    return {
        "root": graph.root,
        "direction": direction,
        "depth": depth,
        "nodes": nodes,
        "edges": edges,
    }

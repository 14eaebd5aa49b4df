"""Turn core value objects (versions, runs, lineage graphs) into plain JSON-able dicts.

Pure functions over the public attributes listed in the core contract; no FastAPI here.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Iterable, Mapping
from typing import Any


def iso(value: Any) -> str | None:
    """ISO 8601 text for a datetime (UTC assumed when naive), ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def text(value: Any) -> str | None:
    """``str`` of an enum value or any scalar; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        value = value.value
    return str(value)


def jsonable(value: Any) -> Any:
    """Metadata values as JSON: containers recursively, datetimes as ISO text, rest as ``str``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return iso(value)
    return str(value)


def pinned_ref(version: Any) -> str:
    """``project/name:vN`` of a version (what links and downloads use)."""
    return f"{version.project}/{version.collection}:{version.version}"


def version_summary(version: Any) -> dict[str, Any]:
    """The list view of a version; never touches the manifest."""
    semver = getattr(version, "semver", None)
    return {
        "ref": pinned_ref(version),
        "project": version.project,
        "name": version.collection,
        "version": version.version,
        "index": version.index,
        "type": getattr(version, "type", None),
        "state": text(getattr(version, "state", None)),
        "digest": getattr(version, "digest", None),
        "size": getattr(version, "size", None),
        "created_at": iso(getattr(version, "created_at", None)),
        "aliases": list(getattr(version, "aliases", None) or ()),
        "tags": list(getattr(version, "tags", None) or ()),
        "semver": None if semver is None else str(semver),
        "description": getattr(version, "description", None),
        "linked": _linked_ref(version),
        "revision": getattr(version, "revision", None),
    }


def etag(version: Any) -> str:
    """The ETag of a version's editable state: ``"v3.r7"`` (version and revision)."""
    return f'"{version.version}.r{getattr(version, "revision", 0)}"'


def _linked_ref(version: Any) -> str | None:
    if not getattr(version, "is_link", False):
        return None
    target = getattr(version, "linked_version", None)
    return None if target is None else pinned_ref(target)


def run_dict(run: Any) -> dict[str, Any]:
    """A run's recorded facts."""
    return {
        "id": str(run.id),
        "name": getattr(run, "name", None),
        "orchestrator": getattr(run, "orchestrator", None),
        "pipeline": getattr(run, "pipeline", None),
        "pipeline_run": getattr(run, "pipeline_run", None),
        "task": getattr(run, "task", None),
        "try_number": getattr(run, "try_number", None),
        "map_index": getattr(run, "map_index", None),
        "host": getattr(run, "host", None),
        "state": text(getattr(run, "state", None)),
        "started_at": iso(getattr(run, "started_at", None)),
        "ended_at": iso(getattr(run, "ended_at", None)),
        "info": jsonable(getattr(run, "info", None) or {}),
        "error": text(getattr(run, "error", None)),
    }


def collection_dict(collection: Any) -> dict[str, Any]:
    """A collection row (``Registry.collections()`` item)."""
    return {
        "project": collection.project,
        "name": collection.name,
        "type": getattr(collection, "type", None),
        "kind": text(getattr(collection, "kind", None)),
        "description": getattr(collection, "description", None),
        "created_at": iso(getattr(collection, "created_at", None)),
        "version_count": getattr(collection, "version_count", None),
    }


def alias_event_dict(event: Any) -> dict[str, Any]:
    """One alias move (``Registry.alias_history()`` item: an object or a dict)."""
    return {
        "alias": str(_field(event, "alias")),
        "version": text(_field(event, "version")),
        "previous": text(_field(event, "previous")),
        "at": iso(_field(event, "at")),
        "run_id": text(_field(event, "run_id")),
    }


# --- lineage -------------------------------------------------------------------------------


def _field(node: Any, *names: str) -> Any:
    for name in names:
        if isinstance(node, Mapping):
            if node.get(name) is not None:
                return node[name]
        elif getattr(node, name, None) is not None:
            return getattr(node, name)
    return None


def _split_ref(ref: str) -> tuple[str | None, str | None, str | None]:
    project = None
    rest = ref
    if "/" in rest:
        project, rest = rest.split("/", 1)
    name, _, version = rest.partition(":")
    return project, name or None, version or None


def lineage_node(node: Any) -> dict[str, Any]:
    """A lineage node with the fields the browser needs to label it and link to it."""
    kind = text(_field(node, "kind")) or "version"
    node_id = str(_field(node, "id"))
    if kind == "run":
        run_id = text(_field(node, "run_id", "uuid")) or node_id.removeprefix("run:")
        name = _field(node, "name", "task") or run_id
        pipeline = _field(node, "pipeline")
        task = _field(node, "task")
        where = ".".join(str(p) for p in (pipeline, task) if p) or None
        orchestrator = _field(node, "orchestrator")
        return {
            "id": node_id,
            "kind": "run",
            "label": str(name),
            "sublabel": " · ".join(str(p) for p in (orchestrator, where) if p) or None,
            "state": text(_field(node, "state")),
            "run_id": run_id,
            "orchestrator": orchestrator,
            "pipeline": pipeline,
            "task": task,
            "started_at": iso(_field(node, "started_at")),
        }
    ref = _field(node, "ref")
    project = _field(node, "project")
    name = _field(node, "name", "collection")
    version = _field(node, "version")
    if ref is not None:
        r_project, r_name, r_version = _split_ref(str(ref))
        project, name, version = project or r_project, name or r_name, version or r_version
    if version is None and _field(node, "index") is not None:
        version = f"v{_field(node, 'index')}"
    if ref is None or project is None:
        ref = f"{project or 'default'}/{name}:{version}"
        project = project or "default"
    else:
        ref = f"{project}/{name}:{version}"
    node_type = _field(node, "type")
    aliases = [a for a in (_field(node, "aliases") or ()) if a]
    sub = [str(node_type)] if node_type else []
    sub += [a for a in aliases]
    return {
        "id": node_id,
        "kind": "version",
        "label": f"{name}:{version}",
        "sublabel": " · ".join(sub) or None,
        "ref": str(ref),
        "project": project,
        "name": name,
        "version": version,
        "type": node_type,
        "aliases": [str(a) for a in aliases],
        "state": text(_field(node, "state")),
    }


def lineage_edge(edge: Any) -> dict[str, Any]:
    """``(src, dst, kind)`` tuples or ``{"source"/"src", "target"/"dst", "kind"}`` dicts."""
    if isinstance(edge, Mapping):
        source = _field(edge, "source", "src", "from")
        target = _field(edge, "target", "dst", "to")
        kind = _field(edge, "kind", "type")
    else:
        items = list(edge)
        source, target = items[0], items[1]
        kind = items[2] if len(items) > 2 else None
    return {"source": str(source), "target": str(target), "kind": text(kind)}


def lineage_dict(graph: Any, *, root_ref: str, direction: str, depth: int | None) -> dict[str, Any]:
    """The lineage graph in the UI's stable shape (see ``LineageOut``)."""
    raw_nodes: Iterable[Any] = getattr(graph, "nodes", None) or []
    if isinstance(raw_nodes, Mapping):  # id -> node
        raw_nodes = raw_nodes.values()
    raw_edges: Iterable[Any] = getattr(graph, "edges", None) or []
    nodes = [lineage_node(n) for n in raw_nodes]
    ids = {n["id"] for n in nodes}
    edges = [
        e for e in (lineage_edge(e) for e in raw_edges) if e["source"] in ids and e["target"] in ids
    ]
    root = getattr(graph, "root", None)
    if root is None:
        root = next((n["id"] for n in nodes if n.get("ref") == root_ref), None)
    return {
        "root": None if root is None else str(root),
        "direction": direction,
        "depth": depth,
        "nodes": nodes,
        "edges": edges,
    }

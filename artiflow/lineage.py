"""Lineage graphs of versions and runs, and their exports (dict/JSON, Mermaid, DOT, OpenLineage).

Nodes are versions (``version:<id>``) and runs (``run:<id>``); edges are ``used`` (version -> run),
``logged`` (run -> version) and ``link`` (a version -> the registry member that links it).

Example:
    >>> g = LineageGraph(root="version:1")
    >>> g.add_node({"id": "version:1", "kind": "version", "ref": "default/ds:v0", "aliases": []})
    >>> print(g.to_mermaid().splitlines()[1])
      version_1[("default/ds:v0")]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .serialize import run_label, run_node, version_node

if TYPE_CHECKING:
    from .catalog import Catalog, VersionRow
    from .serialize import VersionLike

__all__ = ["DIRECTIONS", "LineageGraph", "build", "run_node", "version_node"]

DIRECTIONS = ("upstream", "downstream", "both")


@dataclass
class LineageGraph:
    """A lineage graph rooted at one version."""

    root: str
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)

    def add_node(self, node: dict[str, Any]) -> None:
        self.nodes.setdefault(node["id"], node)

    def add_edge(self, src: str, dst: str, kind: str) -> None:
        edge = (src, dst, kind)
        if edge not in self._edge_set:
            self._edge_set.add(edge)
            self.edges.append(edge)

    @property
    def _edge_set(self) -> set[tuple[str, str, str]]:
        if not hasattr(self, "_edges_seen"):
            self._edges_seen: set[tuple[str, str, str]] = set(self.edges)
        return self._edges_seen

    def versions(self) -> list[dict[str, Any]]:
        """Version nodes."""
        return [n for n in self.nodes.values() if n["kind"] == "version"]

    def runs(self) -> list[dict[str, Any]]:
        """Run nodes."""
        return [n for n in self.nodes.values() if n["kind"] == "run"]

    def to_dict(self) -> dict[str, Any]:
        """``{"root", "nodes": [...], "edges": [{"source","target","kind"}]}``.

        Example:
            >>> LineageGraph(root="version:1").to_dict()["edges"]
            []
        """
        return {
            "root": self.root,
            "nodes": list(self.nodes.values()),
            "edges": [{"source": s, "target": t, "kind": k} for s, t, k in self.edges],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The graph as JSON."""
        return json.dumps(self.to_dict(), indent=indent, default=str)

    @staticmethod
    def _label(node: dict[str, Any]) -> str:
        if node["kind"] == "version":
            aliases = [a for a in node.get("aliases", []) if a != "latest"]
            label = node["ref"] + (f" [{', '.join(aliases)}]" if aliases else "")
        else:  # runs are named the same everywhere (serialize.run_label)
            label = node.get("label") or run_label(_RunFields(node))
        return label.replace('"', "'")

    def to_mermaid(self) -> str:
        """A Mermaid flowchart (versions as cylinders, runs as boxes).

        Example:
            >>> LineageGraph(root="version:1").to_mermaid()
            'graph LR'
        """
        lines = ["graph LR"]
        ids = {nid: nid.replace(":", "_").replace("-", "_") for nid in self.nodes}
        for nid, node in self.nodes.items():
            label = self._label(node)
            if node["kind"] == "version":
                lines.append(f'  {ids[nid]}[("{label}")]')
            else:
                lines.append(f'  {ids[nid]}["{label}"]')
        for s, t, kind in self.edges:
            arrow = "-.->" if kind == "link" else "-->"
            lines.append(f"  {ids[s]} {arrow}|{kind}| {ids[t]}")
        if self.root in ids:
            lines.append(f"  style {ids[self.root]} stroke-width:3px")
        return "\n".join(lines)

    def to_dot(self) -> str:
        """A Graphviz DOT digraph.

        Example:
            >>> LineageGraph(root="version:1").to_dot().splitlines()[0]
            'digraph lineage {'
        """
        lines = ["digraph lineage {", "  rankdir=LR;"]
        for nid, node in self.nodes.items():
            shape = "cylinder" if node["kind"] == "version" else "box"
            extra = ", penwidth=3" if nid == self.root else ""
            lines.append(f'  "{nid}" [label="{self._label(node)}", shape={shape}{extra}];')
        for s, t, kind in self.edges:
            style = ", style=dashed" if kind == "link" else ""
            lines.append(f'  "{s}" -> "{t}" [label="{kind}"{style}];')
        lines.append("}")
        return "\n".join(lines)

    def to_openlineage(
        self, producer: str = "https://github.com/artiflow/artiflow", registry: Any = None
    ) -> list[dict[str, Any]]:
        """One OpenLineage ``RunEvent`` (as a dict) per run in the graph, with its inputs and
        outputs as datasets (namespace ``artiflow://<registry>/<project>``, see
        :mod:`artiflow.identity`; ``registry``: a Registry or its identity, default the
        environment's) carrying their version.

        Example:
            >>> LineageGraph(root="version:1").to_openlineage()
            []
        """
        from .openlineage import run_events  # spec-exact, typed client when installed

        return run_events(self, producer, registry)


class _RunFields:
    """A run node added by hand (without ``label``) read as :func:`run_label` reads a run."""

    def __init__(self, node: dict[str, Any]) -> None:
        self.orchestrator = node.get("orchestrator", "run")
        self.name = node.get("name")
        for key in ("pipeline", "pipeline_run", "task", "try_number", "map_index"):
            setattr(self, key, node.get(key))


def _build_recursive(
    catalog: Catalog, conn: Any, root: VersionRow, direction: str, depth: int | None
) -> LineageGraph:
    """Lineage from one recursive query per direction (no links in the registry)."""
    graph = LineageGraph(root=f"version:{root.id}")
    edges: list[tuple[str, str, str]] = []
    version_ids: set[int] = {root.id}
    run_ids: set[str] = set()
    for way in ("upstream", "downstream") if direction == "both" else (direction,):
        up = way == "upstream"
        if depth == 0:
            continue
        for run_id, near, far in catalog.lineage_edges(
            root.id, upstream=up, depth=depth, conn=conn
        ):
            run_ids.add(run_id)
            version_ids.add(near)
            r, n = f"run:{run_id}", f"version:{near}"
            edges.append((r, n, "logged") if up else (n, r, "used"))
            if far is not None:
                version_ids.add(far)
                f = f"version:{far}"
                edges.append((f, r, "used") if up else (r, f, "logged"))
    # summaries, not records: a graph of 1,000 consumers reads 1,000 versions and 1,000 runs
    rows = catalog.version_summaries(sorted(version_ids - {root.id}), conn)
    runs = catalog.run_summaries(sorted(run_ids), conn)
    graph.add_node(version_node(root))
    for vid in sorted(rows):
        graph.add_node(version_node(rows[vid]))
    for rid in sorted(runs):
        graph.add_node(run_node(runs[rid]))
    for s, t, k in edges:
        if s in graph.nodes and t in graph.nodes:
            graph.add_edge(s, t, k)
    return graph


def build(
    catalog: Catalog, root: VersionRow, direction: str = "upstream", depth: int | None = None
) -> LineageGraph:
    """Walk the graph from ``root``; ``depth`` counts runs between versions (None: unlimited).

    The whole walk runs in one read transaction: one consistent snapshot, and no per-level
    transaction round trips (which dominate on a networked PostgreSQL)."""
    with catalog.read() as conn:
        return _build(catalog, conn, root, direction, depth)


def _link_hops(
    catalog: Catalog,
    conn: Any,
    frontier: list[int],
    seen: set[int],
    up: bool,
    edges: list[tuple[str, str, str]],
) -> list[int]:
    """Versions reached from ``frontier`` through registry links (hops of their own, without
    a run between), adding their ``link`` edges; ``seen`` grows with them."""
    reached: list[int] = []
    link_ids = list(frontier)
    while link_ids:
        current = set(link_ids)
        nxt = []
        for member, target in catalog.links_of(link_ids, conn):
            if up and member in current:
                other = target
            elif not up and target in current:
                other = member
            else:
                continue
            edges.append((f"version:{target}", f"version:{member}", "link"))
            if other not in seen:
                seen.add(other)
                nxt.append(other)
        reached.extend(nxt)
        link_ids = nxt
    return reached


def _build(
    catalog: Catalog, conn: Any, root: VersionRow, direction: str, depth: int | None
) -> LineageGraph:
    if not catalog.has_links(conn):
        return _build_recursive(catalog, conn, root, direction, depth)
    # registry links are hops without a run between: walk level by level
    graph = LineageGraph(root=f"version:{root.id}")
    version_rows: dict[int, VersionLike] = {root.id: root}
    run_ids: set[str] = set()
    edges: list[tuple[str, str, str]] = []
    for way in ("upstream", "downstream") if direction == "both" else (direction,):
        up = way == "upstream"
        frontier: list[int] = [root.id]
        seen: set[int] = {root.id}
        seen_runs: set[str] = set()
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            frontier.extend(_link_hops(catalog, conn, frontier, seen, up, edges))
            step = catalog.io_of_versions(frontier, "logged" if up else "used", conn)
            new_runs = sorted({r for r, _ in step} - seen_runs)
            for r, v in step:
                edges.append(
                    (f"run:{r}", f"version:{v}", "logged")
                    if up
                    else (f"version:{v}", f"run:{r}", "used")
                )
            seen_runs.update(new_runs)
            if not new_runs:
                break
            hop = catalog.io_of_runs(new_runs, "used" if up else "logged", conn)
            frontier = []
            for r, v in hop:
                edges.append(
                    (f"version:{v}", f"run:{r}", "used")
                    if up
                    else (f"run:{r}", f"version:{v}", "logged")
                )
                if v not in seen:
                    seen.add(v)
                    frontier.append(v)
        run_ids |= seen_runs
        missing = [v for v in seen if v not in version_rows]
        version_rows.update(catalog.version_summaries(missing, conn))
    # link targets/members referenced by edges
    referenced = {
        int(x.split(":")[1]) for s, t, _ in edges for x in (s, t) if x.startswith("version:")
    }
    version_rows.update(
        catalog.version_summaries([v for v in referenced if v not in version_rows], conn)
    )
    runs = catalog.run_summaries(sorted(run_ids), conn)
    graph.add_node(version_node(root))
    for vid, row in version_rows.items():
        if vid != root.id:
            graph.add_node(version_node(row))
    for rid in sorted(run_ids):
        if rid in runs:
            graph.add_node(run_node(runs[rid]))
    for s, t, k in edges:
        if s in graph.nodes and t in graph.nodes:
            graph.add_edge(s, t, k)
    return graph

// The lineage graph: a small layered (Sugiyama-style) layout drawn as SVG.
//
// Layers: longest path from the sources (data flows left to right: run -> version -> run).
// Order inside a layer: a few barycenter sweeps to reduce crossings. No dependencies.
//
// Big sets of look-alike siblings (1,000 runs of one task consuming a dataset, the 1,000
// versions they logged) are drawn as one collapsed group node each: `collapse()` below.
// Clicking a group shows GROUP_STEP more of its members as nodes of their own.

import { link, s, truncate } from "./dom.js";

const NODE_W = { version: 196, run: 168, group: 196 };
const NODE_H = { version: 46, run: 40, group: 46 };
const COL_GAP = 56;
const ROW_GAP = 20;
const PAD = 24;
export const GROUP_MIN = 8; // this many look-alike siblings or more are drawn as one group
export const GROUP_STEP = 25; // members one click on a group shows

function adjacency(ids, edges) {
  const succ = new Map(ids.map((id) => [id, []]));
  const pred = new Map(ids.map((id) => [id, []]));
  for (const e of edges) {
    if (!succ.has(e.source) || !succ.has(e.target) || e.source === e.target) continue;
    succ.get(e.source).push(e.target);
    pred.get(e.target).push(e.source);
  }
  return { succ, pred };
}

/** Kahn's topological order and the longest-path layer of every node. */
function topoLayers(ids, succ, pred) {
  const indeg = new Map(ids.map((id) => [id, pred.get(id).length]));
  const queue = ids.filter((id) => indeg.get(id) === 0);
  const topo = [];
  const seen = new Set();
  for (let head = 0; head < queue.length; head += 1) {
    const id = queue[head];
    topo.push(id);
    seen.add(id);
    for (const t of succ.get(id)) {
      indeg.set(t, indeg.get(t) - 1);
      if (indeg.get(t) === 0) queue.push(t);
    }
  }
  // nodes left over (a cycle, which lineage should never have) follow
  for (const id of ids) if (!seen.has(id)) topo.push(id);
  const rank = new Map(topo.map((id, i) => [id, i]));
  const layer = new Map(ids.map((id) => [id, 0]));
  for (const id of topo) {
    for (const t of succ.get(id)) {
      if (rank.get(t) > rank.get(id)) layer.set(t, Math.max(layer.get(t), layer.get(id) + 1));
    }
  }
  return { topo, rank, layer };
}

const plural = (n, word) => `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;

function memberOrder(byId) {
  const num = (n) => Number(String(n.version || "").replace(/^v/, ""));
  return (a, b) => {
    const x = byId.get(a);
    const y = byId.get(b);
    if (x.kind === "version" && y.kind === "version" && x.name === y.name) return num(x) - num(y);
    return String(x.label).localeCompare(String(y.label)) || String(a).localeCompare(String(b));
  };
}

/**
 * The graph to draw: every set of GROUP_MIN or more look-alike nodes becomes one group node.
 *
 * Look-alike: same kind, same collection (versions) or orchestrator/pipeline/task (runs), same
 * layer, and look-alike neighbours: the coarsest partition of the nodes that is stable under
 * "the classes of my predecessors and of my successors" (refined until nothing splits). So the
 * 1,000 runs of one task that used the root fall in one class, and the 1,000 versions they
 * logged in another; a run that also used something else stands apart. The root and the nodes
 * in `shown` (revealed by clicks) are never grouped, and their own outputs then split off.
 *
 * Returns {nodes, edges, groups, root}; a group node is {id, kind: "group", of, members,
 * count, label, sublabel}; edges between drawn nodes are deduplicated.
 */
export function collapse(graph, shown = new Set(), min = GROUP_MIN) {
  const ids = graph.nodes.map((n) => n.id);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const { succ, pred } = adjacency(ids, graph.edges);
  const { layer } = topoLayers(ids, succ, pred);
  const keyOf = (n) => {
    if (n.id === graph.root || shown.has(n.id)) return `id:${n.id}`;
    if (n.kind === "run") return `r:${layer.get(n.id)}:${n.orchestrator || ""}:${n.pipeline || ""}:${n.task || n.label}`;
    return `v:${layer.get(n.id)}:${n.project}/${n.name}`;
  };
  let cls = new Map(ids.map((id) => [id, keyOf(byId.get(id))]));
  let classes = new Set(cls.values()).size;
  for (let round = 0; round < 50; round += 1) {
    const intern = new Map();
    const next = new Map();
    const near = (list) => [...new Set(list.map((x) => cls.get(x)))].sort().join(",");
    for (const id of ids) {
      const sig = `${cls.get(id)}|${near(pred.get(id))}|${near(succ.get(id))}`;
      if (!intern.has(sig)) intern.set(sig, `c${intern.size}`);
      next.set(id, intern.get(sig));
    }
    cls = next;
    if (intern.size === classes) break;
    classes = intern.size;
  }
  const members = new Map();
  for (const id of ids) {
    const c = cls.get(id);
    if (!members.has(c)) members.set(c, []);
    members.get(c).push(id);
  }
  const rep = new Map(ids.map((id) => [id, id]));
  const groups = [];
  for (const [c, list] of members) {
    if (list.length < min) continue;
    const first = byId.get(list[0]);
    list.sort(memberOrder(byId));
    const id = `group:${list[0]}`;
    const where = first.kind === "run" ? [first.pipeline, first.task].filter(Boolean).join(".") || first.label : `${first.project}/${first.name}`;
    groups.push({
      id,
      kind: "group",
      of: first.kind,
      class: c,
      members: list,
      count: list.length,
      label: plural(list.length, first.kind),
      sublabel: where,
    });
    for (const m of list) rep.set(m, id);
  }
  const nodes = graph.nodes.filter((n) => rep.get(n.id) === n.id).concat(groups);
  const seenEdge = new Set();
  const edges = [];
  for (const e of graph.edges) {
    const a = rep.get(e.source);
    const b = rep.get(e.target);
    if (a === undefined || b === undefined || a === b) continue;
    const k = `${a}\u0000${b}\u0000${e.kind || ""}`;
    if (seenEdge.has(k)) continue;
    seenEdge.add(k);
    edges.push({ source: a, target: b, kind: e.kind });
  }
  return { nodes, edges, groups, root: graph.root };
}

/** Compute {x, y} (node centers) for every node id, plus the bounding box. */
export function layout(nodes, edges) {
  const ids = nodes.map((n) => n.id);
  const { succ, pred } = adjacency(ids, edges);
  const { topo, rank, layer } = topoLayers(ids, succ, pred);
  // Pull sources right next to their first consumer (a raw dataset sits just before its run).
  for (const id of [...topo].reverse()) {
    if (pred.get(id).length === 0 && succ.get(id).length) {
      layer.set(id, Math.min(...succ.get(id).map((t) => layer.get(t))) - 1);
    }
  }

  const layers = [];
  for (const id of topo) {
    const l = layer.get(id);
    while (layers.length <= l) layers.push([]);
    layers[l].push(id);
  }

  const byId = new Map(nodes.map((n) => [n.id, n]));
  const y = new Map();
  const rowH = Math.max(NODE_H.version, NODE_H.run) + ROW_GAP;
  const place = (col) => {
    col.forEach((id, i) => y.set(id, (i - (col.length - 1) / 2) * rowH));
  };
  layers.forEach(place);
  const mean = (list) => list.reduce((a, b) => a + b, 0) / list.length;
  for (let sweep = 0; sweep < 6; sweep += 1) {
    const down = sweep % 2 === 0;
    const order = down ? layers : [...layers].reverse();
    for (const col of order) {
      const key = new Map(
        col.map((id) => {
          const near = (down ? pred : succ).get(id).map((n) => y.get(n));
          return [id, near.length ? mean(near) : y.get(id)];
        }),
      );
      col.sort((a, b) => key.get(a) - key.get(b) || rank.get(a) - rank.get(b));
      place(col);
    }
  }

  const colW = Math.max(NODE_W.version, NODE_W.run) + COL_GAP;
  const pos = new Map();
  let minY = Infinity;
  let maxY = -Infinity;
  layers.forEach((col, l) => {
    for (const id of col) {
      const kind = byId.get(id).kind;
      const p = { x: l * colW + NODE_W.version / 2, y: y.get(id), w: NODE_W[kind], h: NODE_H[kind] };
      pos.set(id, p);
      minY = Math.min(minY, p.y - p.h / 2);
      maxY = Math.max(maxY, p.y + p.h / 2);
    }
  });
  const width = Math.max(layers.length, 1) * colW - COL_GAP;
  return {
    pos,
    box: { x: -PAD, y: (Number.isFinite(minY) ? minY : 0) - PAD, w: width + 2 * PAD, h: (maxY - minY || 0) + 2 * PAD },
    layers: layers.length,
  };
}

function nodeHref(node) {
  if (node.kind === "run") return link.run(node.run_id || node.id);
  return link.version(node.project, node.name, node.version);
}

function drawGroup(node, p, onOpen) {
  const x = p.x - p.w / 2;
  const y = p.y - p.h / 2;
  const more = Math.min(GROUP_STEP, node.count);
  const g = s(
    "g",
    {
      class: `node group of-${node.of}`,
      role: "button",
      tabindex: 0,
      "data-id": node.id,
      "data-kind": "group",
      "data-count": node.count,
      "data-label": node.label,
    },
    s("title", {}, `${node.label} of ${node.sublabel}, collapsed: click to show ${more} of them`),
    s("rect", { x: x + 6, y: y - 6, width: p.w, height: p.h, rx: 6, ry: 6, class: "stack" }),
    s("rect", { x: x + 3, y: y - 3, width: p.w, height: p.h, rx: 6, ry: 6, class: "stack" }),
    s("rect", { x, y, width: p.w, height: p.h, rx: 6, ry: 6 }),
    s("text", { x: p.x, y: p.y - 4, class: "label" }, truncate(node.label, 26)),
    s("text", { x: p.x, y: p.y + 13, class: "sublabel" }, truncate(`${node.sublabel} · show ${more}`, 32)),
  );
  g.addEventListener("click", (ev) => {
    ev.preventDefault();
    onOpen(node);
  });
  g.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      onOpen(node);
    }
  });
  return g;
}

function drawNode(node, p, isRoot) {
  const x = p.x - p.w / 2;
  const y = p.y - p.h / 2;
  const classes = ["node", node.kind, isRoot ? "root" : "", node.state ? `state-${node.state.toLowerCase()}` : ""];
  const shape =
    node.kind === "run"
      ? s("rect", { x, y, width: p.w, height: p.h, rx: p.h / 2, ry: p.h / 2 })
      : s("rect", { x, y, width: p.w, height: p.h, rx: 6, ry: 6 });
  const title = node.kind === "run"
    ? `run ${node.label}${node.sublabel ? `\n${node.sublabel}` : ""}${node.state ? `\n${node.state}` : ""}`
    : `${node.ref}${node.sublabel ? `\n${node.sublabel}` : ""}`;
  return s(
    "a",
    {
      href: nodeHref(node),
      class: classes.filter(Boolean).join(" "),
      "data-id": node.id,
      "data-kind": node.kind,
      "data-ref": node.ref || null,
      "data-label": node.label,
    },
    s("title", {}, title),
    shape,
    s("text", { x: p.x, y: node.sublabel ? p.y - 4 : p.y + 4, class: "label" }, truncate(node.label, 26)),
    node.sublabel
      ? s("text", { x: p.x, y: p.y + 13, class: "sublabel" }, truncate(node.sublabel, 32))
      : null,
  );
}

function drawEdge(edge, a, b) {
  const x1 = a.x + a.w / 2;
  const x2 = b.x - b.w / 2;
  const dx = Math.max(30, (x2 - x1) / 2);
  const d = `M${x1},${a.y} C${x1 + dx},${a.y} ${x2 - dx},${b.y} ${x2 - 6},${b.y}`;
  return s("path", { d, class: `edge ${edge.kind || ""}`, "marker-end": "url(#arrow)" });
}

/**
 * Draw the graph into `container` (emptied first), look-alike siblings collapsed into groups
 * (see `collapse`). Returns {svg, fit, zoom, drawn}; `drawn()` is the collapsed graph on screen.
 * Nodes are links: clicking one opens its version or run page; clicking a group shows
 * GROUP_STEP more of its members (`onChange(drawn)` is called after each redraw).
 */
export function drawLineage(container, graph, { onChange = () => {} } = {}) {
  container.replaceChildren();
  const shown = new Set();
  const svg = s("svg", {
    class: "lineage",
    role: "img",
    "aria-label": `lineage graph with ${graph.nodes.length} nodes`,
    xmlns: "http://www.w3.org/2000/svg",
  });
  svg.append(
    s(
      "defs",
      {},
      s(
        "marker",
        { id: "arrow", viewBox: "0 0 10 10", refX: 2, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }),
      ),
    ),
  );
  const edgesLayer = s("g", { class: "edges" });
  const nodesLayer = s("g", { class: "nodes" });
  svg.append(edgesLayer, nodesLayer);

  let box = { x: 0, y: 0, w: 1, h: 1 };
  let view = { ...box };
  let drawn = null;
  const apply = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  const fit = () => {
    view = { ...box };
    apply();
  };
  const zoom = (factor, cx = view.x + view.w / 2, cy = view.y + view.h / 2) => {
    const w = Math.min(Math.max(view.w * factor, 100), box.w * 8 + 2000);
    const k = w / view.w;
    view = { x: cx - (cx - view.x) * k, y: cy - (cy - view.y) * k, w, h: view.h * k };
    apply();
  };
  const open = (group) => {
    for (const id of group.members.slice(0, GROUP_STEP)) shown.add(id);
    redraw();
    nodesLayer.querySelector(`[data-id="${CSS.escape(group.members[0])}"]`)?.focus();
  };
  const redraw = () => {
    drawn = collapse(graph, shown);
    const laid = layout(drawn.nodes, drawn.edges);
    box = laid.box;
    edgesLayer.replaceChildren();
    for (const e of drawn.edges) {
      const a = laid.pos.get(e.source);
      const b = laid.pos.get(e.target);
      if (a && b) edgesLayer.append(drawEdge(e, a, b));
    }
    nodesLayer.replaceChildren(
      ...drawn.nodes.map((n) =>
        n.kind === "group" ? drawGroup(n, laid.pos.get(n.id), open) : drawNode(n, laid.pos.get(n.id), n.id === graph.root),
      ),
    );
    fit();
    // Never enlarge past 1:1; shrink wide graphs to the width available (and the height with it).
    const available = container.clientWidth || container.parentElement?.clientWidth || window.innerWidth - 60;
    const scale = Math.min(1, available / box.w);
    svg.style.height = `${Math.round(Math.min(Math.max(box.h * scale, 160), 680))}px`;
    onChange(drawn);
  };
  redraw();

  // Drag the background to pan; ctrl/cmd + wheel zooms around the pointer.
  let drag = null;
  svg.addEventListener("pointerdown", (ev) => {
    if (ev.target.closest("a, .group")) return;
    drag = { x: ev.clientX, y: ev.clientY, view: { ...view } };
    svg.setPointerCapture(ev.pointerId);
    svg.classList.add("dragging");
  });
  svg.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const scale = view.w / svg.clientWidth;
    view = { ...drag.view, x: drag.view.x - (ev.clientX - drag.x) * scale, y: drag.view.y - (ev.clientY - drag.y) * scale };
    apply();
  });
  const stop = () => {
    drag = null;
    svg.classList.remove("dragging");
  };
  svg.addEventListener("pointerup", stop);
  svg.addEventListener("pointercancel", stop);
  svg.addEventListener(
    "wheel",
    (ev) => {
      if (!(ev.ctrlKey || ev.metaKey)) return;
      ev.preventDefault();
      const r = svg.getBoundingClientRect();
      const cx = view.x + ((ev.clientX - r.left) / r.width) * view.w;
      const cy = view.y + ((ev.clientY - r.top) / r.height) * view.h;
      zoom(ev.deltaY > 0 ? 1.15 : 1 / 1.15, cx, cy);
    },
    { passive: false },
  );
  container.append(svg);
  return { svg, fit, zoom, drawn: () => drawn };
}

// The lineage graph: a small layered (Sugiyama-style) layout drawn as SVG.
//
// Layers: longest path from the sources (data flows left to right: run -> version -> run).
// Order inside a layer: a few barycenter sweeps to reduce crossings. No dependencies.

import { link, s, truncate } from "./dom.js";

const NODE_W = { version: 196, run: 168 };
const NODE_H = { version: 46, run: 40 };
const COL_GAP = 56;
const ROW_GAP = 20;
const PAD = 24;

/** Compute {x, y} (node centers) for every node id, plus the bounding box. */
export function layout(nodes, edges) {
  const ids = nodes.map((n) => n.id);
  const succ = new Map(ids.map((id) => [id, []]));
  const pred = new Map(ids.map((id) => [id, []]));
  for (const e of edges) {
    if (!succ.has(e.source) || !succ.has(e.target) || e.source === e.target) continue;
    succ.get(e.source).push(e.target);
    pred.get(e.target).push(e.source);
  }

  // Kahn's topological order; nodes left over (a cycle, which lineage should never have) follow.
  const indeg = new Map(ids.map((id) => [id, pred.get(id).length]));
  const queue = ids.filter((id) => indeg.get(id) === 0);
  const topo = [];
  const seen = new Set();
  while (queue.length) {
    const id = queue.shift();
    topo.push(id);
    seen.add(id);
    for (const t of succ.get(id)) {
      indeg.set(t, indeg.get(t) - 1);
      if (indeg.get(t) === 0) queue.push(t);
    }
  }
  for (const id of ids) if (!seen.has(id)) topo.push(id);
  const rank = new Map(topo.map((id, i) => [id, i]));

  const layer = new Map(ids.map((id) => [id, 0]));
  for (const id of topo) {
    for (const t of succ.get(id)) {
      if (rank.get(t) > rank.get(id)) layer.set(t, Math.max(layer.get(t), layer.get(id) + 1));
    }
  }
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
 * Draw the graph into `container` (emptied first). Returns {svg, fit, zoom}.
 * Nodes are links: clicking one opens its version or run page.
 */
export function drawLineage(container, graph) {
  container.replaceChildren();
  const { pos, box } = layout(graph.nodes, graph.edges);
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
  for (const e of graph.edges) {
    const a = pos.get(e.source);
    const b = pos.get(e.target);
    if (a && b) edgesLayer.append(drawEdge(e, a, b));
  }
  const nodesLayer = s("g", { class: "nodes" });
  for (const n of graph.nodes) nodesLayer.append(drawNode(n, pos.get(n.id), n.id === graph.root));
  svg.append(edgesLayer, nodesLayer);

  let view = { ...box };
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
  fit();
  // Never enlarge past 1:1; shrink wide graphs to the width available (and the height with it).
  const available = container.clientWidth || container.parentElement?.clientWidth || window.innerWidth - 60;
  const scale = Math.min(1, available / box.w);
  svg.style.height = `${Math.round(Math.min(Math.max(box.h * scale, 160), 680))}px`;

  // Drag the background to pan; ctrl/cmd + wheel zooms around the pointer.
  let drag = null;
  svg.addEventListener("pointerdown", (ev) => {
    if (ev.target.closest("a")) return;
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
  return { svg, fit, zoom };
}

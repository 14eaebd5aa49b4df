// Small helpers: element builders (text only, never innerHTML), formatting, the API client.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  return el;
}

/** h("a", {href: "#/"}, "text", child, [more]) builds an HTML element. */
export function h(tag, attrs, ...children) {
  return append(setAttrs(document.createElement(tag), attrs), children);
}

/** s("rect", {x: 1}) builds an SVG element. */
export function s(tag, attrs, ...children) {
  return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtDate(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function shortDigest(d) {
  return d ? d.slice(0, 12) : "—";
}

export function truncate(text, max) {
  if (!text) return "";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Parse "p/n:sel" into {project, name, selector}. */
export function splitRef(ref) {
  const [body, selector = "latest"] = ref.split(":");
  const [project, name] = body.includes("/") ? body.split("/") : ["default", body];
  return { project, name, selector };
}

const enc = encodeURIComponent;

/** Hash links of the page (relative, so they work under any mount prefix). */
export const link = {
  collections: (params) => `#/${params ? `?${new URLSearchParams(params)}` : ""}`,
  collection: (project, name) => `#/collection/${enc(project)}/${enc(name)}`,
  version: (project, name, selector) => `#/version/${enc(project)}/${enc(name)}/${enc(selector)}`,
  versionRef: (ref) => {
    const r = splitRef(ref);
    return link.version(r.project, r.name, r.selector);
  },
  lineage: (project, name, selector, params) =>
    `#/lineage/${enc(project)}/${enc(name)}/${enc(selector)}${params ? `?${new URLSearchParams(params)}` : ""}`,
  run: (id) => `#/run/${enc(id)}`,
  runs: () => "#/runs",
};

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** GET/PUT/PATCH/DELETE api/<path> (relative URL) and return the JSON body. */
export async function api(path, { params, method = "GET", body, token, ifMatch } = {}) {
  const query = params
    ? `?${new URLSearchParams(
        Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== ""),
      )}`
    : "";
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["X-Artiflow-Token"] = token;
  if (ifMatch) headers["If-Match"] = ifMatch; // refused (409) if someone edited it since
  const response = await fetch(`api/${path}${query === "?" ? "" : query}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    let detail = data && data.detail !== undefined ? data.detail : response.statusText;
    if (Array.isArray(detail)) detail = detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
    throw new ApiError(response.status, String(detail));
  }
  return data;
}

// artiflow registry page: a hash-routed single page over the JSON API (all URLs relative).

import { ApiError, api, fmtBytes, fmtDate, h, link, shortDigest } from "./dom.js";
import { GROUP_STEP, collapse, drawLineage } from "./lineage.js";

const enc = encodeURIComponent;
const main = document.getElementById("main");
const state = { config: { allow_writes: false }, configReady: Promise.resolve(), token: sessionStorage.getItem("artiflow-token") || "" };
let generation = 0; // bumps on every navigation; stale async renders check it and stop

// ---------------------------------------------------------------------------------------------
// Routing

const routes = [
  [/^\/?$/, (m, g) => collectionsPage(g)],
  [/^\/collection\/([^/]+)\/([^/]+)$/, (m, g) => collectionPage(m[1], m[2], g)],
  [/^\/version\/([^/]+)\/([^/]+)\/([^/]+)$/, (m, g) => versionPage(m[1], m[2], m[3], g)],
  [/^\/lineage\/([^/]+)\/([^/]+)\/([^/]+)$/, (m, g) => lineagePage(m[1], m[2], m[3], g)],
  [/^\/runs$/, (m, g) => runsPage(m, g)],
  [/^\/run\/([^/]+)$/, (m, g) => runPage(m[1], g)],
  [/^\/api$/, (m, g) => apiPage(m, g)],
];

function currentRoute() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { path, params: new URLSearchParams(query) };
}

/** Replace the query part of the current hash without re-rendering. */
function setParams(params) {
  const { path } = currentRoute();
  const clean = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") clean.set(k, v);
  const q = clean.toString();
  history.replaceState(null, "", `#${path}${q ? `?${q}` : ""}`);
}

async function render() {
  generation += 1;
  const mine = generation;
  const { path } = currentRoute();
  for (const a of document.querySelectorAll("header nav a")) {
    const nav = a.dataset.nav;
    const active =
      (nav === "runs" && path.startsWith("/run")) ||
      (nav === "api" && path === "/api") ||
      (nav === "collections" && !path.startsWith("/run") && path !== "/api");
    a.classList.toggle("active", active);
  }
  for (const [pattern, page] of routes) {
    const m = path.match(pattern);
    if (m) {
      const decoded = [m[0], ...m.slice(1).map((x) => decodeURIComponent(x))];
      try {
        const node = await page(decoded, mine);
        if (mine === generation && node) {
          main.replaceChildren(node);
          const title = node.querySelector("h1");
          document.title = title ? `${title.textContent} · artiflow` : "artiflow registry";
        }
      } catch (err) {
        if (mine === generation) main.replaceChildren(errorBox(err));
      }
      return;
    }
  }
  main.replaceChildren(errorBox(new ApiError(404, `no page ${path}`)));
}

function errorBox(err) {
  const status = err instanceof ApiError ? err.status : null;
  return h(
    "div",
    { class: "error", role: "alert" },
    h("strong", {}, status === 404 ? "Not found" : status === 501 ? "Not available" : "Error"),
    " ",
    err.message,
    " ",
    h("a", { href: "#/" }, "Back to collections"),
  );
}

function stillCurrent(mine) {
  return mine === generation;
}

// ---------------------------------------------------------------------------------------------
// Shared bits

function chips(values, cls, hrefOf) {
  if (!values || !values.length) return h("span", { class: "muted" }, "none");
  return h(
    "span",
    { class: "chips" },
    values.map((v) => (hrefOf ? h("a", { class: `chip ${cls}`, href: hrefOf(v) }, v) : h("span", { class: `chip ${cls}` }, v))),
  );
}

function pager(page, onGo) {
  const known = page.total !== null && page.total !== undefined;
  const from = page.items.length === 0 ? 0 : page.offset + 1;
  const to = page.offset + page.items.length;
  const hasNext = page.has_more !== null && page.has_more !== undefined ? Boolean(page.has_more) : known && to < page.total;
  const more = page.total_exact === false ? "+" : ""; // counting stopped early: at least this many
  return h(
    "div",
    { class: "pager" },
    h("span", { class: "muted" }, `${from.toLocaleString()}–${to.toLocaleString()}${known ? ` of ${page.total.toLocaleString()}${more}` : ""}`),
    h("button", { type: "button", disabled: page.offset === 0, onclick: () => onGo(Math.max(0, page.offset - page.limit)) }, "‹ Prev"),
    h("button", { type: "button", disabled: !hasNext, onclick: () => onGo(page.offset + page.limit) }, "Next ›"),
  );
}

function table(headers, rows, cls = "") {
  return h(
    "table",
    { class: `grid ${cls}` },
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "muted empty" }, "Nothing here."))),
  );
}

function runLabel(run) {
  if (run.label) return run.label; // the pipeline run, try and map index, as lineage and `show` say
  const where = [run.pipeline, run.task].filter(Boolean).join(".");
  return `${run.name || run.id}${where ? ` (${where})` : ""}`;
}

function runLink(run) {
  return h(
    "span",
    { class: "run" },
    h("a", { href: link.run(run.id), class: "run-link" }, runLabel(run)),
    " ",
    run.state ? h("span", { class: `state state-${run.state.toLowerCase()}` }, run.state) : null,
    h("span", { class: "muted" }, ` ${run.orchestrator || ""} · ${fmtDate(run.started_at)}`),
  );
}

function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

function tokenField() {
  return h("input", {
    type: "password",
    placeholder: "write token",
    value: state.token,
    class: "token",
    "aria-label": "write token",
    oninput: (ev) => {
      state.token = ev.target.value;
      sessionStorage.setItem("artiflow-token", state.token);
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Collections list

async function collectionsPage(gen) {
  const { params } = currentRoute();
  const q = { q: params.get("q") || "", type: params.get("type") || "", project: params.get("project") || "", offset: Number(params.get("offset") || 0) };
  const results = h("div", { class: "results" });
  const typeSelect = h("select", { "aria-label": "type", name: "type" }, h("option", { value: "" }, "all types"));
  const projectSelect = h("select", { "aria-label": "project", name: "project" }, h("option", { value: "" }, "all projects"));
  const search = h("input", { type: "search", name: "q", placeholder: "Search collections…", value: q.q, autofocus: true, "aria-label": "search" });

  let mine = 0;
  const load = async () => {
    if (!stillCurrent(gen)) return; // the user went elsewhere meanwhile
    mine += 1;
    const ticket = mine;
    setParams({ q: q.q, type: q.type, project: q.project, offset: q.offset || "" });
    results.classList.add("loading");
    let page;
    try {
      page = await api("collections", { params: { q: q.q, type: q.type, project: q.project, offset: q.offset, limit: 50 } });
    } catch (err) {
      results.replaceChildren(errorBox(err));
      return;
    }
    if (ticket !== mine || !stillCurrent(gen)) return;
    fillSelect(typeSelect, page.types, q.type, "all types");
    fillSelect(projectSelect, page.projects, q.project, "all projects");
    const rows = page.items.map((c) =>
      h(
        "tr",
        {},
        h("td", {}, h("a", { href: link.collection(c.project, c.name), class: "collection-link" }, c.name)),
        h("td", {}, c.project),
        h("td", {}, h("span", { class: "type" }, c.type || "—"), c.kind && c.kind !== "artifact" ? h("span", { class: "chip kind" }, c.kind) : null),
        h("td", { class: "num" }, c.version_count ?? "—"),
        h("td", {}, fmtDate(c.created_at)),
        h("td", { class: "desc" }, c.description || ""),
      ),
    );
    results.replaceChildren(
      table(["Name", "Project", "Type", "Versions", "Created", "Description"], rows, "collections"),
      pager(page, (offset) => {
        q.offset = offset;
        load();
      }),
    );
    results.classList.remove("loading");
    results.dataset.ready = "1";
  };
  const research = debounce(() => {
    q.q = search.value.trim();
    q.offset = 0;
    load();
  }, 180);
  search.addEventListener("input", research);
  typeSelect.addEventListener("change", () => {
    q.type = typeSelect.value;
    q.offset = 0;
    load();
  });
  projectSelect.addEventListener("change", () => {
    q.project = projectSelect.value;
    q.offset = 0;
    load();
  });
  load();
  return h(
    "section",
    { class: "page collections-page" },
    h("h1", {}, "Collections"),
    h("div", { class: "toolbar" }, search, typeSelect, projectSelect),
    results,
  );
}

function fillSelect(select, values, selected, allLabel) {
  const wanted = [...new Set([...(values || []), ...(selected ? [selected] : [])])].sort();
  const current = [...select.options].map((o) => o.value).slice(1);
  if (current.join("\n") !== wanted.join("\n")) {
    select.replaceChildren(h("option", { value: "" }, allLabel), wanted.map((v) => h("option", { value: v }, v)));
  }
  select.value = selected || "";
}

// ---------------------------------------------------------------------------------------------
// One collection: versions, aliases, alias history

async function collectionPage(project, name, mine) {
  const versionsOf = (offset) => api(`collections/${enc(project)}/${enc(name)}/versions`, { params: { offset, limit: 50 } });
  // the first page of versions is asked for together with the collection: one round trip less
  let firstVersions = versionsOf(0);
  firstVersions.catch(() => {}); // a missing collection is reported by the detail below
  const c = await api(`collections/${enc(project)}/${enc(name)}`);
  await state.configReady; // the alias editor is shown only when writes are on
  if (!stillCurrent(mine)) return null;
  const versionsBox = h("div", { class: "versions" });
  const historyBox = h("div", { class: "alias-history" });

  const loadVersions = async (offset) => {
    const pending = offset === 0 && firstVersions ? firstVersions : versionsOf(offset);
    firstVersions = null;
    const page = await pending;
    const rows = page.items.map((v) =>
      h(
        "tr",
        {},
        h("td", {}, h("a", { href: link.version(project, name, v.version), class: "version-link" }, v.version)),
        h("td", {}, chips(v.aliases.filter((a) => a !== "latest").concat(v.aliases.includes("latest") ? ["latest"] : []), "alias")),
        h("td", {}, chips(v.tags, "tag")),
        h("td", { class: "num" }, fmtBytes(v.size)),
        h("td", {}, fmtDate(v.created_at)),
        h("td", { class: "mono" }, shortDigest(v.digest)),
        h("td", {}, v.semver || ""),
      ),
    );
    versionsBox.replaceChildren(
      table(["Version", "Aliases", "Tags", "Size", "Created", "Digest", "Semver"], rows),
      pager(page, loadVersions),
    );
  };

  const loadHistory = async (offset) => {
    try {
      const page = await api(`collections/${enc(project)}/${enc(name)}/alias-history`, { params: { offset, limit: 25 } });
      const rows = page.items.map((e) =>
        h(
          "tr",
          {},
          h("td", {}, fmtDate(e.at)),
          h("td", {}, h("span", { class: "chip alias" }, e.alias)),
          h("td", {}, e.previous ? h("a", { href: link.version(project, name, e.previous) }, e.previous) : h("span", { class: "muted" }, "—")),
          h("td", {}, e.version ? h("a", { href: link.version(project, name, e.version) }, e.version) : h("span", { class: "muted" }, "removed")),
          h(
            "td",
            { class: "moved-by" },
            e.moved_by && !e.run_id ? `${e.moved_by}${e.via ? ` (${e.via})` : ""}` : "",
            e.run_id ? h("a", { href: link.run(e.run_id) }, e.via || "run") : "",
          ),
        ),
      );
      historyBox.replaceChildren(table(["When", "Alias", "From", "To", "By"], rows, "history"), pager(page, loadHistory));
    } catch (err) {
      historyBox.replaceChildren(errorBox(err));
    }
  };

  const aliasEntries = Object.entries(c.aliases).sort(([a], [b]) => (a === "latest") - (b === "latest") || a.localeCompare(b));
  const page = h(
    "section",
    { class: "page collection-page" },
    h("nav", { class: "crumbs" }, h("a", { href: "#/" }, "Collections"), " / ", project, " / "),
    h("h1", {}, name, " ", h("span", { class: "type" }, c.type || "")),
    c.description ? h("p", { class: "desc" }, c.description) : null,
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Project"),
      h("dd", {}, project),
      h("dt", {}, "Kind"),
      h("dd", {}, c.kind || "—"),
      h("dt", {}, "Versions"),
      h("dd", { class: "version-count" }, c.version_count === null || c.version_count === undefined ? "—" : `${c.version_count.toLocaleString()}${c.version_count_exact === false ? "+" : ""}`),
      h("dt", {}, "Created"),
      h("dd", {}, fmtDate(c.created_at)),
      h("dt", {}, "Aliases"),
      h(
        "dd",
        {},
        aliasEntries.length
          ? h("span", { class: "chips" }, aliasEntries.map(([a, v]) => h("a", { class: "chip alias", href: link.version(project, name, v) }, `${a} → ${v}`)))
          : h("span", { class: "muted" }, "none"),
      ),
    ),
    c.latest
      ? h("p", {}, h("a", { class: "button", href: link.lineage(project, name, c.latest.version) }, "Lineage of latest"))
      : null,
    state.config.allow_writes ? aliasEditor(project, name, () => render()) : null,
    h("h2", {}, "Versions"),
    versionsBox,
    h("h2", { id: "alias-history" }, "Alias history"),
    historyBox,
  );
  await Promise.all([loadVersions(0), loadHistory(0)]);
  const section = currentRoute().params.get("section");
  if (section) requestAnimationFrame(() => document.getElementById(section)?.scrollIntoView());
  return page;
}

function aliasEditor(project, name, done) {
  const alias = h("input", { placeholder: "alias (e.g. production)", name: "alias", "aria-label": "alias" });
  const version = h("input", { placeholder: "version (e.g. v3)", name: "version", "aria-label": "version" });
  const status = h("span", { class: "muted status" });
  const act = async (method) => {
    try {
      await api(`collections/${enc(project)}/${enc(name)}/aliases/${enc(alias.value.trim())}`, {
        method,
        body: method === "PUT" ? { version: version.value.trim() } : undefined,
        token: state.token,
      });
      done();
    } catch (err) {
      status.textContent =
        err.status === 409 ? `${err.message} (reload the page to see the current values)` : err.message;
    }
  };
  return h(
    "details",
    { class: "editor" },
    h("summary", {}, "Move or remove an alias"),
    h(
      "form",
      { class: "toolbar", onsubmit: (ev) => ev.preventDefault() },
      alias,
      version,
      tokenField(),
      h("button", { type: "button", onclick: () => act("PUT") }, "Move alias here"),
      h("button", { type: "button", onclick: () => act("DELETE") }, "Remove alias"),
      status,
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// One version

const MAX_CONSUMERS = 20; // runs listed under "Used by"; the lineage view groups the rest

async function versionPage(project, name, selector, mine) {
  const v = await api(`versions/${enc(project)}/${enc(name)}/${enc(selector)}`);
  await state.configReady; // the editor is shown only when writes are on
  if (!stillCurrent(mine)) return null;
  const { params } = currentRoute();
  const filesState = { q: params.get("fq") || "", offset: Number(params.get("foffset") || 0) };
  const filesBox = h("div", { class: "files" });
  const filesSearch = h("input", { type: "search", placeholder: "Filter files…", value: filesState.q, "aria-label": "filter files" });

  let ticket = 0;
  const loadFiles = async () => {
    if (!stillCurrent(mine)) return;
    ticket += 1;
    const mineFiles = ticket;
    setParams({ fq: filesState.q, foffset: filesState.offset || "" });
    const page = await api(`versions/${enc(project)}/${enc(name)}/${enc(v.version)}/files`, {
      params: { q: filesState.q, offset: filesState.offset, limit: 100 },
    });
    if (mineFiles !== ticket) return;
    const rows = page.items.map((f) =>
      h(
        "tr",
        {},
        h("td", { class: "path" }, f.path),
        h("td", { class: "num" }, fmtBytes(f.size)),
        h("td", { class: "mono", title: f.digest || "" }, shortDigest(f.digest)),
        h("td", { class: "ref" }, f.ref || ""),
        h("td", {}, h("a", { href: f.download, download: f.path.split("/").pop(), class: "download" }, "download")),
      ),
    );
    filesBox.replaceChildren(
      h("p", { class: "muted" }, `${page.file_count.toLocaleString()} files · ${fmtBytes(page.total_size)}`),
      table(["Path", "Size", "Digest", "Reference", ""], rows, "files-table"),
      pager(page, (offset) => {
        filesState.offset = offset;
        loadFiles();
      }),
    );
    filesBox.dataset.ready = "1";
  };
  filesSearch.addEventListener(
    "input",
    debounce(() => {
      filesState.q = filesSearch.value.trim();
      filesState.offset = 0;
      loadFiles();
    }, 180),
  );

  // what was built from this version (transitively) and the aliases that now point at it
  const impactBox = h("div", { class: "impact" });
  const loadImpact = async () => {
    const imp = await api(`impact/${enc(project)}/${enc(name)}/${enc(v.version)}`);
    const rows = imp.versions.map((x) =>
      h("tr", {}, h("td", {}, h("a", { href: link.versionRef(x.ref) }, x.ref)), h("td", { class: "num" }, String(x.depth)), h("td", {}, chips(x.aliases, "alias"))),
    );
    impactBox.replaceChildren(
      h("p", { class: "muted" }, imp.count ? `${imp.count.toLocaleString()} versions built from it; aliases on them: ${imp.aliases.map((a) => `${a.collection}:${a.alias}`).join(", ") || "none"}` : "Nothing was built from it."),
      imp.count ? table(["Version", "Steps", "Aliases"], rows, "impact-table") : null,
    );
    impactBox.dataset.ready = "1";
  };

  const userAliases = v.aliases.filter((a) => a !== "latest");
  const page = h(
    "section",
    { class: "page version-page" },
    h(
      "nav",
      { class: "crumbs" },
      h("a", { href: "#/" }, "Collections"),
      " / ",
      project,
      " / ",
      h("a", { href: link.collection(project, name) }, name),
      " / ",
    ),
    h(
      "h1",
      {},
      `${name}:${v.version}`,
      " ",
      h("span", { class: "type" }, v.type || ""),
      " ",
      v.state && v.state !== "COMMITTED" ? h("span", { class: `state state-${v.state.toLowerCase()}` }, v.state) : null,
      v.quarantine ? h("span", { class: "state state-failed quarantine-badge", title: v.quarantine.reason }, "quarantined") : null,
      v.tainted_by ? h("span", { class: "state state-failed tainted-badge", title: v.tainted_by.reason }, "tainted") : null,
    ),
    v.quarantine
      ? h("p", { class: "error quarantine-note" }, `Quarantined by ${v.quarantine.by || "?"} on ${fmtDate(v.quarantine.at)}: ${v.quarantine.reason}. Aliases no longer resolve to it; vN still does.`)
      : null,
    v.tainted_by
      ? h("p", { class: "error tainted-note" }, "Built from ", h("a", { href: link.versionRef(v.tainted_by.ref) }, v.tainted_by.ref), `, quarantined: ${v.tainted_by.reason}`)
      : null,
    v.description ? h("p", { class: "desc" }, v.description) : null,
    h(
      "p",
      { class: "actions" },
      h("a", { class: "button lineage-link", href: link.lineage(project, name, v.version) }, "Lineage"),
      " ",
      h("a", { class: "button", href: link.collection(project, name) }, "All versions"),
      " ",
      h("a", { class: "button", href: `${link.collection(project, name)}?section=alias-history` }, "Alias history"),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Ref"),
      h("dd", { class: "mono" }, v.ref),
      h("dt", {}, "Aliases"),
      h("dd", {}, chips(userAliases.concat(v.aliases.includes("latest") ? ["latest"] : []), "alias")),
      h("dt", {}, "Tags"),
      h("dd", {}, chips(v.tags, "tag")),
      h("dt", {}, "Digest"),
      h("dd", { class: "mono" }, v.digest || "—"),
      h("dt", {}, "Size"),
      h("dd", {}, `${fmtBytes(v.size)} in ${v.file_count.toLocaleString()} files`),
      h("dt", {}, "Created"),
      h("dd", {}, fmtDate(v.created_at)),
      v.semver ? [h("dt", {}, "Semver"), h("dd", {}, v.semver)] : null,
      v.linked ? [h("dt", {}, "Links to"), h("dd", {}, h("a", { href: link.versionRef(v.linked) }, v.linked))] : null,
      h("dt", {}, "State"),
      h("dd", {}, v.state || "—"),
      h("dt", {}, "Produced by"),
      h(
        "dd",
        { class: "producer" },
        (v.producers || []).length > 1
          ? h("ul", { class: "plain" }, v.producers.map((r, i) => h("li", {}, runLink(r), i ? h("span", { class: "muted" }, " (re-logged the same content)") : null)))
          : v.producer
            ? runLink(v.producer)
            : h("span", { class: "muted" }, "no recorded run"),
      ),
      h("dt", {}, "Used by"),
      h(
        "dd",
        { class: "consumers" },
        v.consumers.length
          ? h(
              "ul",
              { class: "plain" },
              v.consumers.slice(0, MAX_CONSUMERS).map((r) => h("li", {}, runLink(r))),
              v.consumers.length > MAX_CONSUMERS
                ? h("li", { class: "more-consumers" }, h("a", { href: link.lineage(project, name, v.version) }, `and ${(v.consumers.length - MAX_CONSUMERS).toLocaleString()} more (lineage)`))
                : null,
            )
          : h("span", { class: "muted" }, "no recorded run"),
      ),
    ),
    h("h2", {}, "Impact"),
    impactBox,
    h("h2", {}, "Metadata"),
    Object.keys(v.metadata).length ? metadataTable(v.metadata) : h("p", { class: "muted" }, "No metadata."),
    state.config.allow_writes ? versionEditor(project, name, v) : null,
    h("h2", {}, "Files"),
    h("div", { class: "toolbar" }, filesSearch),
    filesBox,
  );
  await Promise.all([loadFiles(), loadImpact()]);
  return page;
}

function metadataTable(metadata) {
  const rows = Object.entries(metadata).map(([k, val]) =>
    h(
      "tr",
      {},
      h("th", {}, k),
      h("td", {}, typeof val === "object" && val !== null ? h("pre", {}, JSON.stringify(val, null, 2)) : String(val)),
    ),
  );
  return h("table", { class: "metadata" }, h("tbody", {}, rows));
}

function versionEditor(project, name, v) {
  const desc = h("input", { value: v.description || "", name: "description", "aria-label": "description" });
  const tags = h("input", { value: v.tags.join(", "), name: "tags", "aria-label": "tags" });
  const meta = h("textarea", { rows: 6, name: "metadata", "aria-label": "metadata" }, JSON.stringify(v.metadata, null, 2));
  const status = h("span", { class: "muted status" });
  const save = async () => {
    let metadata;
    try {
      metadata = JSON.parse(meta.value || "{}");
    } catch (err) {
      status.textContent = `metadata is not valid JSON: ${err.message}`;
      return;
    }
    for (const key of Object.keys(v.metadata)) if (!(key in metadata)) metadata[key] = null;
    try {
      await api(`versions/${enc(project)}/${enc(name)}/${enc(v.version)}`, {
        method: "PATCH",
        token: state.token,
        ifMatch: v.revision === null || v.revision === undefined ? undefined : `"${v.version}.r${v.revision}"`,
        body: { description: desc.value, tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean), metadata },
      });
      render();
    } catch (err) {
      status.textContent =
        err.status === 409 ? `${err.message} (reload the page to see the current values)` : err.message;
    }
  };
  return h(
    "details",
    { class: "editor" },
    h("summary", {}, "Edit description, tags, metadata"),
    h(
      "form",
      { class: "form", onsubmit: (ev) => ev.preventDefault() },
      h("label", {}, "Description", desc),
      h("label", {}, "Tags (comma separated)", tags),
      h("label", {}, "Metadata (JSON)", meta),
      h("div", { class: "toolbar" }, tokenField(), h("button", { type: "button", onclick: save }, "Save"), status),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Lineage

const DEPTHS = ["1", "2", "3", "4", "6", "8", "all"];
const MAX_NODES = 1500;

async function lineagePage(project, name, selector, mine) {
  const { params } = currentRoute();
  const opts = { direction: params.get("direction") || "both", depth: params.get("depth") || "3" };
  const canvas = h("div", { class: "canvas" });
  const summary = h("span", { class: "muted summary" });
  const direction = h(
    "select",
    { name: "direction", "aria-label": "direction" },
    ["both", "upstream", "downstream"].map((d) => h("option", { value: d, selected: d === opts.direction }, d)),
  );
  const depth = h(
    "select",
    { name: "depth", "aria-label": "depth" },
    DEPTHS.map((d) => h("option", { value: d, selected: d === opts.depth }, d === "all" ? "all steps" : `${d} step${d === "1" ? "" : "s"}`)),
  );
  let view = null;
  const load = async () => {
    if (!stillCurrent(mine)) return;
    setParams(opts);
    canvas.dataset.ready = "";
    let graph;
    try {
      graph = await api(`lineage/${enc(project)}/${enc(name)}/${enc(selector)}`, {
        params: { direction: opts.direction, depth: opts.depth === "all" ? null : opts.depth },
      });
    } catch (err) {
      canvas.replaceChildren(errorBox(err));
      return;
    }
    const versions = graph.nodes.filter((n) => n.kind === "version").length;
    const counts = `${versions} versions · ${graph.nodes.length - versions} runs · ${graph.edges.length} edges`;
    const describe = (drawn) => {
      const hidden = drawn.groups.reduce((n, g) => n + g.count, 0);
      summary.textContent = drawn.groups.length
        ? `${counts} · ${hidden.toLocaleString()} of them in ${drawn.groups.length} collapsed group${drawn.groups.length === 1 ? "" : "s"} (click one to show ${GROUP_STEP} more)`
        : counts;
    };
    summary.textContent = counts;
    // look-alike siblings are drawn as collapsed groups: what counts is what is drawn
    const drawnCount = graph.nodes.length > MAX_NODES ? collapse(graph).nodes.length : graph.nodes.length;
    if (drawnCount > MAX_NODES) {
      canvas.replaceChildren(
        h("p", { class: "error" }, `${graph.nodes.length} nodes (${drawnCount} after grouping look-alike siblings) are too many to draw: lower the depth or choose one direction.`),
      );
      canvas.dataset.ready = "1";
      return;
    }
    view = drawLineage(canvas, graph, { onChange: describe });
    canvas.dataset.ready = "1";
  };
  direction.addEventListener("change", () => {
    opts.direction = direction.value;
    load();
  });
  depth.addEventListener("change", () => {
    opts.depth = depth.value;
    load();
  });
  const page = h(
    "section",
    { class: "page lineage-page" },
    h(
      "nav",
      { class: "crumbs" },
      h("a", { href: "#/" }, "Collections"),
      " / ",
      project,
      " / ",
      h("a", { href: link.collection(project, name) }, name),
      " / ",
      h("a", { href: link.version(project, name, selector) }, selector),
      " / ",
    ),
    h("h1", {}, "Lineage of ", h("span", { class: "mono" }, `${name}:${selector}`)),
    h(
      "div",
      { class: "toolbar" },
      direction,
      depth,
      h("button", { type: "button", onclick: () => view && view.zoom(1 / 1.25), title: "zoom in" }, "+"),
      h("button", { type: "button", onclick: () => view && view.zoom(1.25), title: "zoom out" }, "−"),
      h("button", { type: "button", onclick: () => view && view.fit(), title: "fit to view" }, "Fit"),
      summary,
    ),
    canvas,
    h(
      "p",
      { class: "legend muted" },
      h("span", { class: "key version" }, "version"),
      h("span", { class: "key run" }, "run"),
      h("span", { class: "key root" }, "this version"),
      h("span", { class: "key group" }, "collapsed group"),
      " Click a node to open it, a group to show its members. Drag to pan, Ctrl + wheel to zoom.",
    ),
  );
  await load();
  return stillCurrent(mine) ? page : null;
}

// ---------------------------------------------------------------------------------------------
// Runs

async function runsPage(_m, mine) {
  const { params } = currentRoute();
  const q = { pipeline: params.get("pipeline") || "", orchestrator: params.get("orchestrator") || "", offset: Number(params.get("offset") || 0) };
  const box = h("div", {});
  const load = async () => {
    if (!stillCurrent(mine)) return;
    setParams({ pipeline: q.pipeline, orchestrator: q.orchestrator, offset: q.offset || "" });
    const page = await api("runs", { params: { pipeline: q.pipeline, orchestrator: q.orchestrator, offset: q.offset, limit: 50 } });
    const rows = page.items.map((r) =>
      h(
        "tr",
        {},
        h("td", {}, h("a", { href: link.run(r.id) }, r.name || r.id)),
        h("td", {}, r.orchestrator || ""),
        h("td", {}, r.pipeline || ""),
        h("td", {}, r.task || ""),
        h("td", {}, r.state ? h("span", { class: `state state-${r.state.toLowerCase()}` }, r.state) : ""),
        h("td", {}, fmtDate(r.started_at)),
      ),
    );
    box.replaceChildren(
      table(["Run", "Orchestrator", "Pipeline", "Task", "State", "Started"], rows),
      pager(page, (offset) => {
        q.offset = offset;
        load();
      }),
    );
  };
  await load();
  if (!stillCurrent(mine)) return null;
  return h("section", { class: "page runs-page" }, h("h1", {}, "Runs"), box);
}

async function runLock(r) {
  // the pipeline run's lock: what every read of a ref in that run resolved to (null: none yet)
  if (!r.orchestrator || !r.pipeline_run) return null;
  try {
    return await api("locks", { params: { orchestrator: r.orchestrator, pipeline_run: r.pipeline_run, pipeline: r.pipeline } });
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

function lockSection(lock) {
  if (!lock) return null;
  const versionLink = (ref) => {
    const m = /^([^/]+)\/([^:]+):(.+)$/.exec(ref || "");
    return m ? h("a", { href: link.version(m[1], m[2], m[3]) }, ref) : ref || "";
  };
  const rows = lock.entries.map((e) =>
    h("tr", {}, h("td", {}, h("code", {}, e.ref)), h("td", {}, versionLink(e.version_ref)), h("td", {}, e.task || ""), h("td", {}, fmtDate(e.at))),
  );
  const replays = lock.replays.map((x) =>
    h(
      "tr",
      {},
      h("td", {}, x.collection),
      h("td", {}, versionLink(x.original_version_ref)),
      h("td", {}, versionLink(x.version_ref)),
      h("td", {}, h("span", { class: `state state-${x.reproduced ? "success" : "failed"}` }, x.reproduced ? "reproduced: yes" : "reproduced: no")),
    ),
  );
  return [
    h("h2", { class: "lock-title" }, "Run lock ", lock.kept ? h("span", { class: "chip kept", title: lock.kept_reason || "" }, "kept") : null),
    h(
      "p",
      { class: "muted" },
      `Every read of these refs in pipeline run ${lock.pipeline_run} got the same version`,
      lock.replay_of ? ` (a replay of ${lock.replay_of})` : "",
      ".",
    ),
    table(["Ref", "Version", "First read by", "At"], rows, "lock-table"),
    replays.length ? [h("h2", {}, "Replay"), table(["Output", "Original", "Replay", "Result"], replays, "replay-table")] : null,
  ];
}

async function runPage(id, mine) {
  const r = await api(`runs/${enc(id)}`);
  if (!stillCurrent(mine)) return null;
  const lock = await runLock(r);
  if (!stillCurrent(mine)) return null;
  const versionRows = (list) =>
    list.map((v) =>
      h(
        "tr",
        {},
        h("td", {}, h("a", { href: link.version(v.project, v.name, v.version) }, `${v.project}/${v.name}:${v.version}`)),
        h("td", {}, v.type || ""),
        h("td", {}, chips(v.aliases, "alias")),
        h("td", { class: "num" }, fmtBytes(v.size)),
      ),
    );
  const facts = [
    ["Run id", r.id],
    ["Orchestrator", r.orchestrator],
    ["Pipeline", r.pipeline],
    ["Pipeline run", r.pipeline_run],
    ["Task", r.task],
    ["Try", r.try_number],
    ["Map index", r.map_index],
    ["Host", r.host],
    ["State", r.state],
    ["Started", fmtDate(r.started_at)],
    ["Ended", fmtDate(r.ended_at)],
  ].filter(([, val]) => val !== null && val !== undefined && val !== "" && val !== -1);
  return h(
    "section",
    { class: "page run-page" },
    h("nav", { class: "crumbs" }, h("a", { href: "#/runs" }, "Runs"), " / "),
    h("h1", {}, "Run ", r.name || r.id, " ", r.state ? h("span", { class: `state state-${r.state.toLowerCase()}` }, r.state) : null),
    h("dl", { class: "facts" }, facts.map(([k, val]) => [h("dt", {}, k), h("dd", {}, String(val))])),
    r.error ? [h("h2", {}, "Error"), h("pre", { class: "error" }, r.error)] : null,
    Object.keys(r.info || {}).length ? [h("h2", {}, "Info"), metadataTable(r.info)] : null,
    h("h2", {}, "Used"),
    table(["Version", "Type", "Aliases", "Size"], versionRows(r.used)),
    h("h2", {}, "Logged"),
    table(["Version", "Type", "Aliases", "Size"], versionRows(r.logged)),
    lockSection(lock),
  );
}

// ---------------------------------------------------------------------------------------------
// API reference (rendered from the OpenAPI document; no external Swagger assets)

async function apiPage(_m, mine) {
  const doc = await api("openapi.json");
  if (!stillCurrent(mine)) return null;
  const ops = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) ops.push({ path, method: method.toUpperCase(), op });
  }
  return h(
    "section",
    { class: "page api-page" },
    h("h1", {}, doc.info.title, " API ", h("span", { class: "muted" }, doc.info.version)),
    h(
      "p",
      {},
      "All paths are relative to this page. The machine-readable description is ",
      h("a", { href: "api/openapi.json" }, "api/openapi.json"),
      ". Lists take ",
      h("code", {}, "offset"),
      " and ",
      h("code", {}, "limit"),
      " and answer ",
      h("code", {}, "{items, total, offset, limit}"),
      ".",
    ),
    ops.map(({ path, method, op }) =>
      h(
        "article",
        { class: "op" },
        h("h3", {}, h("span", { class: `method ${method.toLowerCase()}` }, method), " ", h("code", {}, `api${path.replace(/^\/api/, "")}`)),
        op.summary ? h("p", {}, h("strong", {}, op.summary)) : null,
        op.description ? h("p", { class: "desc" }, op.description) : null,
        (op.parameters || []).length
          ? table(
              ["Parameter", "In", "Type", "Description"],
              op.parameters.map((p) =>
                h(
                  "tr",
                  {},
                  h("td", { class: "mono" }, p.name, p.required ? " *" : ""),
                  h("td", {}, p.in),
                  h("td", {}, schemaType(p.schema)),
                  h("td", {}, p.description || (p.schema && p.schema.description) || ""),
                ),
              ),
            )
          : null,
        method === "GET" && !path.includes("{")
          ? h("p", {}, h("a", { href: path.replace(/^\//, ""), target: "_blank", rel: "noopener" }, "Open"))
          : null,
      ),
    ),
  );
}

function schemaType(schema) {
  if (!schema) return "";
  if (schema.anyOf) return schema.anyOf.map(schemaType).filter((t) => t !== "null").join(" | ");
  return schema.type || "";
}

// ---------------------------------------------------------------------------------------------

async function start() {
  // the first page is asked for while the configuration loads (one round trip less); the
  // pages that offer writes wait for it before they build (configReady)
  state.configReady = api("config").then(
    (config) => {
      state.config = config;
    },
    () => {
      state.config = { allow_writes: false };
    },
  );
  state.configReady.then(() => {
    document.getElementById("mode").textContent = state.config.allow_writes ? "writes enabled" : "read-only";
  });
  window.addEventListener("hashchange", render);
  await render();
}

start();

"""Impact analysis: everything built from a version, the aliases on it, and how to rebuild it.

:func:`impact` walks *downstream* from one version, level by level: the runs that consumed it
(``run.use``, artifact-task inputs, from Airflow, Prefect or manual runs alike) and what they
logged, and registry members linking it, until nothing new is found (or ``depth`` steps).
Each version found keeps the shortest path that connects it to the root. :func:`rebuild_plan`
turns an impact into the producing tasks to re-run, in dependency order, grouped by pipeline
run, each with the exact command.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> def draft(name, text):
    ...     a = Artifact(name)
    ...     with a.new_file("x.txt") as f:
    ...         _ = f.write(text)
    ...     return a
    >>> raw = reg.log(draft("raw", "1"))
    >>> with reg.run("featurize") as run:
    ...     _ = run.use("raw:v0")
    ...     _ = run.log(draft("features", "2"), aliases=["production"])
    >>> result = impact(reg, "raw:v0")
    >>> [v.ref for v in result.versions], [a.ref for a in result.aliases]
    (['default/features:v0'], ['default/features:latest', 'default/features:production'])
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..catalog import control_sql as sql
from ..exceptions import InvalidRefError
from ..refs import LATEST

if TYPE_CHECKING:
    from ..registry import Registry
    from ..version import ArtifactVersion

__all__ = [
    "IMPACT_SCHEMA",
    "AffectedAlias",
    "Impact",
    "ImpactedVersion",
    "RebuildStep",
    "impact",
    "impact_of_walk",
    "rebuild_plan",
    "walk_downstream",
]

#: the ``schema`` field of :meth:`Impact.to_dict` (bumped on incompatible changes)
IMPACT_SCHEMA = "artiflow.impact/1"
MAX_DEPTH = 10_000


@dataclass(frozen=True)
class ImpactedVersion:
    """A version built (transitively) from the root.

    ``path`` lists the version refs from the root to this one (the shortest connection);
    ``via`` the run id of each step (None for a registry link), so ``len(via) == depth``.
    """

    ref: str
    project: str
    collection: str
    version: str
    index: int | None
    state: str
    depth: int
    aliases: tuple[str, ...]
    path: tuple[str, ...]
    via: tuple[str | None, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "project": self.project,
            "collection": self.collection,
            "version": self.version,
            "index": self.index,
            "state": self.state,
            "depth": self.depth,
            "aliases": list(self.aliases),
            "path": list(self.path),
            "via": list(self.via),
        }


@dataclass(frozen=True)
class AffectedAlias:
    """An alias that points at an impacted version now (``default/model:production``)."""

    ref: str
    collection: str
    alias: str
    version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "collection": self.collection,
            "alias": self.alias,
            "version": self.version,
        }


@dataclass(frozen=True)
class Impact:
    """What a version affects: :attr:`versions` (nearest first), :attr:`aliases` on them."""

    root: str
    depth: int | None
    versions: tuple[ImpactedVersion, ...]
    aliases: tuple[AffectedAlias, ...]
    root_id: int = field(default=0, repr=False, compare=False)
    ids: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.versions)

    @property
    def refs(self) -> list[str]:
        """The refs of the impacted versions, nearest first."""
        return [v.ref for v in self.versions]

    def by_collection(self) -> dict[str, list[ImpactedVersion]]:
        """Impacted versions grouped by ``project/collection`` (collections sorted)."""
        out: dict[str, list[ImpactedVersion]] = {}
        for v in sorted(self.versions, key=lambda v: (v.project, v.collection, v.index or 0)):
            out.setdefault(f"{v.project}/{v.collection}", []).append(v)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form (``docs/bad-data.md``, schema ``artiflow.impact/1``)."""
        return {
            "schema": IMPACT_SCHEMA,
            "root": self.root,
            "depth": self.depth,
            "count": len(self.versions),
            "versions": [v.to_dict() for v in self.versions],
            "aliases": [a.to_dict() for a in self.aliases],
            "collections": {c: [v.ref for v in vs] for c, vs in self.by_collection().items()},
        }


def walk_downstream(
    registry: Registry, root_id: int, depth: int | None = None, *, conn: Any = None
) -> dict[int, tuple[int, int | None, str | None]]:
    """Every version id reachable downstream of ``root_id`` within ``depth`` steps, mapped to
    ``(depth, parent id, run id of the step)`` along a shortest path (the root maps to
    ``(0, None, None)``; among equally short steps, the smallest parent id, then run id, a
    registry link last). On PostgreSQL one statement (``artiflow_downstream``, migration
    0007), on SQLite one per level; in ``conn`` when given (else a read transaction of its own).

    Example:
        >>> # walk_downstream(reg, reg.get("raw:v0").id, 5)  {root: (0, None, None), ...}
    """
    limit = MAX_DEPTH if depth is None else min(depth, MAX_DEPTH)
    found: dict[int, tuple[int, int | None, str | None]] = {root_id: (0, None, None)}
    with registry.catalog.read(conn) as conn:
        if conn.dialect.name == "postgresql":
            for vid, d, parent, run_id in sql.downstream_walk(conn, root_id, limit):
                found[vid] = (d, parent, run_id)
            return found
        level = [root_id]
        d = 0
        while level and d < limit:
            d += 1
            best: dict[int, tuple[int, str | None]] = {}
            for src, run_id, dst in sql.downstream_steps(conn, level):
                if dst in found:
                    continue
                held = best.get(dst)
                if held is None or _step_key(src, run_id) < _step_key(*held):
                    best[dst] = (src, run_id)
            level = sorted(best)
            for dst in level:
                found[dst] = (d, *best[dst])
    return found


def _step_key(src: int, run_id: str | None) -> tuple[int, bool, str]:
    """The order among equally short steps (what ``artiflow_downstream`` picks first)."""
    return (src, run_id is None, run_id or "")


def impact(registry: Registry, ref: Any, depth: int | None = None) -> Impact:
    """Every version built from ``ref`` (transitively), the aliases on them, and the paths.

    ``ref`` is a ref string or an :class:`~artiflow.ArtifactVersion`; a quarantined version can
    be analysed (its ``vN`` always resolves). ``depth`` bounds the number of steps.

    Example:
        >>> # registry.impact("bike-dataset:v3").by_collection()
    """
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 0):
        raise InvalidRefError(f"invalid depth {depth!r}: use a whole number >= 0, or None")
    root = _version(registry, ref)
    cat = registry.catalog
    if cat.dialect == "postgresql":  # one statement: no BEGIN / COMMIT round trips either
        limit = MAX_DEPTH if depth is None else min(depth, MAX_DEPTH)
        with cat.engine.connect() as conn:
            conn.execution_options(**cat.single_read)
            found, rows = sql.impact_walk(conn, root.id, limit)
        found[root.id] = (0, None, None)
        return _assemble(root, found, rows, depth)
    with cat.read() as conn:  # the walk and its rows: one transaction
        found = walk_downstream(registry, root.id, depth, conn=conn)
        return impact_of_walk(registry, root, found, depth, conn=conn)


def impact_of_walk(
    registry: Registry,
    root: ArtifactVersion,
    found: dict[int, tuple[int, int | None, str | None]],
    depth: int | None = None,
    *,
    conn: Any = None,
) -> Impact:
    """The :class:`Impact` of ``root`` from a :func:`walk_downstream` result ``found`` (its
    rows read in ``conn`` when given).

    Example:
        >>> # impact_of_walk(reg, version, walk_downstream(reg, version.id))
    """
    with registry.catalog.read(conn) as conn:
        rows = sql.impact_rows(conn, [i for i in found if i != root.id])
    return _assemble(root, found, rows, depth)


def _assemble(
    root: ArtifactVersion,
    found: dict[int, tuple[int, int | None, str | None]],
    rows: dict[int, Any],
    depth: int | None,
) -> Impact:
    """The :class:`Impact` of a walk ``found`` (the root included) and the rows it found."""
    refs = {root.id: root.ref, **{i: r.ref for i, r in rows.items()}}
    impacted: list[ImpactedVersion] = []
    aliases: list[AffectedAlias] = []
    for vid, (d, _parent, _run) in sorted(found.items(), key=lambda kv: (kv[1][0], kv[0])):
        row = rows.get(vid)
        if vid == root.id or row is None:
            continue
        path: list[str] = []
        via: list[str | None] = []
        cur: int | None = vid
        while cur is not None:
            path.append(refs.get(cur, f"#{cur}"))
            _d, parent, run_id = found[cur]
            if parent is not None:
                via.append(run_id)
            cur = parent
        names = list(row.aliases)
        if row.is_latest and LATEST not in names:
            names.insert(0, LATEST)
        impacted.append(
            ImpactedVersion(
                ref=row.ref,
                project=row.project,
                collection=row.name,
                version=row.version,
                index=row.index,
                state=row.state,
                depth=d,
                aliases=tuple(names),
                path=tuple(reversed(path)),
                via=tuple(reversed(via)),
            )
        )
        for a in names:
            aliases.append(AffectedAlias(f"{row.project}/{row.name}:{a}", row.name, a, row.ref))
    return Impact(
        root=root.ref,
        depth=depth,
        versions=tuple(impacted),
        aliases=tuple(aliases),
        root_id=root.id,
        ids=tuple(v for v in found if v != root.id),
    )


# ---- the rebuild plan --------------------------------------------------------------------------
@dataclass(frozen=True)
class RebuildStep:
    """One thing to re-run: a pipeline run (all its affected tasks) or one manual run."""

    orchestrator: str
    pipeline: str | None
    pipeline_run: str | None
    tasks: tuple[str, ...]
    outputs: tuple[str, ...]
    replace: dict[str, str]
    command: str
    inputs: dict[str, str] = field(default_factory=dict)  # the command's --input COLL=REF

    def to_dict(self) -> dict[str, Any]:
        return {
            "orchestrator": self.orchestrator,
            "pipeline": self.pipeline,
            "pipeline_run": self.pipeline_run,
            "tasks": list(self.tasks),
            "outputs": list(self.outputs),
            "replace": dict(self.replace),
            "command": self.command,
            "inputs": dict(self.inputs),
        }


def _command(
    orchestrator: str,
    pipeline: str | None,
    pipeline_run: str | None,
    task: str,
    inputs: dict[str, str] | None = None,
) -> str:
    if pipeline_run and orchestrator in ("airflow", "prefect"):
        cmd = ["artiflow", "replay", pipeline_run, "--orchestrator", orchestrator]
        if pipeline:
            cmd += ["--pipeline", pipeline]
        for coll, ref in sorted((inputs or {}).items()):
            cmd += ["--input", f"{coll}={ref}"]
        return shlex.join(cmd)
    where = f" of {pipeline}" if pipeline else ""
    return f"# re-run {task}{where} by hand (a {orchestrator} run: nothing to replay)"


def rebuild_plan(
    registry: Registry, result: Impact, replace_with: str | dict[str, str] | None = None
) -> list[RebuildStep]:
    """The producing tasks of the impacted versions, in dependency order (a task after every
    task whose output it consumed), grouped by pipeline run, each with its command.

    The steps that consumed the root directly carry ``replace = {root: replacement}``
    (``replace_with``: a ref, or ``{old version ref: new ref}``; else a placeholder) and their
    ``artiflow replay`` command replaces that input (``--input raw=raw:v5``); a step that
    consumed what an earlier step rebuilds reads its collection's ``latest`` (run the steps in
    order: the earlier one made it).

    Example:
        >>> # for step in rebuild_plan(reg, reg.impact("raw:v3"), "raw:v5"): print(step.command)
    """
    cat = registry.catalog
    impacted = set(result.ids)
    if not impacted:
        return []
    producers: dict[str, set[int]] = {}
    for run_id, vid in cat.io_of_versions(sorted(impacted), "logged"):
        producers.setdefault(run_id, set()).add(vid)
    run_rows = cat.runs_by_ids(sorted(producers))
    with cat.read() as conn:
        consumed = sql.used_by_runs(conn, sorted(producers))
    inputs: dict[str, set[int]] = {}
    for run_id, vid in consumed:
        inputs.setdefault(run_id, set()).add(vid)
    made_by: dict[int, set[str]] = {}
    for run_id, vids in producers.items():
        for v in vids:
            made_by.setdefault(v, set()).add(run_id)
    started = {r: run_rows[r].started_at if r in run_rows else None for r in producers}
    order = _dependency_order(producers, inputs, made_by, started)
    rows = cat.versions_by_ids(list(result.ids))
    root_coll = result.root.rsplit(":", 1)[0]
    replacement = _replacement(registry, result, replace_with)
    steps: list[RebuildStep] = []
    index: dict[tuple[str, str | None, str], int] = {}
    for run_id in order:
        row = run_rows.get(run_id)
        orch = row.orchestrator if row else "manual"
        pipeline = row.pipeline if row else None
        prun = row.pipeline_run if row else None
        task = (row.task or row.name) if row else run_id
        outputs = tuple(sorted(rows[v].ref for v in producers[run_id] if v in rows))
        replace = {result.root: replacement} if result.root_id in inputs.get(run_id, ()) else {}
        key = (orch, pipeline, prun) if prun and orch in ("airflow", "prefect") else None
        mine = {
            r
            for r in producers
            if key is not None
            and run_rows.get(r) is not None
            and (run_rows[r].orchestrator, run_rows[r].pipeline, run_rows[r].pipeline_run) == key
        }
        mine.add(run_id)
        swap = {root_coll: replacement} if replace else {}
        for v in inputs.get(run_id, ()):  # rebuilt by an earlier step (another pipeline run)
            if v in rows and v in made_by and not (made_by[v] & mine):
                coll = f"{rows[v].project}/{rows[v].name}"
                swap.setdefault(coll, f"{coll}:latest")
        if key is not None and key in index:
            old = steps[index[key]]
            steps[index[key]] = RebuildStep(
                old.orchestrator,
                old.pipeline,
                old.pipeline_run,
                tuple(dict.fromkeys([*old.tasks, task])),
                tuple(dict.fromkeys([*old.outputs, *outputs])),
                {**old.replace, **replace},
                _command(orch, pipeline, prun, task, {**old.inputs, **swap}),
                {**old.inputs, **swap},
            )
            continue
        if key is not None:
            index[key] = len(steps)
        steps.append(
            RebuildStep(
                orch,
                pipeline,
                prun,
                (task,),
                outputs,
                replace,
                _command(orch, pipeline, prun, task, swap),
                swap,
            )
        )
    return steps


def _dependency_order(
    producers: dict[str, set[int]],
    inputs: dict[str, set[int]],
    made_by: dict[int, set[str]],
    started: dict[str, Any],
) -> list[str]:
    """Kahn's algorithm over runs: a run after every run that made what it consumed (ties and
    cycles by start time, then id; the runs of a cycle are all kept)."""
    deps = {
        r: {p for v in inputs.get(r, ()) for p in made_by.get(v, ()) if p != r} for r in producers
    }
    order: list[str] = []
    ready = sorted((r for r, d in deps.items() if not d), key=lambda r: (str(started[r]), r))
    pending = {r: set(d) for r, d in deps.items() if d}
    while ready:
        r = ready.pop(0)
        order.append(r)
        freed = [p for p, d in pending.items() if r in d and not (d - {r})]
        for d in pending.values():
            d.discard(r)
        for p in freed:
            del pending[p]
        ready = sorted([*ready, *freed], key=lambda x: (str(started[x]), x))
    order.extend(sorted(pending, key=lambda r: (str(started[r]), r)))  # cycles: keep them all
    return order


def _replacement(
    registry: Registry, result: Impact, replace_with: str | dict[str, str] | None
) -> str:
    """What the root is replaced by in the plan: the named ref, or a placeholder."""
    root_coll = result.root.rsplit(":", 1)[0]
    if isinstance(replace_with, dict):
        named = {registry.get(k, allow_quarantined=True).ref: v for k, v in replace_with.items()}
        return named.get(result.root) or f"<a clean version of {root_coll}>"
    return replace_with or f"<a clean version of {root_coll}>"


def _version(registry: Registry, ref: Any) -> ArtifactVersion:
    from ..version import ArtifactVersion

    if isinstance(ref, ArtifactVersion):
        return ref
    return registry.get(ref, allow_quarantined=True)


def describe(result: Impact, steps: Sequence[RebuildStep] | None = None) -> str:
    """The human form of an impact (grouped by collection) and, given, of its rebuild plan.

    Example:
        >>> print(describe(Impact("default/raw:v3", None, (), ())))
        default/raw:v3: nothing was built from it
    """
    if not result.versions:
        lines = [f"{result.root}: nothing was built from it"]
    else:
        n = len(result.versions)
        lines = [f"{result.root}: {n} version{'s' if n != 1 else ''} built from it"]
        for coll, vs in result.by_collection().items():
            lines.append(f"  {coll}")
            for v in vs:
                labels = f" [{', '.join(v.aliases)}]" if v.aliases else ""
                state = "" if v.state == "COMMITTED" else f" ({v.state.lower()})"
                lines.append(f"    {v.version}{labels}{state}  via {' -> '.join(v.path)}")
        user = [a.ref for a in result.aliases if a.alias != LATEST]
        if user:
            lines.append(f"aliases on them: {', '.join(user)}")
    if steps is not None:
        lines.append("rebuild plan:" if steps else "rebuild plan: nothing to re-run")
        for i, s in enumerate(steps, 1):
            what = f"{s.orchestrator} {s.pipeline or ''} {s.pipeline_run or ''}".split()
            lines.append(f"  {i}. {' '.join(what)}: {', '.join(s.tasks)} -> {', '.join(s.outputs)}")
            for old, new in s.replace.items():
                lines.append(f"     with {old} replaced by {new}")
            lines.append(f"     {s.command}")
    return "\n".join(lines)

"""Lineage diff of two versions of one collection: upstream versions, run parameters, files.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> def draft(text):
    ...     a = Artifact("notes")
    ...     with a.new_file("a.txt") as f:
    ...         _ = f.write(text)
    ...     return a
    >>> _ = reg.log(draft("one")); _ = reg.log(draft("two!"))
    >>> d = diff(reg, "notes:v0", "notes:v1")
    >>> d.same, [c.path for c in d.files]
    (False, ['a.txt'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..catalog import control_sql as sql
from ..exceptions import InvalidRefError

if TYPE_CHECKING:
    from ..registry import Registry
    from ..version import ArtifactVersion

__all__ = ["FileChange", "InputChange", "LineageDiff", "ValueChange", "diff"]

_ABSENT: Any = None


@dataclass(frozen=True)
class InputChange:
    """An upstream collection whose versions differ: ``old``/``new`` refs with their digests."""

    collection: str
    old: tuple[str, ...]
    new: tuple[str, ...]
    old_digests: tuple[str | None, ...]
    new_digests: tuple[str | None, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "old": list(self.old),
            "new": list(self.new),
            "old_digests": list(self.old_digests),
            "new_digests": list(self.new_digests),
        }


@dataclass(frozen=True)
class ValueChange:
    """A run parameter (``run.<key>``) or version metadata (``metadata.<key>``) that differs."""

    key: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class FileChange:
    """A manifest entry ``added``, ``removed`` or ``changed``, with its sizes."""

    path: str
    change: str
    old_size: int | None
    new_size: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "change": self.change,
            "old_size": self.old_size,
            "new_size": self.new_size,
        }


@dataclass(frozen=True)
class LineageDiff:
    """What differs between :attr:`a` and :attr:`b`; :attr:`same` when nothing does."""

    a: str
    b: str
    inputs: tuple[InputChange, ...]
    parameters: tuple[ValueChange, ...]
    files: tuple[FileChange, ...]

    @property
    def same(self) -> bool:
        return not (self.inputs or self.parameters or self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "same": self.same,
            "inputs": [c.to_dict() for c in self.inputs],
            "parameters": [c.to_dict() for c in self.parameters],
            "files": [c.to_dict() for c in self.files],
        }

    def describe(self) -> str:
        """Human form (what ``artiflow diff`` prints)."""
        if self.same:
            return f"{self.a} and {self.b}: same lineage, parameters and files"
        lines = [f"{self.a} -> {self.b}"]
        for c in self.inputs:
            old = ", ".join(r.rsplit(":", 1)[1] for r in c.old) or "-"
            new = ", ".join(r.rsplit(":", 1)[1] for r in c.new) or "-"
            lines.append(f"  input {c.collection}: {old} -> {new}")
        for p in self.parameters:
            lines.append(f"  {p.key}: {p.old!r} -> {p.new!r}")
        for f in self.files:
            lines.append(f"  {f.change} {f.path} ({f.old_size} -> {f.new_size} bytes)")
        return "\n".join(lines)


def _upstream(registry: Registry, version_id: int) -> dict[str, dict[str, str | None]]:
    """Every version upstream, ``project/name`` -> {ref: digest}."""
    seen = {version_id}
    level = [version_id]
    with registry.catalog.read() as conn:
        while level:
            nxt = []
            for _v, _run, src in sql.upstream_steps(conn, level):
                if src not in seen:
                    seen.add(src)
                    nxt.append(src)
            level = nxt
    seen.discard(version_id)
    out: dict[str, dict[str, str | None]] = {}
    for row in registry.catalog.versions_by_ids(sorted(seen)).values():
        out.setdefault(f"{row.project}/{row.name}", {})[row.ref] = row.digest
    return out


def _params(version: ArtifactVersion) -> dict[str, Any]:
    run = version.logged_by()
    out = {f"metadata.{k}": v for k, v in version.metadata.items()}
    if run is not None:
        out.update({f"run.{k}": v for k, v in run.info.items()})
    return out


def diff(registry: Registry, a: Any, b: Any) -> LineageDiff:
    """Compare two versions of one collection (refs or versions; ``vN`` of quarantined ones
    work).

    Example:
        >>> # registry.diff("bike-demand-model:v4", "bike-demand-model:v5").describe()
    """
    from ..version import ArtifactVersion

    va = a if isinstance(a, ArtifactVersion) else registry.get(a, allow_quarantined=True)
    vb = b if isinstance(b, ArtifactVersion) else registry.get(b, allow_quarantined=True)
    if (va.project, va.collection) != (vb.project, vb.collection):
        raise InvalidRefError(
            f"diff compares two versions of one collection; {va.ref} and {vb.ref} are not: "
            "compare their lineage with `artiflow lineage` instead"
        )
    up_a, up_b = _upstream(registry, va.id), _upstream(registry, vb.id)
    inputs = []
    for coll in sorted(set(up_a) | set(up_b)):
        old, new = up_a.get(coll, {}), up_b.get(coll, {})
        if set(old) != set(new):
            o, n = sorted(old), sorted(new)
            inputs.append(
                InputChange(
                    coll, tuple(o), tuple(n), tuple(old[r] for r in o), tuple(new[r] for r in n)
                )
            )
    pa, pb = _params(va), _params(vb)
    params = [
        ValueChange(k, pa.get(k, _ABSENT), pb.get(k, _ABSENT))
        for k in sorted(set(pa) | set(pb))
        if k not in pa or k not in pb or pa[k] != pb[k]
    ]
    ea, eb = va.manifest.entries, vb.manifest.entries
    files = []
    for path in sorted(set(ea) | set(eb)):
        x, y = ea.get(path), eb.get(path)
        if x is None and y is not None:
            files.append(FileChange(path, "added", None, y.size))
        elif y is None and x is not None:
            files.append(FileChange(path, "removed", x.size, None))
        elif x is not None and y is not None and (x.digest, x.ref) != (y.digest, y.ref):
            files.append(FileChange(path, "changed", x.size, y.size))
    return LineageDiff(va.ref, vb.ref, tuple(inputs), tuple(params), tuple(files))

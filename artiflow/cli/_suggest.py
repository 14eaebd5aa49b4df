"""Close-name suggestions for a ref that names nothing: ``did you mean bike-dataset?``.

When a collection does not exist, the names of the collections in its project (and the projects
holding that exact name) are compared with :func:`difflib.get_close_matches`; when the
collection exists but the alias does not, the aliases its versions hold are. Only reads.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> art = Artifact("bike-dataset")
    >>> with art.new_file("a.txt") as f:
    ...     _ = f.write("x")
    >>> _ = reg.log(art, aliases=["production"])
    >>> did_you_mean(reg, "bike-datset")
    ['bike-dataset']
    >>> did_you_mean(reg, "bike-dataset:prodution")
    ['bike-dataset:production']
"""

from __future__ import annotations

import difflib

from ..exceptions import ArtiflowError
from ..refs import is_semver, is_version_index, parse_ref
from ..registry import Registry

__all__ = ["did_you_mean", "hint"]

CUTOFF = 0.6  # difflib's default: "bike-datset" ~ "bike-dataset", "prodution" ~ "production"


def did_you_mean(reg: Registry, ref: str, *, limit: int = 3) -> list[str]:
    """Refs close to ``ref`` that exist, best first (empty when nothing is close)."""
    try:
        r = parse_ref(ref, reg.default_project)
    except ArtiflowError:
        return []
    explicit_project = "/" in ref.split(":", 1)[0]
    sel = "" if ":" not in ref else f":{r.selector}"
    in_project = [c.name for c in reg.collections(project=r.project)]
    if r.name not in in_project:
        names = difflib.get_close_matches(r.name, in_project, n=limit, cutoff=CUTOFF)
        prefix = f"{r.project}/" if explicit_project else ""
        out = [f"{prefix}{n}{sel}" for n in names]
        # the same name in another project (``ml/model`` asked as ``model``)
        out += [
            f"{c.project}/{c.name}{sel}"
            for c in reg.collections(search=r.name)
            if c.name == r.name and c.project != r.project
        ]
        return out[:limit]
    if r.is_latest or is_version_index(r.selector) or is_semver(r.selector):
        return []
    held = sorted({a for v in reg.versions(r.collection) for a in v.aliases})
    body = ref.rsplit(":", 1)[0]
    return [
        f"{body}:{a}" for a in difflib.get_close_matches(r.selector, held, n=limit, cutoff=CUTOFF)
    ]


def hint(reg: Registry, ref: str) -> str:
    """``did you mean a or b?`` for :func:`did_you_mean`'s answer, or ``""``.

    Example:
        >>> # hint(registry, "bike-datset") -> "did you mean bike-dataset?"
    """
    close = did_you_mean(reg, ref)
    return f"did you mean {' or '.join(close)}?" if close else ""

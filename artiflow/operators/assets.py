"""Airflow Assets for artiflow collections and aliases.

Every collection is an Asset ``x-artiflow://<project>/<name>``; every alias of a collection is an
Asset of its own, ``x-artiflow://<project>/<name>/alias/<alias>``, so a DAG can be scheduled on
"new version of the dataset" or on "model promoted to production". The ``x-`` scheme keeps
Airflow from normalising the URI.

Example:
    >>> artifact_asset("bike-dataset").uri
    'x-artiflow://default/bike-dataset'
    >>> alias_asset("churn-model", "production").uri
    'x-artiflow://default/churn-model/alias/production'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow.sdk import Asset

from artiflow.refs import parse_ref

from ._registry import default_project

__all__ = [
    "SCHEME",
    "alias_asset",
    "alias_uri",
    "artifact_asset",
    "artifact_uri",
    "event_extra",
    "split_uri",
]

SCHEME = "x-artiflow"


def _collection(ref: str, project: str | None) -> tuple[str, str]:
    r = parse_ref(ref, default_project=project or default_project())
    return r.project, r.name


def artifact_uri(ref: str, project: str | None = None) -> str:
    """The asset URI of a collection (any selector in ``ref`` is ignored).

    Example:
        >>> artifact_uri("team/model:v3")
        'x-artiflow://team/model'
    """
    p, n = _collection(ref, project)
    return f"{SCHEME}://{p}/{n}"


def alias_uri(ref: str, alias: str, project: str | None = None) -> str:
    """The asset URI of one alias of a collection.

    Example:
        >>> alias_uri("model", "production")
        'x-artiflow://default/model/alias/production'
    """
    return f"{artifact_uri(ref, project)}/alias/{alias}"


def artifact_asset(ref: str, project: str | None = None, **kwargs: Any) -> Asset:
    """An Airflow :class:`~airflow.sdk.Asset` for a collection: use it in ``schedule=[...]``.

    Example:
        >>> artifact_asset("bike-dataset").name
        'x-artiflow://default/bike-dataset'
    """
    return Asset(artifact_uri(ref, project), **kwargs)


def alias_asset(ref: str, alias: str, project: str | None = None, **kwargs: Any) -> Asset:
    """An Asset that receives an event each time ``alias`` moves (e.g. a promotion).

    Example:
        >>> alias_asset("churn-model", "production").uri
        'x-artiflow://default/churn-model/alias/production'
    """
    return Asset(alias_uri(ref, alias, project), **kwargs)


def split_uri(uri: str) -> tuple[str, str, str | None] | None:
    """``(project, name, alias or None)`` for an artiflow asset URI, else None.

    Example:
        >>> split_uri("x-artiflow://default/model/alias/production")
        ('default', 'model', 'production')
        >>> split_uri("s3://bucket/key") is None
        True
    """
    prefix = f"{SCHEME}://"
    if not uri.startswith(prefix):
        return None
    parts = uri[len(prefix) :].split("/")
    if len(parts) == 2:
        return parts[0], parts[1], None
    if len(parts) == 4 and parts[2] == "alias":
        return parts[0], parts[1], parts[3]
    return None


def event_extra(
    version: Any,
    *,
    alias: str | None = None,
    previous: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """The asset-event extra for a version: ref, version, digest, aliases (JSON-safe).

    ``version`` is an :class:`artiflow.ArtifactVersion` or an :class:`artiflow.RegistryEvent`.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> v = NS(ref="default/m:v1", version="v1", digest="ab", aliases=["latest"],
        ...        project="default", collection="m")
        >>> event_extra(v)["ref"]
        'default/m:v1'
    """
    name = getattr(version, "collection", None) or getattr(version, "name", None)
    extra: dict[str, Any] = {
        "ref": version.ref,
        "project": version.project,
        "name": name,
        "version": version.version,
        "digest": version.digest,
        "aliases": sorted(str(a) for a in (getattr(version, "aliases", None) or [])),
    }
    if alias is not None:
        extra["alias"] = alias
    if previous is not None:
        extra["previous"] = previous
    if run_id is not None:
        extra["artiflow_run"] = run_id
    return extra


def unique_assets(assets: Iterable[Any]) -> list[Any]:
    """Drop duplicate assets, keeping order."""
    seen: set[tuple[str, str]] = set()
    out = []
    for a in assets:
        key = (getattr(a, "name", repr(a)), getattr(a, "uri", repr(a)))
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out

"""Airflow Assets for artiflow collections and aliases.

Every collection is an Asset ``x-artiflow://<registry>/<project>/<name>``; every alias of a
collection is an Asset of its own, ``x-artiflow://<registry>/<project>/<name>/alias/<alias>``, so a
DAG can be scheduled on "new version of the dataset" or on "model promoted to production".
``<registry>`` is the registry identity (:mod:`artiflow.identity`, ``ARTIFLOW_REGISTRY_NAME``),
so the Assets of two registries never collide. The ``x-`` scheme keeps Airflow from normalising
the URI.

Migration from ``x-artiflow://<project>/<name>`` (artiflow before the registry identity): the
helpers below and every artifact task use the new URIs; a DAG that spells an old URI out
(``Asset("x-artiflow://default/ds")``) must use :func:`artifact_asset` / :func:`alias_asset`
instead. An outlet declared by hand with an old URI still receives the event extras.

Example:
    >>> artifact_asset("bike-dataset", registry="prod").uri
    'x-artiflow://prod/default/bike-dataset'
    >>> alias_asset("churn-model", "production", registry="prod").uri
    'x-artiflow://prod/default/churn-model/alias/production'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow.sdk import Asset, AssetAlias

from artiflow.identity import AIRFLOW_SCHEME, airflow_asset_uri, parse_airflow_asset_uri
from artiflow.refs import parse_ref

from ._registry import default_project, registry_identity

__all__ = [
    "ALIAS_PREFIX",
    "SCHEME",
    "alias_asset",
    "alias_uri",
    "artifact_alias",
    "artifact_asset",
    "artifact_uri",
    "event_extra",
    "is_artifact_alias",
    "same_asset",
    "split_uri",
]

SCHEME = AIRFLOW_SCHEME
#: the name of every artiflow AssetAlias starts so (``artiflow:<registry>[:<label>]``)
ALIAS_PREFIX = "artiflow:"


def _collection(ref: str, project: str | None) -> tuple[str, str]:
    r = parse_ref(ref, default_project=project or default_project())
    return r.project, r.name


def artifact_uri(ref: str, project: str | None = None, registry: str | None = None) -> str:
    """The asset URI of a collection (any selector in ``ref`` is ignored).

    ``registry`` defaults to the tasks' registry identity (from the environment).

    Example:
        >>> artifact_uri("team/model:v3", registry="prod")
        'x-artiflow://prod/team/model'
    """
    p, n = _collection(ref, project)
    return airflow_asset_uri(registry or registry_identity(), p, n)


def alias_uri(ref: str, alias: str, project: str | None = None, registry: str | None = None) -> str:
    """The asset URI of one alias of a collection.

    Example:
        >>> alias_uri("model", "production", registry="prod")
        'x-artiflow://prod/default/model/alias/production'
    """
    p, n = _collection(ref, project)
    return airflow_asset_uri(registry or registry_identity(), p, n, alias=alias)


def artifact_asset(
    ref: str, project: str | None = None, registry: str | None = None, **kwargs: Any
) -> Asset:
    """An Airflow :class:`~airflow.sdk.Asset` for a collection: use it in ``schedule=[...]``.

    Example:
        >>> artifact_asset("bike-dataset", registry="prod").name
        'x-artiflow://prod/default/bike-dataset'
    """
    return Asset(artifact_uri(ref, project, registry), **kwargs)


def alias_asset(
    ref: str, alias: str, project: str | None = None, registry: str | None = None, **kwargs: Any
) -> Asset:
    """An Asset that receives an event each time ``alias`` moves (e.g. a promotion).

    Example:
        >>> alias_asset("churn-model", "production", registry="prod").uri
        'x-artiflow://prod/default/churn-model/alias/production'
    """
    return Asset(alias_uri(ref, alias, project, registry), **kwargs)


def artifact_alias(label: str | None = None, registry: str | None = None) -> AssetAlias:
    """An :class:`~airflow.sdk.AssetAlias` for the assets an artifact task only knows at run
    time: put it in ``outlets=[...]`` and every registry event of the try that no declared
    Asset outlet receives (a version logged or an alias moved by the task's own code) becomes
    ``outlet_events[alias].add(Asset(uri), extra=...)``. Consumers schedule on the Asset
    (``schedule=[alias_asset("model", "staging")]``) or on the alias itself.

    Example:
        >>> artifact_alias(registry="prod").name
        'artiflow:prod'
        >>> artifact_alias("models", registry="prod").name
        'artiflow:prod:models'
    """
    name = f"{ALIAS_PREFIX}{registry or registry_identity()}"
    return AssetAlias(name=f"{name}:{label}" if label else name)


def is_artifact_alias(outlet: Any) -> bool:
    """Whether ``outlet`` is an artiflow :func:`artifact_alias`.

    Example:
        >>> is_artifact_alias(artifact_alias(registry="prod")), is_artifact_alias(object())
        (True, False)
    """
    return isinstance(outlet, AssetAlias) and outlet.name.startswith(ALIAS_PREFIX)


def split_uri(uri: str) -> tuple[str, str, str | None] | None:
    """``(project, name, alias or None)`` for an artiflow asset URI (of any registry, or of the
    old form without one), else None.

    Example:
        >>> split_uri("x-artiflow://prod/default/model/alias/production")
        ('default', 'model', 'production')
        >>> split_uri("s3://bucket/key") is None
        True
    """
    parts = parse_airflow_asset_uri(uri)
    return None if parts is None else (parts.project, parts.name, parts.alias)


def event_extra(
    version: Any,
    *,
    alias: str | None = None,
    previous: str | None = None,
    run_id: str | None = None,
    registry: str | None = None,
) -> dict[str, Any]:
    """The asset-event extra for a version: ref, version, digest, aliases (JSON-safe), and
    the registry identity (``registry``; a consumer ignores events of another registry).

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
    if registry is not None:
        extra["registry"] = registry
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


def same_asset(declared: str, uri: str) -> bool:
    """Whether a declared outlet URI names the asset ``uri``: the same URI, or the same
    collection/alias spelled in the old form without a registry.

    Example:
        >>> same_asset("x-artiflow://default/ds", "x-artiflow://prod/default/ds")
        True
        >>> same_asset("x-artiflow://other/default/ds", "x-artiflow://prod/default/ds")
        False
    """
    if declared == uri:
        return True
    d, u = parse_airflow_asset_uri(declared), parse_airflow_asset_uri(uri)
    return (
        d is not None
        and u is not None
        and d.registry is None
        and (d.project, d.name, d.alias) == (u.project, u.name, u.alias)
    )

"""The ``x-artiflow`` asset-URI scheme for Airflow's providers manager (``asset-uris``).

Airflow leaves ``x-`` URIs as written; the OpenLineage provider converts an Asset to a dataset
only when a provider registers a normaliser and a converter for its scheme. These are
artiflow's: :func:`normalize_uri` checks the shape (``x-artiflow://<registry>/<project>/<name>``
or ``.../alias/<alias>``) and :func:`to_openlineage` gives the dataset artiflow's own lineage
uses (namespace ``artiflow://<registry>/<project>``, name the collection), so the provider's
inlets/outlets join the datasets of :meth:`artiflow.LineageGraph.to_openlineage`.

Example:
    >>> from urllib.parse import urlsplit, urlunsplit
    >>> urlunsplit(normalize_uri(urlsplit("X-Artiflow://prod/default/ds/")))
    'x-artiflow://prod/default/ds'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from artiflow.identity import AIRFLOW_SCHEME, openlineage_dataset, parse_airflow_asset_uri

if TYPE_CHECKING:
    from urllib.parse import SplitResult

__all__ = ["create_asset", "normalize_uri", "to_openlineage"]


def normalize_uri(uri: SplitResult) -> SplitResult:
    """The normal form of an artiflow asset URI; ``ValueError`` for one that names no
    collection or alias.

    Example:
        >>> from urllib.parse import urlsplit
        >>> normalize_uri(urlsplit("x-artiflow://prod"))
        Traceback (most recent call last):
        ...
        ValueError: x-artiflow://prod is not an artiflow asset URI: use x-artiflow://<registry>/<project>/<name>[/alias/<alias>] (artiflow.operators.artifact_asset builds one)
    """
    from urllib.parse import urlunsplit

    path = uri.path.rstrip("/")
    out = uri._replace(scheme=uri.scheme.lower(), path=path, query="", fragment="")
    text = urlunsplit(out)
    if parse_airflow_asset_uri(text) is None:
        raise ValueError(
            f"{text} is not an artiflow asset URI: use {AIRFLOW_SCHEME}://<registry>/<project>/"
            "<name>[/alias/<alias>] (artiflow.operators.artifact_asset builds one)"
        )
    return out


def to_openlineage(asset: Any, lineage_context: Any = None) -> Any:
    """The OpenLineage dataset of an artiflow Asset (an alias Asset names its collection).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> d = to_openlineage(NS(uri="x-artiflow://prod/team/model/alias/production"))
        >>> d.namespace, d.name
        ('artiflow://prod/team', 'model')
    """
    from openlineage.client.event_v2 import Dataset

    parts = parse_airflow_asset_uri(str(asset.uri))
    if parts is None:
        raise ValueError(f"{asset.uri} is not an artiflow asset URI")
    from ._registry import registry_identity

    namespace, name = openlineage_dataset(
        parts.registry or registry_identity(), parts.project, parts.name
    )
    return Dataset(namespace=namespace, name=name)


def create_asset(
    *, ref: str, alias: str | None = None, registry: str | None = None, extra: Any = None
) -> Any:
    """An Asset for ``ref`` (``Asset.from_uri``-style factory of the providers manager).

    Example:
        >>> create_asset(ref="ds", registry="prod").uri
        'x-artiflow://prod/default/ds'
    """
    from .assets import alias_asset, artifact_asset

    kwargs = {"extra": extra} if extra else {}
    if alias is not None:
        return alias_asset(ref, alias, registry=registry, **kwargs)
    return artifact_asset(ref, registry=registry, **kwargs)

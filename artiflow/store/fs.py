"""Opening an fsspec file system for a URL, naming the extra to install when its backend is
missing (the lazy-registry habit of ``fsspec.registry``).

Example:
    >>> fs, root = open_filesystem("memory://artiflow-fs-doc/x", {})
    >>> protocol_of(fs), root
    ('memory', '/artiflow-fs-doc/x')
    >>> is_local_url("/tmp/x"), is_local_url("file:///tmp/x"), is_local_url("s3://b")
    (True, True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import StoreError

__all__ = ["EXTRAS", "install_hint", "is_local_url", "open_filesystem", "protocol_of"]

EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}  # URL scheme -> artiflow extra


def is_local_url(url: str) -> bool:
    """True for a plain path or a ``file://`` URL (a local folder), False for any other URL."""
    return "://" not in url or url.startswith("file://")


def install_hint(protocol: str) -> str:
    """What to install so that fsspec can open ``protocol`` URLs.

    Example:
        >>> install_hint("s3"), install_hint("abfs")
        ("pip install 'artiflow[s3]'", "install the fsspec backend for 'abfs'")
    """
    extra = EXTRAS.get(protocol)
    return (
        f"pip install 'artiflow[{extra}]'"
        if extra
        else f"install the fsspec backend for {protocol!r}"
    )


def protocol_of(fs: Any) -> str:
    """The main protocol name of an fsspec file system (``s3``, ``gcs``, ``memory`` …)."""
    proto = fs.protocol
    return proto if isinstance(proto, str) else str(proto[0])


def open_filesystem(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec file system and root path for ``url``, with the listing cache off (a store or
    bucket is shared: other writers change it behind our back). A missing backend raises
    :class:`StoreError` naming what to install; a malformed URL or option raises it too.

    Example:
        >>> open_filesystem("memory://artiflow-fs-doc2/", {})[1]
        '/artiflow-fs-doc2'
    """
    import fsspec

    options = dict(storage_options or {})
    options.setdefault("use_listings_cache", False)
    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        hint = install_hint(url.split("://", 1)[0])
        raise StoreError(f"cannot open store {url!r}: {exc}. Install it with: {hint}") from exc
    except (ValueError, TypeError) as exc:
        raise StoreError(f"cannot open store {url!r}: {exc}") from exc
    return fs, root.rstrip("/")

"""What every reference scheme shares: the scheme of a URI, the options to reach it, the limit
on how many objects a prefix may expand to, and the errors a gone or changed reference raises.

A scheme module (``file``, ``http``, ``objects``) provides three functions:
``resolve(entry_path, uri, limit, hasher, options) -> list[Entry]`` (identify at log time),
``identity(entry, options) -> dict`` (what it is now; ``{}`` when gone) and
``fetch(entry, sink, options) -> (digest, size, problems)`` (stream its bytes into ``sink``).

Example:
    >>> scheme_of("S3://bucket/key"), reference_options("s3://b/k", "s3://store", {"anon": True})
    ('s3', {'anon': True})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..exceptions import InvalidPathError, VerificationError
from ..manifest import Entry

__all__ = [
    "DEFAULT_MAX_OBJECTS",
    "GS",
    "IDENTITY_KEYS",
    "S3",
    "Hasher",
    "Sink",
    "entry_options",
    "gone",
    "reference_options",
    "scheme_of",
    "too_many",
]

DEFAULT_MAX_OBJECTS = 10_000
IDENTITY_KEYS = ("etag", "md5", "crc32c", "version_id", "generation")
S3 = ("s3", "s3a")
GS = ("gs", "gcs")
Sink = Callable[[memoryview], None]
Hasher = Callable[[str], tuple[str, int]]


def scheme_of(uri: str) -> str:
    """The lower-case scheme of ``uri`` (``file``, ``https``, ``s3`` …)."""
    return uri.split("://", 1)[0].lower()


def too_many(uri: str, limit: int) -> InvalidPathError:
    """The error for a reference that expands to more than ``limit`` objects."""
    return InvalidPathError(
        f"reference {uri!r} expands to more than {limit} objects; pass max_objects=N with a "
        "larger N, or reference a narrower prefix (nothing was recorded)"
    )


def gone(entry: Entry) -> VerificationError:
    """The error for a reference whose content is gone at download time."""
    return VerificationError(
        f"reference {entry.ref!r} (entry {entry.path!r}) is gone; it cannot be downloaded",
        [("missing", entry.path)],
    )


def reference_options(
    uri: str, store_url: str | None = None, storage_options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The fsspec options to reach ``uri``: the registry store's ``storage_options`` when the
    reference lives on the same kind of store (same credentials and endpoint), else none (the
    backend's environment settings apply).

    Example:
        >>> reference_options("s3://b/k", "s3://store", {"anon": True})
        {'anon': True}
        >>> reference_options("gs://b/k", "s3://store", {"anon": True})
        {}
    """
    if store_url is None or not storage_options or "://" not in store_url:
        return {}
    same = {scheme_of(uri), scheme_of(store_url)}
    if len(same) == 1 or same <= set(S3) or same <= set(GS):
        return dict(storage_options)
    return {}


def entry_options(entry: Entry) -> dict[str, Any]:
    """The options to reach a bound entry's reference, from its version's registry settings
    (none for an entry bound to no version)."""
    # an ArtifactVersion's public ``settings`` (entries are bound to nothing else)
    settings = getattr(entry.bound_version, "settings", None)
    if settings is None or entry.ref is None:
        return {}
    return reference_options(entry.ref, settings.store_url, settings.storage_options)

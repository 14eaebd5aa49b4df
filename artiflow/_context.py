"""What the registry's verbs, versions and runs share: one :class:`RegistryContext`.

The context holds the settings and opens, on first use, the catalog, the blob store, the
download cache and the stat cache; it carries the event bus and the I/O counters. The verbs in
:mod:`artiflow._ops` take it as their first argument; :class:`~artiflow.ArtifactVersion` and
:class:`~artiflow.Run` hold it. Nothing here knows the :class:`~artiflow.Registry` facade, so
there is no call-back from a version or run into the facade.

Example:
    >>> import tempfile
    >>> from artiflow.config import Settings
    >>> ctx = RegistryContext(Settings.resolve(home=tempfile.mkdtemp()))
    >>> ctx.parse("ds:v2").project, ctx.counters.files_read
    ('default', 0)
    >>> ctx.close()
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .events import EventBus
from .limits import max_metadata_bytes as _metadata_cap
from .refs import Ref, parse_ref

if TYPE_CHECKING:
    from .catalog import Catalog, RunRow, VersionRow
    from .config import Settings
    from .hashing import StatCache
    from .runs import Run
    from .store import BlobStore, DownloadCache
    from .version import ArtifactVersion

__all__ = ["IOCounters", "RegistryContext", "context_of"]


class IOCounters:
    """How much work this registry did, for tests and tooling (never reset by artiflow).

    ``files_read``: local files whose content a log read (hashed and/or stored); a file the
    stat cache knew is not counted. ``pool_runs``: calls that fanned work out to the thread
    pool; ``pool_items``: items processed on pool threads.

    Example:
        >>> c = IOCounters(); c.add(files_read=2); c.files_read
        2
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.files_read = 0
        self.pool_runs = 0
        self.pool_items = 0

    def add(self, **amounts: int) -> None:
        """Add to the named counters (thread-safe)."""
        with self._lock:
            for name, n in amounts.items():
                setattr(self, name, getattr(self, name) + n)

    def to_dict(self) -> dict[str, int]:
        """The counters as a dict."""
        return {
            "files_read": self.files_read,
            "pool_runs": self.pool_runs,
            "pool_items": self.pool_items,
        }


class RegistryContext:
    """Settings plus the lazily opened parts of one registry (see the module docstring)."""

    def __init__(self, settings: Settings, max_metadata_bytes: int | None = None) -> None:
        self.settings = settings
        #: cap on metadata, description and run info (bytes of canonical JSON); see limits.py
        self.max_metadata_bytes = _metadata_cap(max_metadata_bytes)
        self.bus = EventBus()
        self.counters = IOCounters()
        self._catalog: Catalog | None = None
        self._store: BlobStore | None = None
        self._download_cache: DownloadCache | None = None
        self._stat_cache: StatCache | None = None
        self._lock = threading.Lock()

    @property
    def default_project(self) -> str:
        return self.settings.default_project

    @property
    def catalog(self) -> Catalog:
        """The metadata catalog (opened, and created or upgraded, on first use)."""
        if self._catalog is None:
            from .catalog import Catalog

            with self._lock:
                if self._catalog is None:
                    self._catalog = Catalog.open(self.settings.db_url)
        return self._catalog

    @property
    def store(self) -> BlobStore:
        """The content store."""
        if self._store is None:
            from .store import BlobStore

            self._store = BlobStore(self.settings.store_url, self.settings.storage_options)
        return self._store

    @property
    def download_cache(self) -> DownloadCache:
        """The local cache of blobs downloaded from a remote store."""
        if self._download_cache is None:
            from .store import DownloadCache

            self._download_cache = DownloadCache(str(self.settings.cache_dir))
        return self._download_cache

    @property
    def stat_cache(self) -> StatCache:
        """The per-machine stat cache."""
        if self._stat_cache is None:
            from .hashing import StatCache

            self._stat_cache = StatCache(self.settings.stat_cache_path)
        return self._stat_cache

    def close(self) -> None:
        """Release database connections and caches (they reopen on next use)."""
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None
        if self._stat_cache is not None:
            self._stat_cache.close()
            self._stat_cache = None

    def parse(self, ref: str | Ref) -> Ref:
        """Parse a ref with this registry's default project."""
        return parse_ref(ref, self.default_project)

    def version(self, row: VersionRow) -> ArtifactVersion:
        """The :class:`~artiflow.ArtifactVersion` of a catalog record."""
        from .version import ArtifactVersion

        return ArtifactVersion(self, row)

    def run(self, row: RunRow) -> Run:
        """The :class:`~artiflow.Run` of a catalog record."""
        from .runs import Run

        return Run(self, row)


def context_of(owner: Any) -> RegistryContext:
    """The context of a :class:`~artiflow.Registry` (or the context itself): what
    ``ArtifactVersion(registry, row)`` and ``Run(registry, row)`` accept."""
    if isinstance(owner, RegistryContext):
        return owner
    ctx = getattr(owner, "context", None)
    if isinstance(ctx, RegistryContext):
        return ctx
    raise TypeError(f"expected a Registry or RegistryContext, got {type(owner).__name__}")

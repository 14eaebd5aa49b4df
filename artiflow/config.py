"""Settings from arguments and the environment.

``Registry()`` with no argument uses ``ARTIFLOW_DB_URL`` and ``ARTIFLOW_STORE_URL`` when set,
else ``$ARTIFLOW_HOME`` (default ``~/.artiflow``) with ``registry.db`` (SQLite) and ``objects/``.
``ARTIFLOW_REGISTRY_NAME`` names the registry (its identity, see :mod:`artiflow.identity`).

Example:
    >>> s = Settings.resolve(home="/tmp/af")
    >>> s.db_url
    'sqlite:////tmp/af/registry.db'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import InvalidRefError
from .refs import validate_name

__all__ = ["LINK_TYPES", "Settings"]

LINK_TYPES = ("copy", "reflink", "hardlink", "symlink")


@dataclass(frozen=True)
class Settings:
    """Where the registry keeps metadata, content and local caches."""

    home: Path
    db_url: str
    store_url: str
    default_project: str = "default"
    link_type: str = "copy"
    storage_options: dict[str, Any] = field(default_factory=dict)
    pending_grace_seconds: float = 24 * 3600.0
    registry_name: str | None = None

    @property
    def identity(self) -> str:
        """The registry's stable identity (see :mod:`artiflow.identity`; no I/O).

        Example:
            >>> Settings.resolve(home="/tmp/af", registry_name="prod").identity
            'prod'
        """
        from .identity import registry_identity

        return registry_identity(self)

    @property
    def cache_dir(self) -> Path:
        """Local download cache for remote stores (content-addressed)."""
        return self.home / "cache"

    @property
    def stat_cache_path(self) -> Path:
        """The per-machine stat cache (path, size, mtime, inode -> digest)."""
        return self.home / "statcache.db"

    @classmethod
    def resolve(
        cls,
        *,
        home: str | os.PathLike[str] | None = None,
        db_url: str | None = None,
        store_url: str | None = None,
        default_project: str | None = None,
        link_type: str | None = None,
        storage_options: dict[str, Any] | None = None,
        registry_name: str | None = None,
    ) -> Settings:
        """Combine explicit arguments with ``ARTIFLOW_*`` environment variables.

        Example:
            >>> Settings.resolve(home="/tmp/af", link_type="hardlink").link_type
            'hardlink'
        """
        env = os.environ
        home_path = Path(home or env.get("ARTIFLOW_HOME") or "~/.artiflow").expanduser()
        home_path = home_path.absolute()
        if home is not None:
            # an explicit home means "everything lives there" unless URLs are also given
            db = db_url or f"sqlite:///{home_path / 'registry.db'}"
            store = store_url or str(home_path / "objects")
        else:
            db = db_url or env.get("ARTIFLOW_DB_URL") or f"sqlite:///{home_path / 'registry.db'}"
            store = store_url or env.get("ARTIFLOW_STORE_URL") or str(home_path / "objects")
        project = default_project or env.get("ARTIFLOW_PROJECT") or "default"
        validate_name(project, "default project")
        link = link_type or env.get("ARTIFLOW_LINK_TYPE") or "copy"
        if link not in LINK_TYPES:
            raise InvalidRefError(f"invalid link type {link!r}: use one of {', '.join(LINK_TYPES)}")
        grace = float(env.get("ARTIFLOW_PENDING_GRACE_SECONDS", 24 * 3600))
        name = registry_name or env.get("ARTIFLOW_REGISTRY_NAME") or None
        if name is not None:
            from .identity import validate_registry_name

            validate_registry_name(name)
        return cls(
            home=home_path,
            db_url=db,
            store_url=store,
            default_project=project,
            link_type=link,
            storage_options=dict(storage_options or {}),
            pending_grace_seconds=grace,
            registry_name=name,
        )

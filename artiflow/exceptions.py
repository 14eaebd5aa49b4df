"""The artiflow exception tree.

Every error artiflow raises derives from :class:`ArtiflowError`; the specific classes also inherit
the builtin that fits, so ``except ValueError`` or ``except LookupError`` keeps working::

    ArtiflowError
    ├── InvalidRefError(ValueError)        a malformed ``project/name:selector`` or alias
    ├── InvalidPathError(ValueError)       an unsafe or malformed entry path
    ├── InvalidFieldError(ValueError)      a field over its limit (type, metadata, run id, ...)
    ├── ArtifactNotFoundError(LookupError) a ref, entry or run that does not exist
    ├── AliasInUseError                    deleting a version that still holds user aliases
    ├── VerificationError(ValueError)      content that does not match its recorded digest
    ├── ArtifactFinalizedError             changing a draft that was already logged
    ├── ConflictError                      two contents for one entry path, a taken semver
    ├── RunLockError(LookupError)          a pipeline run without a run lock (or ambiguous)
    ├── LockKeptError                      deleting a version a kept run lock holds
    └── StoreError(OSError)                the content store failed or is misconfigured

Example:
    >>> from artiflow.exceptions import InvalidRefError
    >>> issubclass(InvalidRefError, ValueError)
    True
"""

from __future__ import annotations

__all__ = [
    "AliasInUseError",
    "ArtifactFinalizedError",
    "ArtifactNotFoundError",
    "ArtiflowError",
    "ConflictError",
    "InvalidFieldError",
    "InvalidPathError",
    "InvalidRefError",
    "LockKeptError",
    "RunLockError",
    "StoreError",
    "VerificationError",
]


class ArtiflowError(Exception):
    """Root of every error artiflow raises."""


class InvalidRefError(ArtiflowError, ValueError):
    """A ref, name, alias or selector is malformed."""


class InvalidPathError(ArtiflowError, ValueError):
    """An entry path is unsafe (``..``, absolute, empty segment, NUL, backslash) or missing."""


class InvalidFieldError(ArtiflowError, ValueError):
    """A stored field is over its limit or not storable (see ``artiflow.limits``).

    ``field`` names the field (``type``, ``metadata``, ``run_id``, ...), ``limit`` the rule
    it broke (``64 characters``, ``1048576 bytes``, ``finite numbers``, ...).
    """

    def __init__(self, message: str, *, field: str = "", limit: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.limit = limit


class ArtifactNotFoundError(ArtiflowError, LookupError):
    """The requested collection, version, entry or run does not exist."""


class AliasInUseError(ArtiflowError):
    """A version still holds user aliases and ``delete_aliases`` was not given."""


class VerificationError(ArtiflowError, ValueError):
    """Content does not match what the registry recorded.

    ``problems`` lists ``(kind, path)`` pairs with kind in ``missing``, ``changed``, ``extra``.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems: list[tuple[str, str]] = list(problems or [])


class ArtifactFinalizedError(ArtiflowError):
    """A draft that was already logged cannot be changed; start a new one."""


class ConflictError(ArtiflowError):
    """Two different contents were given for one entry path, or a unique label is taken."""


class RunLockError(ArtiflowError, LookupError):
    """A pipeline run has no run lock in the registry, or the run id names several."""


class LockKeptError(ArtiflowError):
    """A version is held by a kept run lock: release the lock before deleting it."""


class StoreError(ArtiflowError, OSError):
    """The content store failed, or a backend is not installed."""

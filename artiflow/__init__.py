"""artiflow: artifact-aware Airflow and Prefect tasks over a self-hosted artifact registry.

The registry core (this package's top level) never imports Airflow, Prefect or a cloud SDK;
integrations live in ``artiflow.operators``, ``artiflow.plugin`` and ``artiflow.prefect``.

Example:
    >>> import tempfile
    >>> import artiflow
    >>> reg = artiflow.Registry(home=tempfile.mkdtemp())
    >>> draft = artiflow.Artifact("greeting", type="text")
    >>> with draft.new_file("hello.txt") as f:
    ...     _ = f.write("hello")
    >>> reg.log(draft).ref
    'default/greeting:v0'
"""

import typing as _typing

# The exceptions are cheap and are what ``except artiflow.X`` needs first; every other public
# name is imported on first use (PEP 562), so that ``import artiflow`` (and every ``artiflow``
# command) does not pay for the modules a given use never touches.
from .exceptions import (
    AliasInUseError,
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ArtiflowError,
    ConflictError,
    InvalidFieldError,
    InvalidPathError,
    InvalidRefError,
    LockKeptError,
    RunLockError,
    StoreError,
    VerificationError,
)

if _typing.TYPE_CHECKING:
    from ._ops.fsck import FsckResult
    from ._ops.impact import Impact
    from ._ops.locks import LockEntry, ReplayOutput, RunLock
    from ._ops.policy import PolicyError
    from ._ops.quarantine import Quarantine, QuarantinedError
    from .artifact import Artifact
    from .config import Settings
    from .events import RegistryEvent
    from .helpers import log_artifact
    from .lineage import LineageGraph
    from .manifest import Entry, Manifest
    from .outputs import Output
    from .refs import Ref, parse_ref
    from .registry import GCResult, Registry
    from .runs import Run
    from .semver import SemVer
    from .states import RunState, VersionState
    from .version import ArtifactVersion

#: public name -> the module (relative to this package) that defines it
_LAZY = {
    "FsckResult": "._ops.fsck",
    "Impact": "._ops.impact",
    "LockEntry": "._ops.locks",
    "ReplayOutput": "._ops.locks",
    "RunLock": "._ops.locks",
    "PolicyError": "._ops.policy",
    "Quarantine": "._ops.quarantine",
    "QuarantinedError": "._ops.quarantine",
    "Artifact": ".artifact",
    "Settings": ".config",
    "RegistryEvent": ".events",
    "log_artifact": ".helpers",
    "LineageGraph": ".lineage",
    "Entry": ".manifest",
    "Manifest": ".manifest",
    "Output": ".outputs",
    "Ref": ".refs",
    "parse_ref": ".refs",
    "GCResult": ".registry",
    "Registry": ".registry",
    "Run": ".runs",
    "SemVer": ".semver",
    "RunState": ".states",
    "VersionState": ".states",
    "ArtifactVersion": ".version",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

__all__ = [
    "AliasInUseError",
    "Artifact",
    "ArtifactFinalizedError",
    "ArtifactNotFoundError",
    "ArtifactVersion",
    "ArtiflowError",
    "ConflictError",
    "Entry",
    "FsckResult",
    "GCResult",
    "Impact",
    "InvalidFieldError",
    "InvalidPathError",
    "InvalidRefError",
    "LineageGraph",
    "LockEntry",
    "LockKeptError",
    "Manifest",
    "Output",
    "PolicyError",
    "Quarantine",
    "QuarantinedError",
    "Ref",
    "Registry",
    "RegistryEvent",
    "ReplayOutput",
    "Run",
    "RunLock",
    "RunLockError",
    "RunState",
    "SemVer",
    "Settings",
    "StoreError",
    "VerificationError",
    "VersionState",
    "__version__",
    "log_artifact",
    "parse_ref",
]

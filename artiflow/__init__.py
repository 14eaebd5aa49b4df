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

from ._ops.fsck import FsckResult
from ._ops.impact import Impact
from ._ops.locks import LockEntry, ReplayOutput, RunLock
from ._ops.policy import PolicyError
from ._ops.quarantine import Quarantine, QuarantinedError
from .artifact import Artifact
from .config import Settings
from .events import RegistryEvent
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

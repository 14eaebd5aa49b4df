"""The public surface: __all__ matches what is exported, the core imports no orchestrator."""

from __future__ import annotations

import subprocess
import sys

import artiflow


def test_all_matches_public_names():
    public = {
        n
        for n in dir(artiflow)
        if (not n.startswith("_") and n[0].isupper()) or n in ("log_artifact", "parse_ref")
    }
    assert set(artiflow.__all__) - {"__version__"} == public
    for name in artiflow.__all__:
        assert getattr(artiflow, name) is not None


def test_errors_inherit_builtins():
    assert issubclass(artiflow.InvalidRefError, ValueError)
    assert issubclass(artiflow.InvalidPathError, ValueError)
    assert issubclass(artiflow.ArtifactNotFoundError, LookupError)
    assert issubclass(artiflow.VerificationError, ValueError)
    assert issubclass(artiflow.StoreError, OSError)
    for name in ("AliasInUseError", "ArtifactFinalizedError", "ConflictError"):
        assert issubclass(getattr(artiflow, name), artiflow.ArtiflowError)


def test_core_imports_no_orchestrator_or_cloud_sdk():
    code = (
        "import sys, artiflow, artiflow.cli, artiflow.catalog, artiflow.lineage, artiflow.references,"
        " artiflow._tasking;"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('airflow', 'prefect', 'boto3', 'botocore', 's3fs', 'gcsfs', 'google', 'fastapi')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_registry_construction_opens_nothing(tmp_path):
    reg = artiflow.Registry(home=tmp_path / "never")
    assert not (tmp_path / "never").exists()
    assert "never" in repr(reg)

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


def test_old_spellings_keep_working():
    from artiflow.runs import FAILED, RUNNING, SUCCESS

    assert (RUNNING, SUCCESS, FAILED) == ("RUNNING", "SUCCESS", "FAILED")
    assert artiflow.RunState.SUCCESS == SUCCESS and artiflow.VersionState("DELETED") == "DELETED"
    assert artiflow.Registry.start_run is artiflow.Registry.run
    assert artiflow.ArtifactVersion.name is artiflow.ArtifactVersion.collection
    # issue 12 item 5: one meaning per name; the older spellings stay (docs/concepts.md "Names")
    assert artiflow.ArtifactVersion.collection is artiflow.ArtifactVersion.collection_name
    assert artiflow.Ref.collection is artiflow.Ref.full_name
    ref = artiflow.parse_ref("team/model:v2")
    assert (ref.full_name, ref.collection_name, ref.collection) == (
        "team/model",
        "model",
        "team/model",
    )


def test_the_core_calls_no_private_method_of_another_class():
    """Versions and runs hold the registry context; nothing calls back into the facade."""
    import inspect
    import re

    from artiflow import _versions, registry, runs, version
    from artiflow._versions import compat, core, labels, lineage, reading, spool

    assert _versions.__doc__
    for module in (version, runs, core, labels, lineage, reading, compat, spool):
        source = inspect.getsource(module)
        assert not re.search(r"_registry\._\w", source), module.__name__
    facade = inspect.getsource(registry.Registry)
    private = re.findall(r"def (_[a-z]\w*)\(", facade)
    assert private == ["_version"], private  # one lookup helper, called only by the facade

"""Airflow test harness: a throwaway AIRFLOW_HOME (SQLite) and DAGS_FOLDER, real Airflow.

Airflow reads its configuration when it is first imported, so the environment is set here, at
conftest import time, before any test module of this folder imports airflow. The DAGS_FOLDER
holds a copy of the repository's ``dags/`` plus ``tests/airflow/dag_files/``; ``dag.test()``
needs its DAG to come from a file in that folder. The metadata database is created once per
session (``resetdb``). The artiflow registry lives in its own temporary ``ARTIFLOW_HOME``;
every test DAG writes collections with names of its own, so tests do not see each other.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ROOT = Path(tempfile.mkdtemp(prefix="artiflow-airflow-tests-"))
AIRFLOW_HOME = ROOT / "airflow"
DAGS_FOLDER = ROOT / "dags"
ARTIFLOW_HOME = ROOT / "registry"

_AIRFLOW_PREIMPORTED = "airflow" in sys.modules

os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(ROOT / "passwords.json"),
        # used only when apache-airflow-providers-openlineage is installed
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(ROOT / "openlineage.jsonl"), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "artiflow-tests",
        "AIRFLOW__API_AUTH__JWT_SECRET": "artiflow-tests-" + "0123456789abcdef" * 5,
        "ARTIFLOW_HOME": str(ARTIFLOW_HOME),
        # the registry identity: asset URIs are x-artiflow://airflow-tests/<project>/<name>
        "ARTIFLOW_REGISTRY_NAME": "airflow-tests",
    }
)
for var in ("ARTIFLOW_DB_URL", "ARTIFLOW_STORE_URL", "ARTIFLOW_PROJECT"):
    os.environ.pop(var, None)

DAGS_FOLDER.mkdir(parents=True)
AIRFLOW_HOME.mkdir(parents=True)
EXAMPLE_DAG_FILES = sorted((REPO / "dags").glob("*.py"))
for src in [*EXAMPLE_DAG_FILES, *sorted((HERE / "dag_files").glob("*.py"))]:
    shutil.copy(src, DAGS_FOLDER / src.name)


@pytest.fixture(scope="session")
def airflow_db():
    """Create the Airflow metadata database once (SQLite in the temporary AIRFLOW_HOME)."""
    if _AIRFLOW_PREIMPORTED:
        pytest.fail("airflow was imported before tests/airflow/conftest.py set AIRFLOW_HOME")
    from airflow.utils import db

    db.resetdb()
    yield AIRFLOW_HOME
    shutil.rmtree(ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    """Every DAG of the temporary DAGS_FOLDER (examples + test DAGs), parsed once."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(DAGS_FOLDER))


@pytest.fixture
def registry():
    """A Registry on the tests' ARTIFLOW_HOME (a separate instance from the tasks' one)."""
    from artiflow import Registry

    reg = Registry()
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def run_dag(dagbag):
    """``run_dag(dag_id, **test_kwargs)`` -> the DagRun of one ``dag.test()`` run."""

    def run(dag_id: str, **kwargs):
        dag = dagbag.dags[dag_id]
        return dag.test(**kwargs)

    return run


def pytest_collection_modifyitems(config, items):
    """Airflow's in-process execution API imports starlette's TestClient, which warns about
    httpx (and pytest turns warnings into errors in this project)."""
    mark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(mark)

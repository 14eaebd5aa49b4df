"""Prefect demo: flows with artifact tasks, and lineage across Prefect and Airflow.

``run_demo()`` (called by ``make demo``; also ``python examples/prefect_demo.py``):

1. the Prefect flow ``prepare-bike-dataset`` logs ``bike-dataset`` and promotes it to
   ``production`` (emitting ``artiflow.alias.moved``);
2. the Prefect flow ``retrain-bike-model`` trains ``bike-model`` on it;
3. the Airflow DAG ``from_prefect_dataset`` (``dags/from_prefect_dataset.py``, run with
   ``dag.test()`` in a subprocess with its own throwaway ``AIRFLOW_HOME``) trains
   ``airflow-bike-model`` on the same promoted version, from the same registry;
4. it prints the upstream lineage of ``airflow-bike-model``: the Airflow run, the dataset
   version and the Prefect run that produced it;
5. a replay: a newer dataset version takes ``production``, and ``retrain-bike-model`` runs
   again with ``artiflow={"replay_of": <the first retraining run>}``: it trains on the version
   the first run read, and the registry records that the model was reproduced (same digest).

Example:
    >>> from examples.prefect_demo import run_demo
    >>> run_demo(home="/tmp/artiflow-demo")             # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DAG_FILE = REPO / "dags" / "from_prefect_dataset.py"

_AIRFLOW_SCRIPT = """
import json, os, sys
from airflow.utils import db
db.resetdb()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
if bag.import_errors:
    sys.exit(f"DAG import errors: {bag.import_errors}")
dag = bag.get_dag(sys.argv[1])
dag_run = dag.test()
print("ARTIFLOW_RESULT " + json.dumps({"state": str(dag_run.state), "run_id": dag_run.run_id}))
"""


def run_airflow_dag(
    dag_id: str = "from_prefect_dataset",
    *,
    dag_file: Path = DAG_FILE,
    env: dict[str, str] | None = None,
    timeout: float = 180.0,
) -> dict[str, Any]:
    """Run one DAG with ``dag.test()`` in a subprocess (throwaway ``AIRFLOW_HOME``).

    The registry comes from the ``ARTIFLOW_*`` variables of ``env`` (default: this process's).
    Returns ``{"state": ..., "run_id": ...}``; raises ``RuntimeError`` with the output on failure.

    Example:
        >>> run_airflow_dag(env={"ARTIFLOW_HOME": "/tmp/artiflow-demo"})    # doctest: +SKIP
        {'state': 'success', 'run_id': 'manual__2026-...'}
    """
    with tempfile.TemporaryDirectory(prefix="artiflow-airflow-home-") as home:
        dags = Path(home) / "dags"
        dags.mkdir()
        shutil.copy(dag_file, dags / dag_file.name)
        child_env = {
            **os.environ,
            **(env or {}),
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        proc = subprocess.run(
            [sys.executable, "-c", _AIRFLOW_SCRIPT, dag_id],
            env=child_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    for line in proc.stdout.splitlines():
        if line.startswith("ARTIFLOW_RESULT "):
            result: dict[str, Any] = json.loads(line.split(" ", 1)[1])
            if proc.returncode == 0 and result["state"].endswith("success"):
                return result
    raise RuntimeError(
        f"Airflow DAG {dag_id} failed (exit {proc.returncode}):\n"
        f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )


def cross_orchestrator_lineage(registry: Any = None) -> Any:
    """Prefect produces ``bike-dataset``, Airflow consumes it; returns the model's lineage.

    Uses the registry of the ``ARTIFLOW_*`` environment (``registry`` must be that same one).

    Example:
        >>> graph = cross_orchestrator_lineage()             # doctest: +SKIP
        >>> print(graph.to_mermaid())                        # doctest: +SKIP
    """
    from artiflow import Registry
    from flows.prepare_dataset import prepare_dataset

    reg = registry if registry is not None else Registry()
    prepare_dataset(rows=120, seed=7)  # Prefect: log + promote bike-dataset
    run_airflow_dag("from_prefect_dataset")  # inherits the ARTIFLOW_* environment
    return reg.lineage("airflow-bike-model:latest", direction="upstream")


def describe_runs(graph: Any) -> list[str]:
    """One line per run node of a lineage graph: orchestrator, pipeline, task."""
    lines = []
    for node in graph.runs():
        lines.append(
            f"{node['orchestrator']}: {node['pipeline']} / {node['task']} ({node['pipeline_run']})"
        )
    return lines


def replay_demo(registry: Any) -> dict[str, Any]:
    """Retrain, move ``bike-dataset:production`` to a new version, replay the first retraining
    run (in-process: ``artiflow.prefect.replay`` does the same through a deployment); returns
    what the original and the replay trained on and whether the model was reproduced.

    Example:
        >>> replay_demo(Registry())  # doctest: +SKIP
        {'original': 'default/bike-dataset:v0', 'replayed': 'default/bike-dataset:v0', ...}
    """
    from artiflow import Artifact
    from flows.retrain import retrain

    state = retrain(max_mae=1e9, return_state=True)
    original = str(state.state_details.flow_run_id)
    trained_on = _trained_on(registry, original)
    newer = Artifact("bike-dataset", type="dataset")
    with newer.new_file("data.csv") as f:
        f.write("day,temp,rentals\n0,10,1\n1,20,2\n")
    registry.log(newer, aliases=("production",))  # the alias moved on
    state = retrain(
        max_mae=1e9,
        artiflow={"replay_of": original, "flow": "retrain-bike-model"},
        return_state=True,
    )
    replay_run = str(state.state_details.flow_run_id)
    lock = registry.run_lock("prefect", replay_run)
    return {
        "original": trained_on,
        "replayed": _trained_on(registry, replay_run),
        "production": registry.get("bike-dataset:production").ref,
        "reproduced": {o.collection: o.reproduced for o in lock.replays},
    }


def _trained_on(registry: Any, flow_run_id: str) -> str:
    runs = registry.runs(orchestrator="prefect", pipeline_run=flow_run_id, limit=None)
    train = next(r for r in runs if r.task == "train")
    return next(v.ref for v in train.used_artifacts() if v.collection == "bike-dataset")


def run_demo(home: str | None = None) -> Any:
    """The ``make demo`` step for Prefect: run the flows and the DAG, print the lineage.

    ``home`` is the registry folder (default: ``$ARTIFLOW_HOME`` when set, as ``make demo`` does
    so that all its parts share one embedded registry, else a new temporary folder, so the demo
    never touches ``~/.artiflow``). Returns the lineage graph of ``airflow-bike-model``.
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ["ARTIFLOW_HOME"] = (
        home or os.environ.get("ARTIFLOW_HOME") or tempfile.mkdtemp(prefix="artiflow-prefect-demo-")
    )
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from artiflow import Registry
    from artiflow.prefect import flush_events
    from flows.retrain import retrain

    reg = Registry()
    graph = cross_orchestrator_lineage(reg)
    report = retrain()
    flush_events()
    print(f"registry: {os.environ['ARTIFLOW_HOME']}")
    print(f"Prefect retraining: {report}")
    print("lineage of airflow-bike-model:latest (upstream):")
    for line in describe_runs(graph):
        print(f"  run  {line}")
    print(graph.to_mermaid())
    replayed = replay_demo(reg)
    print(
        f"Prefect replay: trained on {replayed['replayed']} like the original run "
        f"({replayed['original']}) although production is now {replayed['production']}; "
        f"reproduced: {', '.join(f'{c}: {_yes(r)}' for c, r in replayed['reproduced'].items())}"
    )
    return graph


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


if __name__ == "__main__":
    run_demo(sys.argv[1] if len(sys.argv) > 1 else None)

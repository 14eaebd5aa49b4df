"""Airflow demo: the nightly dataset build, the asset-scheduled retraining and the deployment,
run end to end with ``dag.test()``; then a replay (the nightly runs again, and the first
retraining run is replayed with ``conf={"artiflow_lock": <its run id>}``: it trains on what it
read, not on the newer data, and the registry records ``reproduced`` per output); then the
model's lineage as Mermaid.

Run it with ``python examples/airflow_demo.py`` (or call :func:`run`). Airflow runs on a
throwaway SQLite AIRFLOW_HOME (a temporary folder, removed at the end; an AIRFLOW_HOME already
set in the environment is never touched). The artiflow registry is the embedded default:
``$ARTIFLOW_HOME``, else ``~/.artiflow`` -- or pass ``registry_home``.

Airflow reads its configuration when first imported, so call this before anything imports
airflow in the process (or run it as a script / subprocess). ``DEMO_LOG=INFO`` shows Airflow's
own logs.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DAGS = ("bike_dataset_nightly", "bike_model_retrain", "bike_model_deploy")


def _configure(airflow_home: Path, dags_folder: Path, registry_home: str | None) -> None:
    if "airflow" in sys.modules:
        raise RuntimeError(
            "airflow was already imported in this process: run the Airflow demo first, or as "
            "a script (python examples/airflow_demo.py)"
        )
    os.environ.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("DEMO_LOG", "ERROR"),
        }
    )
    if registry_home is not None:
        os.environ["ARTIFLOW_HOME"] = str(registry_home)


def run(
    registry_home: str | None = None, *, dags_folder: str | None = None, verbose: bool = True
) -> dict[str, Any]:
    """Run the three example DAGs with ``dag.test()``; return a summary with the Mermaid graph.

    Example:
        >>> summary = run()  # doctest: +SKIP
        >>> summary["model"]
        'default/bike-demand-model:v0'
    """
    say = print if verbose else (lambda *a, **k: None)
    airflow_home = Path(tempfile.mkdtemp(prefix="artiflow-airflow-demo-"))
    _configure(airflow_home, Path(dags_folder or REPO / "dags"), registry_home)
    try:
        import logging

        logging.getLogger("airflow").setLevel(logging.ERROR)
        from airflow.dag_processing.dagbag import DagBag
        from airflow.utils import db

        from artiflow import Registry

        db.resetdb()
        bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        broken = {k: v for k, v in bag.import_errors.items() if Path(k).stem in DAGS}
        if broken:
            raise RuntimeError(f"example DAGs failed to import: {broken}")
        timings: dict[str, float] = {}
        dag_runs: dict[str, Any] = {}

        def test(dag_id: str, label: str | None = None, **kwargs: Any) -> Any:
            started = time.perf_counter()
            dag_run = bag.dags[dag_id].test(**kwargs)
            label = label or dag_id
            timings[label] = round(time.perf_counter() - started, 2)
            state = str(getattr(dag_run.state, "value", dag_run.state))
            say(f"  {label:<22} {state:<8} {timings[label]:>6.2f} s")
            if state != "success":
                raise RuntimeError(f"{label} ended {state}")
            dag_runs[label] = dag_run
            return dag_run

        for dag_id in DAGS:
            test(dag_id)

        reg = Registry()
        replay = _replay(reg, test, dag_runs["bike_model_retrain"].run_id)
        model = reg.get("bike-demand-model:production")
        graph = reg.lineage(model.ref, direction="upstream")
        mermaid = graph.to_mermaid()
        say(
            f"\n{model.ref} is in production (r2={model.metadata.get('r2')}, "
            f"trained on {model.metadata.get('trained_on')}); registry: {reg.db_url}"
        )
        say(
            f"\nReplay of {replay['replay_of']} (conf artiflow_lock) as {replay['run']}: trained "
            f"on {replay['replayed']} like the original ({replay['original']}) although "
            f"bike-training-set:latest is now {replay['latest']}; reproduced: "
            + ", ".join(f"{c}: {'yes' if r else 'no'}" for c, r in replay["reproduced"].items())
        )
        say("\nLineage of the production model (Mermaid):\n")
        say(mermaid)
        summary = {
            "model": model.ref,
            "dataset": model.metadata.get("trained_on"),
            "r2": model.metadata.get("r2"),
            "timings": timings,
            "mermaid": mermaid,
            "replay": replay,
        }
        reg.close()
        return summary
    finally:
        shutil.rmtree(airflow_home, ignore_errors=True)


def _trained_on(reg: Any, dag_run_id: str) -> str | None:
    runs = reg.runs(orchestrator="airflow", pipeline="bike_model_retrain", pipeline_run=dag_run_id)
    for run in runs:
        if run.task == "train":
            return next((v.ref for v in run.used_artifacts()), None)
    return None


def _replay(reg: Any, test: Any, original: str) -> dict[str, Any]:
    """A newer training set appears (the nightly DAG runs again), then the retraining run
    ``original`` is replayed (``conf={"artiflow_lock": original}``, what ``artiflow replay``
    posts): it trains on the version the original read, and the registry records per output
    whether the replay reproduced the original's digest."""
    test("bike_dataset_nightly", "nightly (newer data)")
    dag_run = test("bike_model_retrain", "retrain (replay)", run_conf={"artiflow_lock": original})
    lock = reg.run_lock("airflow", dag_run.run_id, pipeline="bike_model_retrain")
    return {
        "replay_of": original,
        "run": dag_run.run_id,
        "original": _trained_on(reg, original),
        "replayed": _trained_on(reg, dag_run.run_id),
        "latest": reg.get("bike-training-set:latest").ref,
        "reproduced": {o.collection: o.reproduced for o in lock.replays},
    }


def main() -> int:
    print("artiflow + Airflow: nightly dataset -> retrain (asset-scheduled) -> promote -> deploy")
    run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

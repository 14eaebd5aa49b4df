"""Airflow demo: the nightly dataset build, the asset-scheduled retraining and the deployment,
run end to end with ``dag.test()``, then the model's lineage as Mermaid.

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
        timings = {}
        for dag_id in DAGS:
            started = time.perf_counter()
            dag_run = bag.dags[dag_id].test()
            timings[dag_id] = round(time.perf_counter() - started, 2)
            state = str(getattr(dag_run.state, "value", dag_run.state))
            say(f"  {dag_id:<22} {state:<8} {timings[dag_id]:>6.2f} s")
            if state != "success":
                raise RuntimeError(f"{dag_id} ended {state}")

        reg = Registry()
        model = reg.get("bike-demand-model:production")
        graph = reg.lineage(model.ref, direction="upstream")
        mermaid = graph.to_mermaid()
        say(
            f"\n{model.ref} is in production (r2={model.metadata.get('r2')}, "
            f"trained on {model.metadata.get('trained_on')}); registry: {reg.db_url}"
        )
        say("\nLineage of the production model (Mermaid):\n")
        say(mermaid)
        summary = {
            "model": model.ref,
            "dataset": model.metadata.get("trained_on"),
            "r2": model.metadata.get("r2"),
            "timings": timings,
            "mermaid": mermaid,
        }
        reg.close()
        return summary
    finally:
        shutil.rmtree(airflow_home, ignore_errors=True)


def main() -> int:
    print("artiflow + Airflow: nightly dataset -> retrain (asset-scheduled) -> promote -> deploy")
    run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""When a dataset goes bad: build a small chain, quarantine its root, show what it affected,
the rebuild plan, and the refused resolution.

Run it (a throwaway registry in a temporary folder unless ``--home`` is given)::

    python examples/bad_data_demo.py
"""

from __future__ import annotations

import argparse
import tempfile

from artiflow import Artifact, QuarantinedError, Registry
from artiflow._ops.impact import describe, rebuild_plan


def _draft(name: str, text: str, type: str = "dataset") -> Artifact:
    art = Artifact(name, type=type)
    with art.new_file("data.txt") as f:
        f.write(text)
    return art


def build(reg: Registry) -> None:
    """raw (v0, v1) -> features -> model (production) -> predictions, on raw:v0."""
    reg.log(_draft("bike-raw", "monday,12\ntuesday,0\n"))
    steps = [
        ("featurize", "bike-raw:v0", "bike-features", "dataset"),
        ("train", "bike-features", "bike-demand-model", "model"),
        ("predict", "bike-demand-model", "bike-predictions", "dataset"),
    ]
    for task, source, output, kind in steps:
        with reg.run(
            task, orchestrator="airflow", pipeline="bike", pipeline_run="manual__1", task=task
        ) as run:
            run.use(source)
            run.log(_draft(output, f"{output} from {source}", kind))
    reg.alias("bike-demand-model:v0", "production")
    reg.log(_draft("bike-raw", "monday,12\ntuesday,9\n"))  # the corrected data: bike-raw:v1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="registry home (default: a temporary folder)")
    args = parser.parse_args()
    reg = Registry(home=args.home or tempfile.mkdtemp(prefix="artiflow-bad-data-"))
    build(reg)
    print("production model:", reg.get("bike-demand-model:production").ref)

    record = reg.quarantine("bike-raw:v0", "sensor 7 reported zero rentals", by="demo")
    print(f"\nquarantined {record.ref}: {record.reason}\n")
    result = reg.impact(record.ref)
    print(describe(result, rebuild_plan(reg, result, "bike-raw:v1")))

    try:
        reg.get("bike-demand-model:production")
    except QuarantinedError as exc:
        print(f"\nrefused: {exc}")
    model = reg.get("bike-demand-model:v0")  # vN still resolves, to investigate
    print(f"\n{model.ref} is tainted by {model.tainted_by.ref if model.tainted_by else None}")
    reg.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The artiflow demo: a tiny pipeline on the embedded default registry (SQLite + local folder).

1. log a dataset (a CSV of bike rentals),
2. train a toy model on it inside a run (so lineage is recorded),
3. evaluate it and promote it to `production` when it passes the gate,
4. print the model's lineage as Mermaid.

Run it with `make demo` (which sets ARTIFLOW_HOME to ./.demo-home) or `python examples/demo.py`.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import artiflow
from artiflow import Artifact, Registry


def make_dataset(folder: Path, seed: int) -> Path:
    rng = random.Random(seed)
    rows = ["temp,hour,rentals"]
    for _ in range(200):
        temp, hour = rng.uniform(-5, 35), rng.randint(0, 23)
        rentals = max(0, int(12 * temp + 4 * (8 <= hour <= 18) * 10 + rng.gauss(0, 20)))
        rows.append(f"{temp:.1f},{hour},{rentals}")
    path = folder / "rentals.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def fit(csv: Path) -> dict[str, float]:
    xs, ys = [], []
    for line in csv.read_text().splitlines()[1:]:
        temp, _hour, rentals = line.split(",")
        xs.append(float(temp))
        ys.append(float(rentals))
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    intercept = my - slope * mx
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ys)
    return {"slope": slope, "intercept": intercept, "r2": 1 - ss_res / ss_tot}


def main() -> None:
    registry = Registry()
    print(f"registry: {registry!r}\n")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # 1. the nightly ETL logs a dataset version
        with registry.run(
            "build-dataset", pipeline="demo", pipeline_run="nightly-1", task="extract"
        ) as run:
            draft = Artifact("bike-rentals", type="dataset", metadata={"source": "demo generator"})
            draft.add_file(make_dataset(work, seed=7))
            dataset = run.log(draft, tags=["nightly"])
        print(f"logged {dataset.ref} ({dataset.size} bytes, digest {dataset.digest[:12]})")

        # 2. training consumes `bike-rentals:latest` and logs a model
        with registry.run("train", pipeline="demo", pipeline_run="train-1", task="fit") as run:
            data = run.use("bike-rentals:latest")
            csv = data.download(work / "data") / "rentals.csv"
            params = fit(csv)
            model = Artifact("rentals-model", type="model", metadata={"r2": round(params["r2"], 3)})
            with model.new_file("model.json") as fh:
                json.dump(params, fh, indent=2)
            candidate = run.log(model, aliases=["candidate"])
        print(f"trained {candidate.ref}: r2={candidate.metadata['r2']}")

        # 3. the evaluation gate promotes the model
        with registry.run("evaluate", pipeline="demo", pipeline_run="train-1", task="gate") as run:
            v = run.use("rentals-model:candidate")
            if v.metadata["r2"] >= 0.5:
                registry.alias(v.ref, "production", run=run)
                print(f"promoted {v.ref} to production")
            else:
                print(f"kept {v.ref} out of production (r2 < 0.5)")

    prod = registry.get("rentals-model:production")
    print(
        f"\nrentals-model:production -> {prod.ref}, trained on "
        f"{[v.ref for v in prod.logged_by().used_artifacts()]}\n"
    )
    print("lineage of rentals-model:production (Mermaid):\n")
    print(registry.lineage("rentals-model:production", direction="upstream").to_mermaid())
    print(
        f"\nartiflow {artiflow.__version__}: try `artiflow ls` or `artiflow lineage rentals-model:production`"
    )


if __name__ == "__main__":
    main()

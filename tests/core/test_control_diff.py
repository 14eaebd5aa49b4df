"""Lineage diff on SQLite and PostgreSQL: two model versions that differ only in
``features v5 -> v6`` and a ``lr`` parameter list exactly those two changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_control_pipeline import draft, open_backend

from artiflow import Artifact, InvalidRefError, Registry
from artiflow.cli import main


@pytest.fixture(params=["sqlite", "postgres"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    yield from open_backend(request.param, tmp_path)


def _model(reg: Registry, features: str, lr: float) -> str:
    with reg.run("train", info={"lr": lr, "epochs": 3}) as run:
        run.use(features)
        art = Artifact("model", type="model")
        with art.new_file("weights.bin") as f:
            f.write("same weights")
        with art.new_file("card.txt") as f:
            f.write(f"trained on {features}")
        return run.log(art).ref


def test_diff_lists_exactly_the_input_and_the_parameter(reg: Registry) -> None:
    raw = reg.log(draft("raw", "r"))
    for i in range(7):
        with reg.run("featurize") as run:
            run.use(raw.ref)
            run.log(draft("features", f"features {i}"))
    a = _model(reg, "features:v5", 0.1)
    b = _model(reg, "features:v6", 0.01)
    d = reg.diff(a, b)
    assert not d.same
    assert [(c.collection, c.old, c.new) for c in d.inputs] == [
        ("default/features", ("default/features:v5",), ("default/features:v6",))
    ]
    assert d.inputs[0].old_digests[0] == reg.get("features:v5").digest
    assert [(p.key, p.old, p.new) for p in d.parameters] == [("run.lr", 0.1, 0.01)]
    assert [(f.path, f.change) for f in d.files] == [("card.txt", "changed")]
    assert reg.diff(a, a).same
    with pytest.raises(InvalidRefError, match="one collection"):
        reg.diff(a, "raw:v0")


def test_cli_diff_exit_codes(reg: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--db-url", reg.db_url, "--store-url", reg.store_url, "diff"]
    reg.log(draft("ds", "one"))
    reg.log(draft("ds", "two"))
    assert main([*base, "ds:v0", "ds:v0"]) == 0
    assert "same lineage" in capsys.readouterr().out
    assert main([*base, "ds:v0", "ds:v1", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["same"] is False and data["files"][0]["change"] == "changed"

"""Lineage graphs: through registry links, and cycles (artiflow.lineage).

Real SQLite and a real local folder (split from tests/test_registry.py)."""

from __future__ import annotations

from drafts import draft


def test_lineage_through_registry_links(registry):
    with registry.run("train", task="fit") as run:
        run.use(registry.log(draft("ds")))
        model = run.log(draft("model", type="model", files={"m": "1"}))
    registry.link(model, "model-registry/churn", aliases=["production"])
    up = registry.lineage("model-registry/churn:production")
    assert {n["ref"] for n in up.versions()} == {
        "model-registry/churn:v0",
        "default/model:v0",
        "default/ds:v0",
    }
    assert ("link" in {k for _, _, k in up.edges}) and len(up.runs()) == 1
    down = registry.lineage("ds:v0", direction="downstream")
    assert "model-registry/churn:v0" in {n["ref"] for n in down.versions()}


def test_lineage_terminates_on_cycles(registry):
    x = registry.log(draft("x", files={"a": "1"}))
    with registry.run("a") as run:
        run.use(x)
        y = run.log(draft("y", files={"b": "1"}))
    with registry.run("b") as run:
        run.use(y)
        again = run.log(draft("x", files={"a": "1"}))  # same content: the existing x:v0
    assert again == x
    for direction in ("upstream", "downstream", "both"):
        g = registry.lineage("x:v0", direction=direction)
        assert {n["ref"] for n in g.versions()} == {"default/x:v0", "default/y:v0"}
        assert len(g.runs()) == 2

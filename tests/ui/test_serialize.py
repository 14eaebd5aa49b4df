"""The web API serialises with the core's one serialisation (issue 12): a version's summary is
its ``to_dict``, a run is its ``to_dict``, lineage nodes are the graph's own nodes, labelled."""

from __future__ import annotations

import doctest
from pathlib import Path

from artiflow import Artifact, Registry
from artiflow.ui import _serialize as ser


def test_examples() -> None:
    result = doctest.testmod(ser)
    assert result.attempted > 0 and result.failed == 0


def test_the_ui_shapes_are_the_core_shapes(tmp_path: Path) -> None:
    with Registry(home=tmp_path / "home") as registry:
        draft = Artifact("raw", description="rows")
        with draft.new_file("a.csv") as f:
            f.write("a")
        raw = registry.log(draft, aliases=["production"], semver="1.0.0")
        with registry.run("prep", orchestrator="airflow", pipeline="nightly", task="clean") as run:
            run.use("raw:production")
            out = Artifact("clean", type="table")
            with out.new_file("b.csv") as f:
                f.write("b")
            clean = run.log(out)
        member = registry.link(clean, "reg/cleaned", aliases=["best"])

        for version in (raw, clean, member):
            full = version.to_dict()
            assert ser.version_summary(version) == {k: full[k] for k in ser.SUMMARY_KEYS}
        assert ser.version_summary(member)["linked"] == "default/clean:v0"
        assert ser.etag(raw) == f'"v0.r{raw.revision}"' and ser.pinned_ref(raw) == raw.ref
        (logged,) = registry.runs()
        assert ser.run_dict(logged) == logged.to_dict()

        graph = registry.lineage(clean, direction="both")
        shaped = ser.lineage_dict(graph, root_ref=clean.ref, direction="both", depth=None)
        assert shaped["root"] == graph.root
        assert [n["id"] for n in shaped["nodes"]] == list(graph.nodes)
        assert len(shaped["edges"]) == len(graph.edges)
        by_id = {n["id"]: n for n in shaped["nodes"]}
        run_node = by_id[f"run:{logged.id}"]
        assert (run_node["label"], run_node["sublabel"]) == ("prep", "airflow · nightly.clean")
        version_node = by_id[f"version:{raw.id}"]
        assert version_node["label"] == "raw:v0"
        assert version_node["sublabel"] == "dataset · latest · production"

        (event,) = registry.alias_history("raw")
        assert ser.alias_event_dict(event) == {**dict(event), "at": event.at.isoformat()}
        (collection,) = [c for c in registry.collections() if c.name == "raw"]
        assert ser.collection_dict(collection)["created_at"] == collection.created_at.isoformat()

"""Assets: outlets/inlets at parse time, asset events with extras, alias-move events."""

from __future__ import annotations

import pytest
from airflow_helpers import asset_events as _events
from airflow_helpers import task_states

pytestmark = pytest.mark.usefixtures("airflow_db")


def _queued(dag_id: str) -> int:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(
            select(func.count())
            .select_from(AssetDagRunQueue)
            .where(AssetDagRunQueue.target_dag_id == dag_id)
        )


def test_assets_are_declared_at_parse_time(dagbag):
    dag = dagbag.dags["bike_model_retrain"]
    train = dag.get_task("train")
    assert [a.uri for a in train.inlets] == ["x-artiflow://airflow-tests/default/bike-training-set"]
    assert [a.uri for a in train.outlets] == [
        "x-artiflow://airflow-tests/default/bike-demand-model",
        "x-artiflow://airflow-tests/default/bike-demand-model/alias/candidate",
    ]
    promote = dag.get_task("promote")
    assert "x-artiflow://airflow-tests/default/bike-demand-model/alias/production" in [
        a.uri for a in promote.outlets
    ]
    # a mapped task declares its outputs on the commit task too
    nightly = dagbag.dags["bike_dataset_nightly"]
    assert [a.uri for a in nightly.get_task("station_stats__commit").outlets] == [
        "x-artiflow://airflow-tests/default/bike-station-stats"
    ]
    assert nightly.get_task("station_stats").partial_kwargs["outlets"][0].uri == (
        "x-artiflow://airflow-tests/default/bike-station-stats"
    )


def test_new_versions_and_alias_moves_emit_asset_events(run_dag, registry):
    model_uri = "x-artiflow://airflow-tests/default/asset-model"
    prod_uri = "x-artiflow://airflow-tests/default/asset-model/alias/production"
    cand_uri = "x-artiflow://airflow-tests/default/asset-model/alias/candidate"
    before = (len(_events(model_uri)), len(_events(prod_uri)), _queued("af_on_promotion"))

    dr = run_dag("af_assets_producer", run_conf={"content": "first"})
    assert set(task_states(dr).values()) == {"success"}
    v0 = registry.get("asset-model:production")

    model_events = _events(model_uri)[before[0] :]
    assert len(model_events) == 1
    extra = model_events[0]
    assert extra["_run_id"] == dr.run_id
    assert extra["ref"] == v0.ref
    assert extra["version"] == v0.version
    assert extra["digest"] == v0.digest
    assert extra["aliases"] == ["candidate", "latest"]
    assert extra["artiflow_run"] == v0.logged_by().id

    prod_events = _events(prod_uri)[before[1] :]
    assert len(prod_events) == 1
    assert prod_events[0]["ref"] == v0.ref
    assert prod_events[0]["alias"] == "production"
    assert _events(cand_uri)[-1]["ref"] == v0.ref

    # both consumers were queued by the events: one on new versions, one on the promotion
    assert _queued("af_on_new_model") >= 1
    assert _queued("af_on_promotion") == before[2] + 1

    # same content again: no new version, so no event on the model asset (nor a new promotion)
    dr2 = run_dag("af_assets_producer", run_conf={"content": "first"})
    assert set(task_states(dr2).values()) == {"success"}
    assert len(_events(model_uri)) == before[0] + 1
    assert len(_events(prod_uri)) == before[1] + 1

    # new content: a new version and a new promotion event
    dr3 = run_dag("af_assets_producer", run_conf={"content": "second"})
    assert set(task_states(dr3).values()) == {"success"}
    v1 = registry.get("asset-model:production")
    assert v1.version == "v1"
    assert _events(model_uri)[-1]["ref"] == v1.ref
    last = _events(prod_uri)[-1]
    assert (last["ref"], last["previous"]) == (v1.ref, "v0")


def test_asset_uris_carry_the_registry_identity_computed_without_a_database(tmp_path, monkeypatch):
    """Two registries never share an Asset URI; the identity comes from the configuration
    alone: a database that does not exist is never opened (nor created) to compute it."""
    from artiflow import Registry
    from artiflow.identity import registry_identity
    from artiflow.operators import artifact_asset, artifact_uri
    from artiflow.operators._registry import registry_identity as airflow_identity

    assert artifact_uri("ds") == "x-artiflow://airflow-tests/default/ds"
    monkeypatch.delenv("ARTIFLOW_REGISTRY_NAME")
    uris = {}
    for label, url in {
        "pg-a": "postgresql+psycopg://user:secret@127.0.0.1:1/no_such_db_a",
        "pg-b": "postgresql+psycopg://user:secret@127.0.0.1:1/no_such_db_b",
        "sqlite": f"sqlite:///{tmp_path / 'missing' / 'registry.db'}",
    }.items():
        monkeypatch.setenv("ARTIFLOW_DB_URL", url)
        uris[label] = artifact_asset("bike-dataset").uri
        assert "secret" not in uris[label] and "user" not in uris[label]
        assert airflow_identity() == registry_identity(Registry(url))
    assert len(set(uris.values())) == 3, uris
    assert uris["pg-a"].startswith("x-artiflow://127.0.0.1-no-such-db-a-")
    assert not (tmp_path / "missing").exists()
    # the same database through another driver and other credentials: the same identity
    monkeypatch.setenv("ARTIFLOW_DB_URL", "postgresql://other:pw@127.0.0.1:1/no_such_db_a")
    assert artifact_asset("bike-dataset").uri == uris["pg-a"]
    # a configured name wins; with an Airflow connection and no name: conn-<conn id>
    monkeypatch.setenv("ARTIFLOW_CONN_ID", "artiflow_registry")
    assert artifact_uri("ds") == "x-artiflow://conn-artiflow_registry/default/ds"
    monkeypatch.setenv("ARTIFLOW_REGISTRY_NAME", "prod-eu")
    assert artifact_uri("ds") == "x-artiflow://prod-eu/default/ds"


def test_run_time_assets_go_through_an_asset_alias(run_dag, registry, dagbag):
    from airflow.sdk import AssetAlias

    stage = dagbag.dags["af_runtime_producer"].get_task("stage")
    (alias,) = [o for o in stage.outlets if isinstance(o, AssetAlias)]
    assert alias.name == "artiflow:airflow-tests"
    staging_uri = "x-artiflow://airflow-tests/default/rt-model/alias/staging"
    report_uri = "x-artiflow://airflow-tests/default/rt-report-us"
    before = _queued("af_on_staging")

    dr = run_dag("af_runtime_producer", run_conf={"region": "us"})
    assert set(task_states(dr).values()) == {"success"}
    model = registry.get("rt-model:staging")
    (staged,) = [e for e in _events(staging_uri) if e["_run_id"] == dr.run_id]
    assert (staged["ref"], staged["alias"], staged["digest"]) == (
        model.ref,
        "staging",
        model.digest,
    )
    (report,) = [e for e in _events(report_uri) if e["_run_id"] == dr.run_id]
    assert report["ref"] == registry.get("rt-report-us").ref
    assert _queued("af_on_staging") == before + 1  # the consumer of the run-time asset
    # the declared outlets were not edited away: the alias is still there for the next try
    assert alias in dagbag.dags["af_runtime_producer"].get_task("stage").outlets

"""The ``artiflow`` connection type: Airflow's own ProvidersManager sees the hook, the
connection type and its form fields; the hook opens the registry of its connection; tasks
and the registry cache follow the documented precedence (explicit id, $ARTIFLOW_CONN_ID,
``artiflow_default``, the ARTIFLOW_* environment)."""

from __future__ import annotations

import json
import os
import warnings

import pytest

from artiflow import Artifact, Registry


@pytest.fixture
def conn_env(tmp_path, monkeypatch):
    """Two artiflow connections in the environment secrets backend, on two registries."""

    def add(conn_id: str, home, **extra):
        extra.setdefault("db_url", f"sqlite:///{home}/registry.db")
        extra.setdefault("store_url", str(home / "objects"))
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}",
            json.dumps({"conn_type": "artiflow", "extra": extra}),
        )
        return Registry(db_url=extra["db_url"], store_url=extra["store_url"])

    return add


def test_providers_manager_sees_hook_connection_type_and_form_fields(airflow_db):
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    pm = ProvidersManager()
    runtime = ProvidersManagerTaskRuntime()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # declarative fields: no deprecated hook methods used
        hook = runtime.hooks["artiflow"]
    assert hook is not None
    assert hook.hook_class_name == "artiflow.operators.hooks.ArtiflowHook"
    assert hook.connection_id_attribute_name == "artiflow_conn_id"
    assert hook.hook_name == "Artiflow"
    widgets = pm.connection_form_widgets
    for field in ("db_url", "store_url", "storage_options", "default_project"):
        w = widgets[f"extra__artiflow__{field}"]
        assert w.package_name == "artiflow" and w.field_name == field
    assert widgets["extra__artiflow__db_url"].is_sensitive  # the URL may hold a password
    assert widgets["extra__artiflow__storage_options"].field["schema"]["title"] == (
        "Storage options (JSON)"
    )
    behaviour = pm.field_behaviours["artiflow"]
    assert set(behaviour["hidden_fields"]) == {"host", "schema", "login", "password", "port"}
    assert behaviour["placeholders"]["extra__artiflow__store_url"] == "s3://my-bucket/artiflow"
    info = pm.providers["artiflow"].data
    assert info["docs-url"].endswith("docs/airflow.md")
    assert info["plugins"][0]["plugin-class"] == "artiflow.plugin.ArtiflowPlugin"
    assert "artiflow.operators.event_trigger" in info["triggers"][0]["python-modules"]
    assert "artiflow" in info["config"]
    assert runtime.asset_uri_handlers["x-artiflow"].__name__ == "normalize_uri"
    converters = runtime.asset_to_openlineage_converters
    assert converters["x-artiflow"].__name__ == "to_openlineage"


def test_hook_form_fields_match_provider_info_and_hook_methods():
    from artiflow.operators.hooks import CONN_FIELDS, UI_FIELD_BEHAVIOUR, ArtiflowHook
    from artiflow.provider_info import get_provider_info

    (conn,) = get_provider_info()["connection-types"]
    assert conn["conn-fields"] == CONN_FIELDS
    assert conn["ui-field-behaviour"]["hidden-fields"] == UI_FIELD_BEHAVIOUR["hidden_fields"]
    assert conn["ui-field-behaviour"]["placeholders"] == UI_FIELD_BEHAVIOUR["placeholders"]
    assert ArtiflowHook.get_ui_field_behaviour()["hidden_fields"] == [
        "host",
        "schema",
        "login",
        "password",
        "port",
    ]
    try:  # Airflow < 3.2 reads these (wtforms comes with its FAB UI)
        widgets = ArtiflowHook.get_connection_form_widgets()
    except ImportError as e:
        assert e.name == "wtforms"  # Airflow's providers manager ignores this one
    else:
        assert sorted(widgets) == sorted(CONN_FIELDS)


def test_asset_uri_normaliser_and_openlineage_converter(airflow_db):
    from airflow.sdk import Asset

    from artiflow.operators import alias_asset

    a = alias_asset("team/model", "production", registry="prod")
    assert a.normalized_uri == "x-artiflow://prod/team/model/alias/production"
    assert Asset("x-artiflow://prod").normalized_uri is None  # not a collection: rejected
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset

    ds = translate_airflow_asset(a, None)
    assert (ds.namespace, ds.name) == ("artiflow://prod/team", "model")


def test_hook_opens_the_connection_registry_and_tests_read_only(airflow_db, conn_env, tmp_path):
    from artiflow.operators import ArtiflowHook, get_registry

    reg = conn_env("team_reg", tmp_path / "team", storage_options='{"auto_mkdir": true}')
    d = Artifact("hooked", type="dataset")
    (tmp_path / "f.txt").write_text("x")
    d.add_file(tmp_path / "f.txt")
    reg.log(d)
    hook = ArtiflowHook(artiflow_conn_id="team_reg")
    assert hook.registry_kwargs()["storage_options"] == {"auto_mkdir": True}
    got = hook.get_conn()
    assert got is get_registry("team_reg")  # one registry per connection in the process
    assert got.get("hooked").digest == reg.get("hooked").digest
    assert got.settings.registry_name == "conn-team_reg"
    ok, message = hook.test_connection()
    assert ok, message
    assert "1 collections" in message and "conn-team_reg" in message
    # read-only: a connection to a database that does not exist fails and creates nothing
    conn_env("empty_reg", tmp_path / "empty")
    ok, message = ArtiflowHook(artiflow_conn_id="empty_reg").test_connection()
    assert not ok and "no registry database" in message
    assert not (tmp_path / "empty" / "registry.db").exists()
    conn_env("bad_opts", tmp_path / "team", storage_options="{not json")
    ok, message = ArtiflowHook(artiflow_conn_id="bad_opts").test_connection()
    assert not ok and "storage options must be a JSON object" in message


def test_precedence_explicit_env_default_connection_environment(
    airflow_db, conn_env, tmp_path, monkeypatch
):
    from artiflow.operators import get_registry
    from artiflow.operators._registry import registry_identity, resolve_conn_id

    monkeypatch.delenv("ARTIFLOW_CONN_ID", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_ARTIFLOW_DEFAULT", raising=False)
    env_reg = get_registry()
    assert resolve_conn_id() is None
    assert env_reg.db_url == Registry().db_url  # the ARTIFLOW_* environment

    conn_env("artiflow_default", tmp_path / "default")
    assert resolve_conn_id() == "artiflow_default"
    default = get_registry()
    assert default is not env_reg and str(tmp_path / "default") in default.db_url

    conn_env("other", tmp_path / "other")
    monkeypatch.setenv("ARTIFLOW_CONN_ID", "other")
    assert resolve_conn_id() == "other"
    assert str(tmp_path / "other") in get_registry().db_url
    assert resolve_conn_id("artiflow_default") == "artiflow_default"  # explicit wins
    assert get_registry("artiflow_default") is default
    # identities: the default connection keeps the environment's, a named one its own
    assert registry_identity() == os.environ["ARTIFLOW_REGISTRY_NAME"]
    assert registry_identity("artiflow_default") == os.environ["ARTIFLOW_REGISTRY_NAME"]
    assert registry_identity("team") == "conn-team"


def test_conn_id_on_decorator_operators_and_sensor_sets_their_assets():
    from artiflow.operators import (
        ArtifactSensor,
        LogArtifactOperator,
        PromoteArtifactOperator,
        artifact_task,
    )

    @artifact_task(inputs={"a": "ds"}, outputs={"b": "out"}, artiflow_conn_id="team")
    def f(a, b):
        pass

    assert f.kwargs["artiflow_conn_id"] == "team"
    assert [o.uri for o in f.kwargs["outlets"]] == ["x-artiflow://conn-team/default/out"]
    log = LogArtifactOperator(task_id="log", name="ds", path="/x", artiflow_conn_id="team")
    assert log.artiflow_conn_id == "team"
    assert log.outlets[0].uri == "x-artiflow://conn-team/default/ds"
    promote = PromoteArtifactOperator(
        task_id="p", ref="m", alias="production", artiflow_conn_id="team"
    )
    assert promote.artiflow_conn_id == "team"
    assert "x-artiflow://conn-team/default/m/alias/production" in [o.uri for o in promote.outlets]
    sensor = ArtifactSensor(task_id="s", ref="m:production", artiflow_conn_id="team")
    assert sensor.inlets[0].uri == "x-artiflow://conn-team/default/m/alias/production"


def test_the_private_airflow_api_the_decorator_builds_on_is_still_there():
    """``@artifact_task`` subclasses Airflow's private ``_PythonDecoratedOperator`` and wraps
    it with ``task_decorator_factory`` (Airflow has no public base for a custom ``@task``
    flavour). This fails when an Airflow release changes what the decorator relies on."""
    import inspect

    from airflow.providers.standard.decorators.python import _PythonDecoratedOperator
    from airflow.sdk.bases.decorator import DecoratedOperator, task_decorator_factory

    from artiflow.operators import ArtifactDecoratedOperator

    assert issubclass(_PythonDecoratedOperator, DecoratedOperator)
    assert issubclass(ArtifactDecoratedOperator, _PythonDecoratedOperator)
    assert {"python_callable", "op_args", "op_kwargs"} <= set(
        inspect.signature(_PythonDecoratedOperator.__init__).parameters
    )
    params = inspect.signature(task_decorator_factory).parameters
    assert {"python_callable", "multiple_outputs", "decorated_operator_class"} <= set(params)
    assert ArtifactDecoratedOperator.custom_operator_name == "@task.artiflow"

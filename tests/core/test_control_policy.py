"""Checks and promotion policy on SQLite and PostgreSQL: a protected ``production`` refuses a
version whose upstream failed a check, accepts it once the check passes, and the audit record
names the checks; every alias move is audited with who/what and how."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_control_pipeline import draft, open_backend

from artiflow import ArtifactNotFoundError, ArtiflowError, InvalidRefError, PolicyError, Registry
from artiflow._ops.policy import acting_as


@pytest.fixture(params=["sqlite", "postgres"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    yield from open_backend(request.param, tmp_path)


def _chain(reg: Registry) -> tuple[str, str]:
    data = reg.log(draft("bike-dataset", "rows"))
    with reg.run("train", orchestrator="airflow", pipeline="retrain", task="fit") as run:
        run.use(data.ref)
        model = run.log(draft("bike-demand-model", "weights", type="model"))
    return data.ref, model.ref


def test_protected_alias_refuses_failed_upstream_then_accepts(reg: Registry) -> None:
    data_ref, model_ref = _chain(reg)
    reg.protect("bike-demand-model", "production", require_checks=["backtest"])
    data = reg.get(data_ref)
    data.add_check("schema", False, {"bad_rows": 12})
    model = reg.get(model_ref)
    with pytest.raises(PolicyError) as err:
        reg.alias(model_ref, "production")
    assert isinstance(err.value, ArtiflowError)
    assert err.value.missing == [
        f"check backtest has not passed on {model_ref} (no result)",
        f"check schema failed on {data_ref} (upstream)",
    ]
    model.add_check("backtest", True, {"mape": 0.12})
    with pytest.raises(PolicyError, match="schema failed"):
        reg.alias(model_ref, "production")
    v = reg.get(model_ref)
    v.aliases.append("production")
    with pytest.raises(PolicyError):
        v.save()  # the other path of moving an alias
    assert "production" not in reg.get(model_ref).aliases
    data.add_check("schema", True, {"bad_rows": 0})  # the newest result counts
    with acting_as("cli", by="ana"):
        moved = reg.alias(model_ref, "production")
    assert "production" in moved.aliases
    assert [c.name for c in reg.get(model_ref).checks] == ["backtest"]
    record = reg.alias_audit("bike-demand-model", "production")[0]
    assert record["version"] == "v0" and record["moved_by"] == "ana" and record["via"] == "cli"
    assert record["evidence"]["checks"] == {"backtest": True}
    assert record["evidence"]["upstream"] == [data_ref]
    assert record["evidence"]["rules"]["require_checks"] == ["backtest"]


def test_every_alias_move_is_audited_with_who_and_how(reg: Registry) -> None:
    _data_ref, model_ref = _chain(reg)
    reg.alias(model_ref, "staging")
    with reg.run("promote", orchestrator="prefect", pipeline="deploy", task="gate") as run:
        reg.alias(model_ref, "candidate", run=run)
    audit = reg.alias_audit("bike-demand-model")
    assert [a["alias"] for a in audit] == ["candidate", "staging"]
    assert audit[0]["moved_by"] == f"run:{run.id}" and audit[0]["via"] == "prefect:deploy/gate"
    assert audit[1]["via"] == "python" and audit[1]["evidence"]["rules"] is None


def test_policy_errors_are_clear(reg: Registry) -> None:
    _chain(reg)
    with pytest.raises(InvalidRefError, match="latest"):
        reg.protect("bike-demand-model", "latest")
    with pytest.raises(ArtifactNotFoundError):
        reg.protect("nope", "production")
    v = reg.get("bike-demand-model:v0")
    with pytest.raises(InvalidRefError, match="True or False"):
        v.add_check("auc", "yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        v.add_check("auc", True, {"x": float("nan")})
    assert v.checks == []


def test_log_with_a_protected_or_tainted_alias_is_refused_before_storing(reg: Registry) -> None:
    from artiflow import QuarantinedError

    data_ref, _model_ref = _chain(reg)
    reg.protect("bike-demand-model", "production", require_checks=["backtest"])
    with reg.run("retrain") as run:
        run.use(data_ref)
        with pytest.raises(PolicyError, match="no checks yet"):
            run.log(draft("bike-demand-model", "new weights"), aliases=["production"])
    assert [v.version for v in reg.versions("bike-demand-model")] == ["v0"]
    reg.quarantine(data_ref, "bad rows")
    with reg.run("retrain") as run:
        run.use(data_ref)
        with pytest.raises(QuarantinedError, match="bad rows"):
            run.log(draft("report", "r"), aliases=["staging"])
        run.log(draft("report", "r"))  # without an alias it is logged (and tainted)
    with pytest.raises(QuarantinedError):
        reg.get("report")


def test_cli_check_protect_alias_and_audit(
    reg: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from artiflow.cli import main

    _data_ref, model_ref = _chain(reg)
    base = ["--db-url", reg.db_url, "--store-url", reg.store_url]
    assert main([*base, "protect", "bike-demand-model", "production", "--require-check", "bt"]) == 0
    assert main([*base, "alias", model_ref, "production"]) == 4  # refused
    assert "check bt has not passed" in capsys.readouterr().err
    assert main([*base, "check", model_ref, "bt", "--passed", "--details", '{"mape": 0.1}']) == 0
    assert main([*base, "alias", model_ref, "production"]) == 0
    capsys.readouterr()
    assert main([*base, "audit", "bike-demand-model", "--json"]) == 0
    audit = json.loads(capsys.readouterr().out)["moves"]
    assert audit[0]["via"] == "cli" and audit[0]["evidence"]["checks"] == {"bt": True}

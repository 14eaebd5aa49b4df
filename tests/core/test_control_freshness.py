"""Per-alias freshness: ``Registry.set_max_age(name, alias, "1d")``; an alias whose version is
older is *overdue* in ``Registry.overdue()``, ``Registry.stale()`` and ``artiflow status``, and
``overdue(emit=True)`` / ``artiflow status --emit`` send one ``alias.overdue`` event per alias and
version (the event bus the Airflow and Prefect publishers read). SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_control_pipeline import draft, open_backend

from artiflow import ArtifactNotFoundError, InvalidRefError, Registry, RegistryEvent
from artiflow._ops.stale import overdue
from artiflow.cli import main


@pytest.fixture(params=["sqlite", "postgres"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    yield from open_backend(request.param, tmp_path)


def test_overdue_aliases_and_one_event_per_alias_and_version(reg: Registry) -> None:
    reg.log(draft("ds", "a"), aliases=["production"])
    events: list[RegistryEvent] = []
    reg.subscribe(events.append)
    assert reg.set_max_age("ds", "production", "1d") == 86400
    assert reg.set_max_age("ds", "latest", dt.timedelta(hours=12)) == 43200
    now = dt.datetime.now(dt.timezone.utc)
    assert overdue(reg, now=now) == [] and reg.stale() == []  # fresh: nothing to say
    later = now + dt.timedelta(hours=13)
    assert [o.alias_ref for o in overdue(reg, now=later)] == ["default/ds:latest"]
    much_later = now + dt.timedelta(days=2)
    found = overdue(reg, now=much_later, emit=True)
    assert sorted((o.alias_ref, o.version) for o in found) == [
        ("default/ds:latest", "default/ds:v0"),
        ("default/ds:production", "default/ds:v0"),
    ]
    assert all(o.age > o.max_age for o in found)
    kinds = [(e.kind, e.alias, e.ref) for e in events]
    assert sorted(kinds) == [
        ("alias.overdue", "latest", "default/ds:v0"),
        ("alias.overdue", "production", "default/ds:v0"),
    ]
    assert {e.details["max_age_s"] for e in events} == {86400, 43200}
    overdue(reg, now=much_later, emit=True)
    assert len(events) == 2  # once per alias and version, however often it is checked
    reg.log(draft("ds", "b"), aliases=["production"])  # v1: a new version on both aliases
    events.clear()
    overdue(reg, now=much_later + dt.timedelta(days=2), emit=True)
    assert sorted((e.alias, e.ref) for e in events) == [
        ("latest", "default/ds:v1"),
        ("production", "default/ds:v1"),
    ]
    reg.set_max_age("ds", "latest", None)  # cleared
    assert [o.alias_ref for o in overdue(reg, now=much_later + dt.timedelta(days=2))] == [
        "default/ds:production"
    ]


def test_status_shows_overdue_and_emits(reg: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    reg.log(draft("ds", "a"), aliases=["production"])
    base = ["--db-url", reg.db_url, "--store-url", reg.store_url]
    assert main([*base, "freshness", "ds:production", "--max-age", "1s"]) == 0
    assert "max age 1s" in capsys.readouterr().out
    time.sleep(1.3)
    (s,) = reg.stale()
    assert s.ref == "default/ds:v0" and not s.is_stale and s.moved == ()
    assert [o.alias_ref for o in s.overdue] == ["default/ds:production"]
    events: list[RegistryEvent] = []
    reg.subscribe(events.append)
    assert main([*base, "status"]) == 1
    out = capsys.readouterr().out
    assert "default/ds:v0 [latest, production] is overdue" in out and "max age 1s" in out
    assert main([*base, "status", "--emit", "--json"]) == 1
    (item,) = json.loads(capsys.readouterr().out)["stale"]
    assert item["overdue"][0]["alias"] == "default/ds:production"
    assert overdue(reg, emit=True) and events == []  # the CLI announced it already
    assert main([*base, "freshness", "--json"]) == 1  # something is overdue
    assert main([*base, "freshness", "ds:production", "--max-age", "1y"]) != 0
    assert main([*base, "freshness", "ds:production", "--clear"]) == 0
    assert reg.stale() == []
    with pytest.raises(InvalidRefError):
        reg.set_max_age("ds", "production", 0)
    with pytest.raises(ArtifactNotFoundError):
        reg.set_max_age("nope", "production", 60)


def test_the_prefect_event_name() -> None:
    pytest.importorskip("prefect")
    from artiflow.prefect.events import to_prefect_event

    ev = RegistryEvent("alias.overdue", "default", "ds", "default/ds:v0", "v0", 0, "ab")
    assert to_prefect_event(ev, registry="prod")[0] == "artiflow.alias.overdue"

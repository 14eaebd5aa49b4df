"""The catalog schema lives under Alembic, shipped inside the package."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from artiflow import Artifact, Registry
from artiflow.catalog.engine import create_engine_for
from artiflow.catalog.migrate import HEAD, alembic_config, current_revision, downgrade, upgrade
from artiflow.catalog.models import metadata


def test_one_head_and_constant_in_step():
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert heads == [HEAD]


def test_upgrade_from_empty_matches_models(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'r.db'}")
    assert current_revision(engine) is None
    assert upgrade(engine) == HEAD
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables
    # autogenerate finds nothing to change: migrations and models agree
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"render_as_batch": True}), metadata
        )
    assert diff == []
    engine.dispose()


def test_downgrade_and_upgrade_with_data(tmp_path):
    reg = Registry(home=tmp_path)
    art = Artifact("ds")
    with art.new_file("a") as f:
        f.write("x")
    reg.log(art)
    reg.close()
    engine = create_engine_for(reg.db_url)
    assert downgrade(engine, "base") is None
    assert upgrade(engine) == HEAD
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM versions")).scalar() == 0
    engine.dispose()


def test_new_registry_is_created_at_head_by_cli(tmp_path):
    from artiflow.cli import main

    assert main(["--home", str(tmp_path), "db", "upgrade"]) == 0
    engine = create_engine_for(f"sqlite:///{tmp_path / 'registry.db'}")
    assert current_revision(engine) == HEAD
    engine.dispose()


def _first_open_and_log(args):
    home, i = args
    from artiflow import Artifact, Registry

    reg = Registry(home=home)
    art = Artifact("ds")
    with art.new_file("x") as f:
        f.write(str(i))
    return reg.log(art).version


def test_concurrent_first_open_migrates_once(tmp_path):
    import multiprocessing as mp

    home = str(tmp_path / "shared")
    with mp.get_context("spawn").Pool(6) as pool:
        versions = pool.map(_first_open_and_log, [(home, i) for i in range(6)])
    assert sorted(versions) == [f"v{i}" for i in range(6)]
    engine = create_engine_for(f"sqlite:///{home}/registry.db")
    assert current_revision(engine) == HEAD
    engine.dispose()

"""The examples in the core's docstrings run, so they cannot go stale."""

from __future__ import annotations

import doctest
import importlib

import pytest

CORE = [
    "artiflow",
    "artiflow.refs",
    "artiflow.semver",
    "artiflow.hashing",
    "artiflow.manifest",
    "artiflow.artifact",
    "artiflow.config",
    "artiflow.exceptions",
    "artiflow.lineage",
    "artiflow.events",
    "artiflow.outputs",
    "artiflow.registry",
    "artiflow.helpers",
    "artiflow.version",
    "artiflow.runs",
    "artiflow.store",
    "artiflow._ops.materialize",
    "artiflow._ops.ingest",
    "artiflow._ops.log",
    "artiflow._ops.labels",
    "artiflow._ops.parallel",
    "artiflow._ops.query",
    "artiflow._ops.runs",
    "artiflow._ops.resolve",
    "artiflow._ops.promote",
    "artiflow._context",
    "artiflow.states",
    "artiflow.serialize",
    "artiflow.records",
    "artiflow.catalog",
    "artiflow.catalog.catalog",
    "artiflow.catalog.engine",
    "artiflow.catalog.migrate",
    "artiflow.catalog.models",
    "artiflow.openlineage",
    "artiflow.store.base",
    "artiflow.store.local",
    "artiflow.store.remote",
    "artiflow.store.cache",
    "artiflow.store.checkout",
    "artiflow.store.fs",
    "artiflow.references",
    "artiflow.catalog._pages",
    "artiflow.catalog._rows",
    "artiflow.catalog._records",
    "artiflow.catalog._collections",
    "artiflow.catalog._queries",
    "artiflow.catalog._aliases",
    "artiflow.catalog._lineage",
    "artiflow.catalog._runs",
    "artiflow._ops.replay",
    "artiflow._tasking.execution",
    "artiflow._tasking.resolver",
    "artiflow._tasking.spec",
    "artiflow._publishers",
]


@pytest.mark.parametrize("name", CORE)
def test_docstring_examples(name, chdir_tmp):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0

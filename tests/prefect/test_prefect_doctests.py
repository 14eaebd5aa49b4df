"""The examples in the Prefect integration's docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "artiflow.prefect",
    "artiflow.prefect.blocks",
    "artiflow.prefect.events",
    "artiflow.prefect.replay",
    "artiflow.prefect.runs",
    "artiflow.prefect.tasks",
    "flows.prepare_dataset",
    "flows.retrain",
    "flows.deployments",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, prefect_server: str, chdir_tmp: object) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0

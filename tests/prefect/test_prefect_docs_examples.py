"""docs/prefect.md's flows run: its blocks, in order in one namespace, then the flows they
define, called on the session's Prefect test server with a fresh registry.

tests/test_docs_examples.py runs the same blocks without a server (definitions only) and owns
the parsing and the page's helpers (``SETUP``); this test exists here to share the one test
server of this folder instead of starting another (10 s idle, close to a minute under load).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _docs_examples() -> Any:
    spec = importlib.util.spec_from_file_location(
        "_docs_examples", HERE.parent / "test_docs_examples.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_prefect_page_flows_run(registry: Any) -> None:
    docs = _docs_examples()
    ns: dict[str, Any] = {"__name__": "docs_prefect"}
    exec(compile(docs.SETUP["prefect.md"], "<setup of prefect.md>", "exec"), ns)
    for block in docs.runnable("prefect.md"):
        exec(compile(block.code, block.where, "exec"), ns)

    ns["pipeline"]()  # generate -> train
    model = registry.get("bike-model:candidate")
    assert [e.path for e in model.files()] == ["model.json"]
    assert model.logged_by().pipeline == "pipeline"
    assert [v.ref for v in model.logged_by().used_artifacts()] == ["default/bike-dataset:v0"]

    ns["build"]()  # 8 collaborative parts, committed once, then train on them
    shards = registry.get("bike-shards")
    assert sorted(e.path for e in shards.files()) == [f"part-{i}.csv" for i in range(8)]

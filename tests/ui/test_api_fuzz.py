"""A schemathesis run against the API's own OpenAPI document (issue 11, item 14): generated
requests (valid and invalid, bounded examples, in-process ASGI) find no 5xx, no undocumented
status code and no response that violates the schema -- with the write endpoints on.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

TOKEN = "fuzz-token"
EXAMPLES = 20


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory, seed: Any) -> Any:
    from artiflow.ui import create_app

    reg = seed(Path(tmp_path_factory.mktemp("fuzz")), big=False)
    yield create_app(reg, allow_writes=True, write_token=TOKEN)
    reg.close()


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return schemathesis.openapi.from_asgi("/api/openapi.json", fuzz_app)


MODES = ["positive", "negative"]


@pytest.mark.parametrize("mode", MODES)
def test_api_conforms_to_its_schema(api_schema: Any, mode: str) -> None:
    """Every operation, N generated requests each (the pytest plugin of schemathesis 4 does not
    run under pytest 9, so the strategies are driven by hypothesis directly)."""
    from hypothesis import given
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    failures = []
    operations = [r.ok() for r in api_schema.get_all_operations()]
    assert len(operations) >= 12
    for op in operations:
        strategy = op.as_strategy(generation_mode=GenerationMode(mode))

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (an operation without parameters)
            assert mode == "negative", op.path
        except BaseException as exc:  # schemathesis raises exception groups: collect all
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    assert not failures, "\n\n".join(failures)

"""Parse-time declarations of a task's artifact inputs and outputs (see
:mod:`artiflow._tasking.spec`): plain JSON-like values, so that Airflow can serialize them with
the DAG (mapped tasks keep their arguments in ``partial_kwargs``).
"""

from __future__ import annotations

from artiflow._tasking.spec import (
    InputSpec,
    OutputSpec,
    normalize_inputs,
    normalize_outputs,
    output_to_dict,
)

__all__ = [
    "InputSpec",
    "OutputSpec",
    "normalize_inputs",
    "normalize_outputs",
    "output_to_dict",
]

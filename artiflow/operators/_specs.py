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
from artiflow.refs import parse_ref

from ._registry import default_project

__all__ = [
    "InputSpec",
    "OutputSpec",
    "collection_key",
    "normalize_inputs",
    "normalize_outputs",
    "output_to_dict",
]


def collection_key(ref: str) -> tuple[str, str]:
    """``(project, name)`` of a ref, with the default project filled in.

    Example:
        >>> collection_key("bike-dataset:v2")
        ('default', 'bike-dataset')
    """
    r = parse_ref(ref, default_project=default_project())
    return r.project, r.name

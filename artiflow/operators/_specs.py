"""Parse-time declarations of a task's artifact inputs and outputs.

They are kept as plain JSON-like values (strings, dicts, lists) so that Airflow can serialize
them with the DAG (mapped tasks keep their arguments in ``partial_kwargs``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from artiflow.refs import parse_ref

from ._registry import default_project

__all__ = ["InputSpec", "OutputSpec", "normalize_inputs", "normalize_outputs"]

InputSpec = dict[str, str]  # param -> ref
OutputSpec = dict[str, dict[str, Any]]  # param -> {"name", "type", "aliases", ...}

_OUTPUT_FIELDS = ("name", "type", "aliases", "tags", "metadata", "description")


def normalize_inputs(inputs: Mapping[str, Any] | None) -> InputSpec:
    """Validate ``{param: ref}`` and return a plain dict (refs are checked, not resolved).

    Example:
        >>> normalize_inputs({"raw": "bike-dataset:latest"})
        {'raw': 'bike-dataset:latest'}
    """
    out: InputSpec = {}
    for param, ref in dict(inputs or {}).items():
        if not isinstance(param, str) or not param.isidentifier():
            raise ValueError(f"inputs: {param!r} is not a parameter name")
        if not isinstance(ref, str):
            raise TypeError(
                f"inputs[{param!r}] must be a ref string like 'bike-dataset:latest', "
                f"got {type(ref).__name__}"
            )
        parse_ref(ref)  # raises InvalidRefError naming the bad part
        out[param] = ref
    return out


def output_to_dict(value: Any) -> dict[str, Any]:
    """``"name"``, ``artiflow.Output(...)`` or a dict -> a plain output dict.

    Example:
        >>> output_to_dict("bike-dataset")["type"]
        'dataset'
    """
    if isinstance(value, str):
        data: dict[str, Any] = {"name": value}
    elif isinstance(value, Mapping):
        data = dict(value)
    elif hasattr(value, "name"):
        data = {f: getattr(value, f) for f in _OUTPUT_FIELDS if hasattr(value, f)}
    else:
        raise TypeError(
            f"an output must be a collection name or artiflow.Output(...), got {value!r}"
        )
    ref = parse_ref(data["name"])
    if ref.selector != "latest" or ":" in data["name"]:
        raise ValueError(
            f"output {data['name']!r}: name the collection without a selector; "
            "put aliases in Output(name, aliases=...)"
        )
    return {
        "name": data["name"],
        "type": data.get("type") or "dataset",
        "aliases": [str(a) for a in (data.get("aliases") or ())],
        "tags": [str(t) for t in (data.get("tags") or ())],
        "metadata": dict(data.get("metadata") or {}),
        "description": data.get("description"),
    }


def normalize_outputs(outputs: Mapping[str, Any] | None) -> OutputSpec:
    """Validate ``{param: name | Output}`` and return ``{param: plain dict}``.

    Example:
        >>> normalize_outputs({"out": "bike-dataset"})["out"]["name"]
        'bike-dataset'
    """
    out: OutputSpec = {}
    for param, value in dict(outputs or {}).items():
        if not isinstance(param, str) or not param.isidentifier():
            raise ValueError(f"outputs: {param!r} is not a parameter name")
        out[param] = output_to_dict(value)
    return out


def collection_key(ref: str) -> tuple[str, str]:
    """``(project, name)`` of a ref, with the default project filled in.

    Example:
        >>> collection_key("bike-dataset:v2")
        ('default', 'bike-dataset')
    """
    r = parse_ref(ref, default_project=default_project())
    return r.project, r.name

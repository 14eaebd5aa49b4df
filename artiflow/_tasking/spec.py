"""What an artifact task declares: its inputs (refs) and outputs (collections), normalised.

Both integrations keep the declarations as plain JSON-like values (Airflow serialises them with
the DAG; mapped tasks keep them in ``partial_kwargs``): ``{param: ref}`` for inputs and
``{param: {"name", "type", "aliases", "tags", "metadata", "description"}}`` for outputs.

Example:
    >>> normalize_inputs({"raw": "bike-dataset:latest"})
    {'raw': 'bike-dataset:latest'}
    >>> normalize_outputs({"out": "bike-dataset"})["out"]["type"]
    'dataset'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from artiflow.outputs import Output
from artiflow.refs import parse_ref

__all__ = [
    "InputSpec",
    "OutputSpec",
    "check_overlap",
    "check_parameters",
    "normalize_inputs",
    "normalize_outputs",
    "output_to_dict",
]

InputSpec = dict[str, str]  # param -> ref
OutputSpec = dict[str, dict[str, Any]]  # param -> {"name", "type", "aliases", ...}

_OUTPUT_FIELDS = ("name", "type", "aliases", "tags", "metadata", "description")


def _check_param(param: Any, what: str) -> None:
    if not isinstance(param, str) or not param.isidentifier():
        raise ValueError(f"{what}: {param!r} is not a parameter name")


def normalize_inputs(inputs: Mapping[str, Any] | None) -> InputSpec:
    """Validate ``{param: ref}`` and return a plain dict (refs are checked, not resolved).

    Example:
        >>> normalize_inputs({"model": "team/churn-model:production"})
        {'model': 'team/churn-model:production'}
    """
    out: InputSpec = {}
    for param, ref in dict(inputs or {}).items():
        _check_param(param, "inputs")
        if not isinstance(ref, str):
            raise TypeError(
                f"inputs[{param!r}] must be a ref string like 'bike-dataset:latest', "
                f"got {type(ref).__name__}"
            )
        parse_ref(ref)  # raises InvalidRefError naming the bad part
        out[param] = ref
    return out


def output_to_dict(value: Any) -> dict[str, Any]:
    """``"name"``, ``artiflow.Output(...)`` or a dict -> a plain output dict (validated).

    Example:
        >>> output_to_dict("bike-dataset")["aliases"]
        []
        >>> output_to_dict(Output("model", type="model", aliases=("candidate",)))["aliases"]
        ['candidate']
    """
    if isinstance(value, Output):
        out = value
    elif isinstance(value, str):
        out = Output(value)
    elif isinstance(value, Mapping):
        if "name" not in value:
            raise TypeError(f"an output dict needs a 'name', got {dict(value)!r}")
        data = {k: value[k] for k in _OUTPUT_FIELDS if value.get(k) is not None}
        out = Output(**data)
    else:
        raise TypeError(
            f"an output must be a collection name or artiflow.Output(...), got {value!r}"
        )
    parse_ref(out.name)
    return {
        "name": out.name,
        "type": out.type or "dataset",
        "aliases": [str(a) for a in out.aliases],
        "tags": [str(t) for t in out.tags],
        "metadata": dict(out.metadata or {}),
        "description": out.description,
    }


def normalize_outputs(outputs: Mapping[str, Any] | None) -> OutputSpec:
    """Validate ``{param: name | Output | dict}`` and return ``{param: plain dict}``.

    Example:
        >>> normalize_outputs({"out": "bike-dataset"})["out"]["name"]
        'bike-dataset'
    """
    out: OutputSpec = {}
    for param, value in dict(outputs or {}).items():
        _check_param(param, "outputs")
        out[param] = output_to_dict(value)
    return out


def check_overlap(inputs: Iterable[str], outputs: Iterable[str]) -> None:
    """A parameter cannot be both an input and an output.

    Example:
        >>> check_overlap(["a"], ["b"])
    """
    both = set(inputs) & set(outputs)
    if both:
        raise ValueError(
            f"parameters {sorted(both)} are declared as both inputs and outputs; "
            "give each artifact parameter one role"
        )


def check_parameters(
    fn: Callable[..., Any], names: Iterable[str], *, allow_var_keyword: bool = False
) -> inspect.Signature:
    """Every artifact parameter must be a named parameter of ``fn``; returns its signature.

    With ``allow_var_keyword``, a function taking ``**kwargs`` accepts any name.

    Example:
        >>> def f(raw, out, day): ...
        >>> list(check_parameters(f, ["raw", "out"]).parameters)
        ['raw', 'out', 'day']
    """
    sig = inspect.signature(fn)
    params = sig.parameters
    has_var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
    missing = [n for n in names if n not in params]
    if missing and not (allow_var_keyword and has_var_kw):
        one = len(missing) == 1
        raise TypeError(
            f"{getattr(fn, '__name__', fn)}() has no parameter"
            f"{' ' if one else 's '}{', '.join(repr(m) for m in missing)} for the declared "
            "artifact(s); add them to the function signature (they are injected at run time)"
        )
    for name in names:
        p = params.get(name)
        if p is not None and p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"artifact parameter {name!r} cannot be *args or **kwargs")
    return sig

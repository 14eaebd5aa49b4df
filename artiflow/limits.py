"""One table of limits for every field the registry stores, checked before anything is written.

PostgreSQL refuses a ``type`` longer than its column, NUL in text, NaN in JSON and integers past
32 bits; SQLite takes all of them silently. Both databases behave the same because artiflow
checks every field against :data:`LIMITS` first (``tests/core/test_validation.py`` checks the
table against the column sizes of ``catalog/models.py``), and raises
:class:`~artiflow.exceptions.InvalidFieldError` (a ``ValueError``) naming the field, the limit
and what to do, before a blob is stored or a row is written.

Metadata, descriptions and run info are capped at :func:`max_metadata_bytes` bytes of canonical
JSON (default 1 MiB; ``ARTIFLOW_MAX_METADATA_BYTES`` or ``Registry(max_metadata_bytes=...)``).

Example:
    >>> LIMITS["type"].max_chars
    64
    >>> validate_version_fields(type="dataset", metadata={"rows": 3})
    >>> validate_version_fields(type="x" * 65)
    Traceback (most recent call last):
    ...
    artiflow.exceptions.InvalidFieldError: invalid type 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…' (65 characters): at most 64 characters; use a short type such as 'dataset' or 'model'
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .exceptions import InvalidFieldError

__all__ = [
    "DEFAULT_MAX_METADATA_BYTES",
    "INT32",
    "LIMITS",
    "MAX_METADATA_DEPTH",
    "METADATA_ENV",
    "NAME_MAX",
    "PATH_MAX_BYTES",
    "SEGMENT_MAX_BYTES",
    "FieldLimit",
    "canonical_json",
    "clean_error_text",
    "max_metadata_bytes",
    "validate_int",
    "validate_json",
    "validate_run_fields",
    "validate_text",
    "validate_version_fields",
]

#: names of projects, collections, aliases and tags (``refs._NAME``)
NAME_MAX = 128
#: one entry path segment (a file or folder name): what ext4, APFS and NTFS allow
SEGMENT_MAX_BYTES = 255
#: a whole entry path
PATH_MAX_BYTES = 4096
DEFAULT_MAX_METADATA_BYTES = 1024 * 1024
METADATA_ENV = "ARTIFLOW_MAX_METADATA_BYTES"
MAX_METADATA_DEPTH = 64
INT32 = (-(2**31), 2**31 - 1)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_NUL = re.compile(r"\x00")


@dataclass(frozen=True)
class FieldLimit:
    """The limit of one stored field.

    ``column`` is ``table.column`` in ``catalog/models.py`` (a test checks that ``max_chars``
    fits the column); ``max_chars`` None means unbounded text, capped by bytes instead when
    ``capped`` is set; ``single_line`` refuses every control character, else only NUL.

    Example:
        >>> LIMITS["run_id"].column
        'runs.id'
    """

    field: str
    column: str
    max_chars: int | None
    hint: str
    single_line: bool = True
    capped: bool = False


LIMITS: dict[str, FieldLimit] = {
    f.field: f
    for f in [
        FieldLimit("project", "collections.project", NAME_MAX, "use a shorter project name"),
        FieldLimit("name", "collections.name", NAME_MAX, "use a shorter artifact name"),
        FieldLimit("type", "collections.type", 64, "use a short type such as 'dataset' or 'model'"),
        FieldLimit(
            "description",
            "versions.description",
            None,
            "keep descriptions short; put large documents into the artifact as a file",
            single_line=False,
            capped=True,
        ),
        FieldLimit(
            "semver", "versions.semver", 128, "use a shorter label such as '1.4.0' or '2.0.0-rc.1'"
        ),
        FieldLimit(
            "distributed_id",
            "versions.distributed_id",
            255,
            "use a shorter id shared by all writers, e.g. the pipeline run id",
        ),
        FieldLimit("alias", "aliases.alias", NAME_MAX, "use a shorter alias"),
        FieldLimit("tag", "tags.tag", NAME_MAX, "use a shorter tag"),
        FieldLimit("run_id", "runs.id", 64, "use a shorter id (omit it and artiflow makes a uuid)"),
        FieldLimit("run_name", "runs.name", 255, "use a shorter run name"),
        FieldLimit("orchestrator", "runs.orchestrator", 32, "use 'manual', 'airflow' or 'prefect'"),
        FieldLimit("pipeline", "runs.pipeline", 255, "use a shorter pipeline (DAG / flow) name"),
        FieldLimit("pipeline_run", "runs.pipeline_run", 255, "use a shorter pipeline run id"),
        FieldLimit("task", "runs.task", 255, "use a shorter task name"),
        FieldLimit("host", "runs.host", 255, "use a shorter host name"),
        FieldLimit("error", "runs.error", None, "", single_line=False),
        FieldLimit("path", "entries.path", None, "", single_line=False),
    ]
}


def max_metadata_bytes(override: int | None = None) -> int:
    """The metadata cap in bytes: ``override``, else ``$ARTIFLOW_MAX_METADATA_BYTES``, else 1 MiB.

    Example:
        >>> max_metadata_bytes(2048)
        2048
    """
    value: object = override
    source = "max_metadata_bytes"
    if value is None:
        value = os.environ.get(METADATA_ENV)
        source = METADATA_ENV
        if value is None or value == "":
            return DEFAULT_MAX_METADATA_BYTES
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or number < 1:
        raise InvalidFieldError(
            f"invalid {source} {value!r}: give a whole number of bytes >= 1 "
            f"(default {DEFAULT_MAX_METADATA_BYTES})",
            field=source,
            limit=">= 1",
        )
    return number


def _show(value: str) -> str:
    return repr(value[:48] + "…" if len(value) > 48 else value)


def validate_text(
    field: str, value: object, *, optional: bool = True, max_bytes: int | None = None
) -> str | None:
    """Return ``value`` if it fits the limit of ``field`` (a key of :data:`LIMITS`), else raise.

    Text is valid Unicode (no lone surrogates: a file name decoded from another encoding), never
    holds NUL (PostgreSQL refuses it), and fits the column; single-line fields hold no control
    characters at all and are never empty.

    Example:
        >>> validate_text("run_name", "train")
        'train'
        >>> validate_text("run_name", "a\\x00b")
        Traceback (most recent call last):
        ...
        artiflow.exceptions.InvalidFieldError: invalid run_name 'a\\x00b': it contains a control character (NUL, newline, ...) at position 1; remove it
    """
    spec = LIMITS[field]
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidFieldError(
            f"invalid {field} {value!r}: give a string", field=field, limit="a string"
        )
    if spec.single_line and not value:
        raise InvalidFieldError(
            f"invalid {field} '': give a non-empty string", field=field, limit="non-empty"
        )
    if spec.max_chars is not None and len(value) > spec.max_chars:
        raise InvalidFieldError(
            f"invalid {field} {_show(value)} ({len(value)} characters): at most "
            f"{spec.max_chars} characters; {spec.hint}",
            field=field,
            limit=f"{spec.max_chars} characters",
        )
    bad = (_CONTROL if spec.single_line else _NUL).search(value)
    if bad:
        what = (
            "a control character (NUL, newline, ...)"
            if spec.single_line
            else "a NUL character (\\x00)"
        )
        raise InvalidFieldError(
            f"invalid {field} {_show(value)}: it contains {what} at position {bad.start()}; "
            "remove it",
            field=field,
            limit="no NUL" if not spec.single_line else "no control characters",
        )
    surrogate = _SURROGATE.search(value)
    if surrogate:
        raise InvalidFieldError(
            f"invalid {field} {_show(value)}: it is not valid Unicode (a lone surrogate at "
            f"position {surrogate.start()}, e.g. text decoded from another encoding); "
            "decode it correctly first",
            field=field,
            limit="valid Unicode",
        )
    if spec.capped and max_bytes is not None:
        size = len(value.encode("utf-8"))
        if size > max_bytes:
            raise InvalidFieldError(
                f"{field} is {size:,} bytes, over the limit of {max_bytes:,} bytes; "
                f"{spec.hint} (or raise {METADATA_ENV})",
                field=field,
                limit=f"{max_bytes} bytes",
            )
    return value


def validate_int(field: str, value: object, *, optional: bool = True) -> int | None:
    """Return ``value`` if it is an integer that fits a 32-bit column, else raise.

    Example:
        >>> validate_int("try_number", 2)
        2
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidFieldError(
            f"invalid {field} {value!r}: give a whole number", field=field, limit="an integer"
        )
    lo, hi = INT32
    if not lo <= value <= hi:
        raise InvalidFieldError(
            f"invalid {field} {value}: it must lie between {lo} and {hi}",
            field=field,
            limit=f"{lo}..{hi}",
        )
    return value


def _check_json(field: str, value: Any, where: str, depth: int) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise InvalidFieldError(
            f"{field} is nested deeper than {MAX_METADATA_DEPTH} levels at {where}; flatten it",
            field=field,
            limit=f"{MAX_METADATA_DEPTH} levels",
        )
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _check_json_str(field, value, where)
        return
    if isinstance(value, int):
        if value.bit_length() > 1000:  # ~300 digits: beyond what JSON readers take as a number
            raise InvalidFieldError(
                f"{where} is an integer of {value.bit_length()} bits; store it as a string",
                field=field,
                limit="integers up to 1000 bits",
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidFieldError(
                f"{where} is {value!r}: JSON has no NaN or Infinity (PostgreSQL refuses them); "
                "store None or a string instead",
                field=field,
                limit="finite numbers",
            )
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidFieldError(
                    f"{where} has the key {key!r} ({type(key).__name__}): JSON object keys are "
                    "strings; convert it with str()",
                    field=field,
                    limit="string keys",
                )
            _check_json_str(field, key, f"{where} key {key!r}")
            _check_json(field, item, f"{where}[{key!r}]", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(field, item, f"{where}[{i}]", depth + 1)
        return
    raise InvalidFieldError(
        f"{where} is of type {type(value).__name__} ({_show(repr(value))}), which JSON cannot hold: "
        "use dicts, lists, strings, numbers, booleans or None (e.g. list(...) for a set, "
        ".decode() or base64 for bytes)",
        field=field,
        limit="JSON values",
    )


def _check_json_str(field: str, value: str, where: str) -> None:
    if "\x00" in value:
        raise InvalidFieldError(
            f"{where} contains a NUL character (\\x00); remove it",
            field=field,
            limit="no NUL",
        )
    if _SURROGATE.search(value):
        raise InvalidFieldError(
            f"{where} ({_show(value)}) is not valid Unicode (a lone surrogate, e.g. text decoded "
            "from another encoding); decode it correctly first",
            field=field,
            limit="valid Unicode",
        )


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (sorted keys, no spaces): what the cap measures.

    Example:
        >>> canonical_json({"b": 1, "a": [1.5, None]})
        '{"a":[1.5,null],"b":1}'
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def validate_json(field: str, value: object, *, max_bytes: int | None = None) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object artiflow can store the same on every database.

    Refused: non-string keys, sets, bytes and other non-JSON values, NaN/Infinity, NUL, lone
    surrogates, nesting deeper than 64 levels, more than ``max_bytes`` (default: the metadata
    cap) bytes of canonical JSON.

    Example:
        >>> validate_json("metadata", {"auc": 0.91})
        {'auc': 0.91}
        >>> validate_json("metadata", {"ids": {1, 2}})
        Traceback (most recent call last):
        ...
        artiflow.exceptions.InvalidFieldError: metadata['ids'] is of type set ('{1, 2}'), which JSON cannot hold: use dicts, lists, strings, numbers, booleans or None (e.g. list(...) for a set, .decode() or base64 for bytes)
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidFieldError(
            f"invalid {field} {_show(repr(value))}: give a dict (a JSON object)",
            field=field,
            limit="a dict",
        )
    _check_json(field, value, field, 0)
    cap = max_metadata_bytes() if max_bytes is None else max_bytes
    size = len(canonical_json(value).encode("utf-8"))
    if size > cap:
        raise InvalidFieldError(
            f"{field} is {size:,} bytes of JSON, over the limit of {cap:,} bytes (it is served "
            "with every version): put large data into the artifact as a file, or raise "
            f"{METADATA_ENV} / Registry(max_metadata_bytes=...)",
            field=field,
            limit=f"{cap} bytes",
        )
    return dict(value)


def validate_version_fields(
    *,
    type: object = None,
    description: object = None,
    metadata: object = None,
    semver: object = None,
    distributed_id: object = None,
    max_metadata_bytes: int | None = None,
) -> None:
    """Check the stored fields of a version (a log, an upsert, a ``save()``); raise
    :class:`~artiflow.exceptions.InvalidFieldError` on the first one that does not fit.

    Only the fields given (not None) are checked.

    Example:
        >>> validate_version_fields(description="rows of 2024", metadata={"rows": 10})
        >>> validate_version_fields(distributed_id="d" * 300)
        Traceback (most recent call last):
        ...
        artiflow.exceptions.InvalidFieldError: invalid distributed_id 'dddddddddddddddddddddddddddddddddddddddddddddddd…' (300 characters): at most 255 characters; use a shorter id shared by all writers, e.g. the pipeline run id
    """
    cap = _cap(max_metadata_bytes)
    if type is not None:
        validate_text("type", type)
    validate_text("description", description, max_bytes=cap)
    if metadata is not None:
        validate_json("metadata", metadata, max_bytes=cap)
    validate_text("semver", semver)
    validate_text("distributed_id", distributed_id)


def validate_run_fields(
    *,
    name: object,
    run_id: object = None,
    orchestrator: object = "manual",
    pipeline: object = None,
    pipeline_run: object = None,
    task: object = None,
    host: object = None,
    try_number: object = None,
    map_index: object = None,
    info: object = None,
    max_metadata_bytes: int | None = None,
) -> None:
    """Check the stored fields of a run; raise :class:`~artiflow.exceptions.InvalidFieldError`.

    Example:
        >>> validate_run_fields(name="train", info={"lr": 0.1})
        >>> validate_run_fields(name="train", try_number=2**40)
        Traceback (most recent call last):
        ...
        artiflow.exceptions.InvalidFieldError: invalid try_number 1099511627776: it must lie between -2147483648 and 2147483647
    """
    validate_text("run_name", name, optional=False)
    validate_text("run_id", run_id)
    validate_text("orchestrator", orchestrator, optional=False)
    for field, value in (
        ("pipeline", pipeline),
        ("pipeline_run", pipeline_run),
        ("task", task),
        ("host", host),
    ):
        validate_text(field, value)
    validate_int("try_number", try_number)
    validate_int("map_index", map_index)
    if info is not None:
        validate_json("info", info, max_bytes=_cap(max_metadata_bytes))


def _cap(override: int | None) -> int:
    return max_metadata_bytes(override)


def clean_error_text(text: str, limit: int = 4000) -> str:
    """A run's error text made storable on every database: NUL and lone surrogates escaped.

    Example:
        >>> clean_error_text("bad\\x00byte")
        'bad\\\\x00byte'
    """
    text = text.replace("\x00", "\\x00")
    if _SURROGATE.search(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:limit]

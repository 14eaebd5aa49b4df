"""What every ``artiflow`` command shares: opening the registry, progress, sizes, options, and
the scriptable contract (``--json``, exit codes, install hints).

**The ``--json`` contract.** Every sub-command gets ``--json`` from :func:`add_common` (the
top-level parser adds it to each sub-parser, so a new module's commands have it without doing
anything). A command builds one JSON-ready ``dict`` and hands it to :func:`emit` together with
its human text; with ``--json`` exactly one JSON object goes to stdout, otherwise the text. An
error exits with a code from :class:`ExitCode`; with ``--json`` stdout also gets one object
``{"error": {"code", "kind", "message", "hint"}}`` (the one-line message still goes to stderr).

Example (a command in a new module ``artiflow/cli/things.py``)::

    def cmd_things(args):
        names = ["a", "b"]
        emit(args, {"things": names}, "\\n".join(names))
        return ExitCode.OK

    def register(sub):
        s = sub.add_parser("things", help="list things", epilog=examples("artiflow things"))
        s.set_defaults(fn=cmd_things)
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from .._ops.policy import PolicyError
from .._ops.quarantine import QuarantinedError
from ..exceptions import (
    AliasInUseError,
    ArtifactNotFoundError,
    ArtiflowError,
    ConflictError,
    InvalidRefError,
    LockKeptError,
    StoreError,
    VerificationError,
)
from ..registry import Registry

__all__ = [
    "ExitCode",
    "MissingExtraError",
    "add_common",
    "bar",
    "emit",
    "examples",
    "exit_code_for",
    "human",
    "open_registry",
    "parse_meta",
    "progress",
    "require_extra",
    "tree_size",
    "wants_json",
]


class ExitCode(enum.IntEnum):
    """The exit status of every ``artiflow`` command (docs/cli.md, "Exit codes").

    Example:
        >>> int(ExitCode.NOT_FOUND)
        3
    """

    OK = 0
    #: content does not match what the registry recorded (``verify``, ``fsck`` found problems)
    MISMATCH = 1
    #: bad input: a usage error, a malformed ref, alias or field, a local path that is missing
    BAD_INPUT = 2
    #: the collection, version, alias, entry or run does not exist
    NOT_FOUND = 3
    #: someone else changed it first (``--expect``, ``--revision``, a taken semver, aliases held)
    CONFLICT = 4
    #: the environment failed: the store or database, permissions, a missing optional extra
    ENVIRONMENT = 5
    #: stdout was closed early (``artiflow ... | head``): 128 + SIGPIPE, like other tools
    CLOSED_PIPE = 141
    INTERRUPTED = 130


class MissingExtraError(ArtiflowError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def require_extra(module: str, extra: str, feature: str) -> Any:
    """Import ``module`` or raise :class:`MissingExtraError` with the ``pip install`` line.

    Example:
        >>> require_extra("json", "ui", "the web page").__name__
        'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{feature} needs the {extra!r} extra ({exc.name or module} is not installed): "
            f"pip install 'artiflow[{extra}]'"
        ) from exc


_KINDS: tuple[tuple[type[BaseException], str, ExitCode], ...] = (
    (VerificationError, "mismatch", ExitCode.MISMATCH),
    (ArtifactNotFoundError, "not_found", ExitCode.NOT_FOUND),
    (ConflictError, "conflict", ExitCode.CONFLICT),
    (AliasInUseError, "conflict", ExitCode.CONFLICT),
    (LockKeptError, "conflict", ExitCode.CONFLICT),
    (QuarantinedError, "refused", ExitCode.CONFLICT),
    (PolicyError, "refused", ExitCode.CONFLICT),
    (MissingExtraError, "missing_extra", ExitCode.ENVIRONMENT),
    (StoreError, "environment", ExitCode.ENVIRONMENT),
    (ArtiflowError, "bad_input", ExitCode.BAD_INPUT),
    (FileNotFoundError, "bad_input", ExitCode.BAD_INPUT),
    (PermissionError, "environment", ExitCode.ENVIRONMENT),
)


def exit_code_for(exc: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the ``kind`` (as in the JSON error object) of an error.

    Example:
        >>> exit_code_for(ArtifactNotFoundError("x"))
        (<ExitCode.NOT_FOUND: 3>, 'not_found')
    """
    for cls, kind, code in _KINDS:
        if isinstance(exc, cls):
            return code, kind
    return ExitCode.ENVIRONMENT, "environment"


def wants_json(args: argparse.Namespace) -> bool:
    """True when the command was given ``--json``."""
    return bool(getattr(args, "json", False))


def emit(
    args: argparse.Namespace,
    payload: Mapping[str, Any],
    text: str | Callable[[], str] | None = None,
) -> None:
    """Print a command's result: one JSON object with ``--json``, else ``text`` (if any).

    ``text`` may be a callable so the human form is built only when it is printed.

    Example:
        >>> emit(argparse.Namespace(json=True), {"ok": True})
        {"ok": true}
    """
    if wants_json(args):
        print(json.dumps(dict(payload), default=str), flush=True)
        return
    if callable(text):
        text = text()
    if text:
        print(text)


def examples(*lines: str) -> str:
    """An ``epilog`` for a sub-parser: its examples, shown at the end of ``--help``.

    Example:
        >>> print(examples("artiflow ls"))
        examples:
          $ artiflow ls
    """
    return "examples:\n" + "\n".join(f"  $ {line}" for line in lines)


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


@contextmanager
def progress(
    total: int, desc: str, enabled: bool | None, *, unit: str = "B"
) -> Iterator[Callable[[int], object]]:
    """A progress bar on stderr (on a terminal, or with ``--progress``); yields ``update(n)``.

    Example:
        >>> with progress(10, "hashing", False) as update:
        ...     _ = update(10)
    """
    with bar(total, desc, enabled, unit=unit) as b:
        yield b.update


@contextmanager
def bar(total: int | None, desc: str, enabled: bool | None, *, unit: str = "B") -> Iterator[Any]:
    """The tqdm bar itself, for a command that learns its total late (``bar.total = n``).

    Example:
        >>> with bar(None, "collecting", False, unit="blob") as b:
        ...     b.total = 3
        ...     _ = b.update(3)
    """
    from tqdm import tqdm

    in_bytes = unit == "B"
    with tqdm(
        total=total,
        unit=unit,
        unit_scale=in_bytes,
        unit_divisor=1024 if in_bytes else 1000,
        desc=desc,
        disable=enabled is False or (enabled is None and not sys.stderr.isatty()),
        file=sys.stderr,
        leave=False,
    ) as b:
        yield b


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with suppress(OSError):
                total += os.path.getsize(os.path.join(dirpath, f))
    return total


def parse_meta(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidRefError(f"invalid --meta {pair!r}: use key=value")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def open_registry(args: argparse.Namespace) -> Registry:
    return Registry(
        db_url=args.db_url,
        store_url=args.store_url,
        home=args.home,
        default_project=args.project,
        link_type=getattr(args, "link_type", None),
    )


def add_common(p: argparse.ArgumentParser, top: bool = False) -> None:
    """The options every command accepts, before or after its name (``--home``, ``--json``, ...).

    The top-level parser calls it for itself (``top=True``) and for every sub-parser, so a
    command module never adds these options itself.

    Example:
        >>> p = argparse.ArgumentParser()
        >>> add_common(p, top=True)
        >>> p.parse_args(["--json"]).json
        True
    """
    # sub-parsers must not reset what the top level set (their defaults are SUPPRESS)
    d: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    p.add_argument(
        "--json",
        action="store_true",
        help="print the result as one JSON object on stdout (schemas: docs/cli.md)",
        **({"default": False} if top else d),
    )
    p.add_argument("--home", help="registry home (default $ARTIFLOW_HOME or ~/.artiflow)", **d)
    p.add_argument("--db-url", help="SQLAlchemy URL of the catalog (default $ARTIFLOW_DB_URL)", **d)
    p.add_argument(
        "--store-url", help="fsspec URL of the content store (default $ARTIFLOW_STORE_URL)", **d
    )
    p.add_argument(
        "--project", help="default project (default $ARTIFLOW_PROJECT or 'default')", **d
    )
    prog = p.add_mutually_exclusive_group()
    prog.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        help="always show progress",
        **({"default": None} if top else d),
    )
    prog.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never show progress", **d
    )

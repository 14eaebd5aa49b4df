"""The ``artiflow`` command: one module per group of commands, each with ``register(sub)``.

Every command takes ``--json`` (one JSON object on stdout) and exits with a code from
:class:`~artiflow.cli._common.ExitCode`: 0 ok, 1 mismatch, 2 bad input, 3 not found,
4 conflict, 5 environment (docs/cli.md).

Example:
    $ artiflow log data/ --name bike-dataset --type dataset --alias production
    $ artiflow get bike-dataset:production -o data/
    $ artiflow lineage churn-model:production --format mermaid | head -5
    $ artiflow show bike-dataset:production --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from .. import __version__
from .._ops.policy import acting_as  # alias moves from the CLI are audited as via="cli"
from ..exceptions import ArtiflowError
from . import completion, control, lineage, locks, maintenance, serve, versions
from ._common import ExitCode, add_common, exit_code_for, wants_json

__all__ = ["ExitCode", "build_parser", "main"]


#: the modules whose ``register(sub)`` adds their commands, in the order ``--help`` lists them
COMMAND_MODULES = (versions, lineage, maintenance, serve, locks, control, completion)

EPILOG = """\
exit codes: 0 ok, 1 verification mismatch, 2 bad input, 3 not found, 4 conflict,
5 environment (store, database, missing extra), 141 stdout closed early.
Every command accepts --json: one JSON object on stdout (schemas: docs/cli.md).

examples:
  $ artiflow log data/ --name bike-dataset --alias production
  $ artiflow ls bike-dataset --json
  $ artiflow lineage bike-dataset:production | head
  $ source <(artiflow completion bash)"""


class _Unused:
    """What ``add_parser`` hands a module for a command this process does not run: every call
    (``add_argument``, ``set_defaults``, groups, nested sub-parsers) is accepted and ignored."""

    def __getattr__(self, _name: str) -> Any:
        return self._ignore

    def _ignore(self, *_args: Any, **_kw: Any) -> _Unused:
        return self


def _top_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="artiflow",
        description="Versioned artifacts and their lineage.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"artiflow {__version__}")
    add_common(p, top=True)
    return p


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser (exposed for docs, completion and tests).

    ``only`` (a command name) adds that command alone: what :func:`main` does once it knows
    which command runs, since building all of them costs more than some commands do.

    Example:
        >>> "ls" in build_parser().format_help()
        True
        >>> sorted(next(a for a in build_parser("ls")._actions if a.choices).choices)
        ['ls']
    """
    p = _top_parser()
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add = sub.add_parser

    def add_parser(name: str, **kw: Any) -> argparse.ArgumentParser:
        if only is not None and only != name and only not in kw.get("aliases", ()):
            return _Unused()  # type: ignore[return-value]
        kw.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        # a module that still adds its own --json (or another common option) overrides ours
        kw.setdefault("conflict_handler", "resolve")
        sp = _add(name, **kw)
        add_common(sp)
        return sp

    sub.add_parser = add_parser  # type: ignore[method-assign]
    for module in COMMAND_MODULES:
        module.register(sub)
    return p


def _command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs, found the way argparse finds it (the first argument that is
    not a top-level option or its value), or None when that is not plain (an abbreviated
    option, ``--``, no command): then the whole parser is built."""
    options = _top_parser()._option_string_actions
    it = iter(argv)
    for arg in it:
        if not arg.startswith("-"):
            return arg
        if arg == "--" or arg.split("=", 1)[0] not in options:
            return None
        if "=" not in arg and options[arg].nargs != 0:
            next(it, None)  # the option's value
    return None


def _parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    command = _command_in(argv)
    if command is not None:
        parser = build_parser(only=command)
        subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if command in subs.choices:
            return parser
    return build_parser()  # --help, a misspelt command, ...


def _not_found_hint(args: argparse.Namespace) -> str:
    """``did you mean ...?`` for the ref or name the command was given, or ``""``."""
    ref = getattr(args, "ref", None) or getattr(args, "name", None)
    if not isinstance(ref, str):
        return ""
    from ._common import open_registry
    from ._suggest import hint

    try:
        reg = open_registry(args)
        try:
            return hint(reg, ref)
        finally:
            reg.close()
    except Exception:  # a hint must never hide the real error
        return ""


def _fail(args: argparse.Namespace, exc: BaseException) -> int:
    code, kind = exit_code_for(exc)
    message = str(exc)
    hint = _not_found_hint(args) if code == ExitCode.NOT_FOUND else ""
    line = f"{message}; {hint}" if hint else message
    label = "conflict" if code == ExitCode.CONFLICT else "error"
    print(f"artiflow: {label}: {line}", file=sys.stderr)
    if wants_json(args):
        error = {"code": int(code), "kind": kind, "message": message, "hint": hint or None}
        problems = getattr(exc, "problems", None)
        if problems:
            error["problems"] = [{"kind": k, "path": p} for k, p in problems]
        print(json.dumps({"error": error}))
    return int(code)


def _quiet_closed_stdout() -> int:
    """stdout's reader went away (``artiflow lineage ... | head``): stop without a traceback.

    Python flushes stdout again at exit; pointing it at /dev/null keeps that flush quiet too.
    """
    with suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return int(ExitCode.CLOSED_PIPE)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``artiflow`` command; returns the exit code (see :class:`ExitCode`).

    Example:
        >>> main(["--version"])  # doctest: +SKIP
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser_for(argv).parse_args(argv)  # a usage error exits 2 (argparse)
    try:
        with acting_as("cli"):  # alias moves from the CLI are audited as via="cli"
            code = int(args.fn(args))
        sys.stdout.flush()  # a closed pipe shows here at the latest, not at interpreter exit
        return code
    except BrokenPipeError:
        return _quiet_closed_stdout()
    except KeyboardInterrupt:  # pragma: no cover
        print("artiflow: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except (ArtiflowError, FileNotFoundError, PermissionError) as exc:
        try:
            return _fail(args, exc)
        except BrokenPipeError:
            return _quiet_closed_stdout()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

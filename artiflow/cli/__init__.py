"""The ``artiflow`` command: one module per group of commands, each with ``register(sub)``.

Example:
    $ artiflow log data/ --name bike-dataset --type dataset --alias production
    $ artiflow get bike-dataset:production -o data/
    $ artiflow lineage churn-model:production --format mermaid
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .. import __version__
from .._ops.policy import acting_as  # seam: lineage control (alias audit)
from ..exceptions import ArtiflowError, ConflictError
from . import control, lineage, maintenance, serve, versions
from ._common import add_common

__all__ = ["main"]


#: the modules whose ``register(sub)`` adds their commands, in the order ``--help`` lists them
COMMAND_MODULES = (versions, lineage, maintenance, serve, control)  # seam: control


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    p = argparse.ArgumentParser(
        prog="artiflow", description="Versioned artifacts and their lineage."
    )
    p.add_argument("--version", action="version", version=f"artiflow {__version__}")
    add_common(p, top=True)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add = sub.add_parser

    def add_parser(name: str, **kw: Any) -> argparse.ArgumentParser:
        sp = _add(name, **kw)
        add_common(sp)
        return sp

    sub.add_parser = add_parser  # type: ignore[method-assign]
    for module in COMMAND_MODULES:
        module.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``artiflow`` command; returns the exit code.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with acting_as("cli"):  # seam: alias moves from the CLI are audited as via="cli"
            return int(args.fn(args))
    except ConflictError as exc:  # someone else changed it: re-read and retry
        print(f"artiflow: conflict: {exc}", file=sys.stderr)
        return 3
    except ArtiflowError as exc:
        print(f"artiflow: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError) as exc:
        print(f"artiflow: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("artiflow: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

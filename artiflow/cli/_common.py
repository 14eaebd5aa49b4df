"""What every ``artiflow`` command shares: opening the registry, progress, sizes, options."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ..exceptions import InvalidRefError
from ..registry import Registry

__all__ = ["add_common", "human", "open_registry", "parse_meta", "progress", "tree_size"]


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


@contextmanager
def progress(total: int, desc: str, enabled: bool | None) -> Iterator[Callable[[int], object]]:
    from tqdm import tqdm

    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=enabled is False or (enabled is None and not sys.stderr.isatty()),
        file=sys.stderr,
        leave=False,
    ) as bar:
        yield bar.update


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
    # accepted before or after the command; sub-parsers must not reset what the top level set
    d: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
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

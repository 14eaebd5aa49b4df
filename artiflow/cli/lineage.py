"""The ``artiflow`` commands that print the lineage of a version."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._common import ExitCode, emit, examples, open_registry


def cmd_lineage(args: argparse.Namespace) -> int:
    direction = "downstream" if args.down else "both" if args.both else "upstream"
    graph = open_registry(args).lineage(args.ref, direction=direction, depth=args.depth)
    if args.json:  # --json is --format json (or the OpenLineage events, as one object)
        if args.format == "openlineage":
            emit(args, {"root": graph.root, "events": graph.to_openlineage()})
        else:
            emit(args, graph.to_dict())
    elif args.format == "mermaid":
        print(graph.to_mermaid())
    elif args.format == "dot":
        print(graph.to_dot())
    elif args.format == "openlineage":
        print(json.dumps(graph.to_openlineage(), indent=2, default=str))
    else:
        print(graph.to_json())
    return ExitCode.OK


def register(sub: Any) -> None:
    """Add the commands of this module to the ``artiflow`` sub-parsers."""
    s = sub.add_parser(
        "lineage",
        help="print the lineage of a version",
        epilog=examples(
            "artiflow lineage churn-model:production",
            "artiflow lineage bike-dataset:v0 --down --format dot | dot -Tpng > lineage.png",
            "artiflow lineage churn-model:production --both --depth 2 --json",
        ),
    )
    s.add_argument("ref")
    way = s.add_mutually_exclusive_group()
    way.add_argument("--up", action="store_true", help="upstream (default)")
    way.add_argument("--down", action="store_true", help="downstream")
    way.add_argument("--both", action="store_true")
    s.add_argument("--depth", type=int)
    s.add_argument("--format", choices=["mermaid", "dot", "json", "openlineage"], default="mermaid")
    s.set_defaults(fn=cmd_lineage)

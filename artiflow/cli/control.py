"""The ``artiflow`` commands of lineage control: impact, quarantine, release.

Example:
    $ artiflow impact bike-dataset:v3 --plan
    $ artiflow quarantine bike-dataset:v3 --reason "sensor 7 sent zeros"
    $ artiflow release bike-dataset:v3 --note "recalibrated"
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._ops.diff import diff
from .._ops.impact import describe, impact, rebuild_plan
from .._ops.policy import add_check, alias_audit, protect
from .._ops.quarantine import quarantine, release
from .._ops.replay import parse_inputs
from .._ops.stale import overdue, parse_age, set_max_age, stale
from ..exceptions import InvalidRefError
from ._common import examples, open_registry

__all__ = [
    "cmd_audit",
    "cmd_check",
    "cmd_diff",
    "cmd_freshness",
    "cmd_impact",
    "cmd_protect",
    "cmd_quarantine",
    "cmd_release",
    "cmd_status",
    "register",
]


def cmd_impact(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    result = impact(reg, args.ref, args.depth)
    replace: Any = args.replace_with
    if args.replace:
        replace = {**parse_inputs(args.replace)}
        if args.replace_with:
            replace[result.root] = args.replace_with
    steps = rebuild_plan(reg, result, replace) if args.plan else None
    if args.json:
        out = result.to_dict()
        if steps is not None:
            out["plan"] = [s.to_dict() for s in steps]
        print(json.dumps(out, indent=2))
    else:
        print(describe(result, steps))
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    record = quarantine(reg, args.ref, args.reason, by=args.by)
    result = impact(reg, record.ref)
    if args.json:
        print(json.dumps({"quarantine": record.to_dict(), "impact": result.to_dict()}, indent=2))
    else:
        print(f"quarantined {record.ref}: {record.reason} (by {record.by})")
        print(describe(result))
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    record = release(reg, args.ref, by=args.by, note=args.note)
    if args.json:
        print(json.dumps({"quarantine": record.to_dict()}, indent=2))
    else:
        print(f"released {record.ref} (quarantined for: {record.reason}; by {record.released_by})")
    return 0


def _age(seconds: float) -> str:
    """``129600`` -> ``1.5d`` (the largest unit it reaches)."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.0f}s"


def cmd_status(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    if args.emit:
        overdue(reg, emit=True)  # one alias.overdue event per alias and version, first time
    found = stale(reg, args.ref)
    if args.json:
        print(json.dumps({"stale": [s.to_dict() for s in found]}, indent=2))
    elif not found:
        print(f"{args.ref or 'every aliased version'}: up to date")
    else:
        for s in found:
            labels = f" [{', '.join(s.aliases)}]" if s.aliases else ""
            what = "stale" if s.is_stale else "overdue"
            if s.is_stale and s.overdue:
                what = "stale and overdue"
            print(f"{s.ref}{labels} is {what}:")
            for m in s.moved:
                print(f"  consumed {m.consumed} through {m.alias_ref}, now {m.now or 'removed'}")
            for o in s.overdue:
                print(f"  {o.alias_ref} is {_age(o.age)} old, max age {_age(o.max_age)}")
    return 1 if found else 0


def cmd_freshness(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    if args.ref:
        name, sep, alias = args.ref.rpartition(":")
        if not sep or not name:
            raise InvalidRefError(
                f"give NAME:ALIAS, e.g. bike-dataset:production, not {args.ref!r}"
            )
        if args.clear:
            set_max_age(reg, name, alias, None)
            print(f"{args.ref}: no maximum age")
            return 0
        if args.max_age is None:
            raise InvalidRefError("give --max-age AGE (e.g. 1d, 12h) or --clear")
        seconds = set_max_age(reg, name, alias, parse_age(args.max_age))
        if not args.json:
            print(f"{args.ref}: max age {_age(seconds or 0)}")
    late = overdue(reg, emit=args.emit)
    if args.json:
        print(json.dumps({"overdue": [o.to_dict() for o in late]}, indent=2))
    elif not args.ref:
        for o in late:
            print(f"{o.alias_ref} -> {o.version} is {_age(o.age)} old (max {_age(o.max_age)})")
        if not late:
            print("no alias is older than its max age")
    return 1 if late and not args.ref else 0


def cmd_diff(args: argparse.Namespace) -> int:
    result = diff(open_registry(args), args.a, args.b)
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.describe())
    return 0 if result.same else 1


def cmd_check(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    details = json.loads(args.details) if args.details else None
    check = add_check(
        reg, reg.get(args.ref, allow_quarantined=True), args.name, args.passed, details
    )
    if args.json:
        print(json.dumps(check.to_dict(), indent=2))
    else:
        print(f"{args.ref}: check {check.name} {'passed' if check.passed else 'failed'}")
    return 0


def cmd_protect(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    protect(reg, args.name, args.alias, args.require_check, not args.allow_dirty_upstream)
    if args.json:
        print(
            json.dumps(
                {"name": args.name, "alias": args.alias, "require_checks": args.require_check}
            )
        )
    else:
        print(
            f"{args.name}:{args.alias} is protected (checks: {', '.join(args.require_check) or '-'})"
        )
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    rows = alias_audit(open_registry(args), args.name, args.alias)
    if args.json:
        print(json.dumps({"name": args.name, "alias": args.alias, "moves": rows}, default=str))
    else:
        for r in rows:
            print(
                f"{r['at']:%Y-%m-%d %H:%M:%S} {r['alias']} -> {r['version']} by {r['moved_by']} via {r['via']}"
            )
    return 0


def _add_impact(sub: Any) -> None:
    s = sub.add_parser(
        "impact",
        help="what was built from a version, the aliases on it",
        epilog=examples(
            "artiflow impact bike-dataset:v3",
            "artiflow impact bike-dataset:v3 --plan --replace bike-dataset:v3=bike-dataset:v5",
            "artiflow impact bike-dataset:v3 --depth 2 --json",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("ref")
    s.add_argument("--depth", type=int, help="at most this many steps downstream")
    s.add_argument("--plan", action="store_true", help="print the rebuild plan too")
    s.add_argument(
        "--replace-with", metavar="REF", help="the clean version to rebuild on (with --plan)"
    )
    s.add_argument(
        "--replace",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="rebuild on NEW instead of the bad version OLD (with --plan; repeatable)",
    )
    s.add_argument("--json", action="store_true", help="print JSON (schema artiflow.impact/1)")
    s.set_defaults(fn=cmd_impact)


def _add_diff(sub: Any) -> None:
    s = sub.add_parser(
        "diff",
        help="lineage diff of two versions (exit 0 same, 1 different)",
        epilog=examples(
            "artiflow diff bike-demand-model:v4 bike-demand-model:v5",
            "artiflow diff bike-demand-model:v4 bike-demand-model:production --json",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("a")
    s.add_argument("b")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_diff)


def _add_check(sub: Any) -> None:
    s = sub.add_parser(
        "check",
        help="record a check result on a version",
        epilog=examples(
            "artiflow check bike-demand-model:v5 backtest --passed --details '{\"mape\": 0.08}'"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("ref")
    s.add_argument("name", help="the check's name (e.g. backtest)")
    ok = s.add_mutually_exclusive_group(required=True)
    ok.add_argument("--passed", dest="passed", action="store_true")
    ok.add_argument("--failed", dest="passed", action="store_false")
    s.add_argument("--details", help="a JSON object with the check's details")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_check)


def _add_protect(sub: Any) -> None:
    s = sub.add_parser(
        "protect",
        help="protect an alias: checks and a clean upstream to move it",
        epilog=examples("artiflow protect bike-demand-model production --require-check backtest"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("name")
    s.add_argument("alias")
    s.add_argument("--require-check", action="append", default=[], metavar="NAME")
    s.add_argument("--allow-dirty-upstream", action="store_true", help="skip the upstream rule")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_protect)


def _add_audit(sub: Any) -> None:
    s = sub.add_parser(
        "audit",
        help="who moved the aliases of a collection, how, with what",
        epilog=examples("artiflow audit bike-demand-model --alias production --json"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("name")
    s.add_argument("--alias")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_audit)


def _add_status(sub: Any) -> None:
    s = sub.add_parser(
        "status",
        help="stale versions: an input alias they consumed moved",
        epilog=examples("artiflow status", "artiflow status bike-demand-model:production --json"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("ref", nargs="?", help="one version (default: every version with an alias)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument(
        "--emit", action="store_true", help="send alias.overdue events (run it on a schedule)"
    )
    s.set_defaults(fn=cmd_status)


def _add_freshness(sub: Any) -> None:
    s = sub.add_parser(
        "freshness",
        help="a maximum age per alias (overdue when older), and what is overdue",
        epilog=examples(
            "artiflow freshness bike-dataset:production --max-age 1d",
            "artiflow freshness bike-dataset:latest --max-age 12h",
            "artiflow freshness bike-dataset:production --clear",
            "artiflow freshness --emit   # list overdue aliases, send their events",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("ref", nargs="?", metavar="NAME:ALIAS")
    s.add_argument("--max-age", metavar="AGE", help="e.g. 90s, 30m, 12h, 1d, 2w")
    s.add_argument("--clear", action="store_true", help="remove the maximum age")
    s.add_argument("--emit", action="store_true", help="send alias.overdue events")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_freshness)


def _add_quarantine(sub: Any) -> None:
    s = sub.add_parser(
        "quarantine",
        help="mark a version bad (what was built from it too)",
        epilog=examples('artiflow quarantine bike-dataset:v3 --reason "sensor 7 sent zeros"'),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("ref")
    s.add_argument("--reason", required=True, help="what is wrong with it")
    s.add_argument("--by", help="who quarantines it (default $ARTIFLOW_USER or login name)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_quarantine)


def _add_release(sub: Any) -> None:
    s = sub.add_parser(
        "release",
        help="end the quarantine of a version",
        epilog=examples('artiflow release bike-dataset:v3 --note "false alarm"'),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("ref")
    s.add_argument("--note", help="why it is released")
    s.add_argument("--by", help="who releases it (default $ARTIFLOW_USER or login name)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_release)


def register(sub: Any) -> None:
    """Add the commands of this module to the ``artiflow`` sub-parsers (in this order)."""
    for add in (
        _add_impact,
        _add_diff,
        _add_check,
        _add_protect,
        _add_audit,
        _add_status,
        _add_freshness,
        _add_quarantine,
        _add_release,
    ):
        add(sub)

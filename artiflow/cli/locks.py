"""The ``artiflow lock`` and ``artiflow replay`` commands (run locks of pipeline runs).

Example:
    $ artiflow lock manual__2026-12-03T06:00:00+00:00 --orchestrator airflow
    $ artiflow lock manual__2026-12-03T06:00:00+00:00 --keep --reason "model card 7"
    $ artiflow replay manual__2026-12-03T06:00:00+00:00 --json
"""

from __future__ import annotations

import argparse
from typing import Any

from ._common import emit, examples, open_registry, wants_json

__all__ = ["cmd_lock", "cmd_replay", "register"]

ORCHESTRATORS = ("airflow", "prefect", "manual")


def _print_lock(lock: Any) -> None:
    where = f"{lock.orchestrator} run {lock.pipeline_run}"
    if lock.pipeline:
        where += f" of {lock.pipeline}"
    print(where)
    if lock.kept:
        print(f"kept by {lock.kept_by or '?'} at {lock.kept_at:%Y-%m-%d %H:%M}: {lock.kept_reason}")
    if lock.replay_of:
        print(f"replay of {lock.replay_of}")
    if not lock.entries:
        print("no ref resolved in this run yet")
    for e in lock.entries:
        print(f"  {e.ref} -> {e.version_ref}  (first: {e.task or '?'}, {e.at:%Y-%m-%d %H:%M:%S})")
    for r in lock.replays:
        was = r.original_version_ref or "nothing"
        yes = "yes" if r.reproduced else "no"
        print(
            f"  replay {r.replay_run} of {r.original_run}: {r.collection} {r.version_ref} "
            f"vs {was}: reproduced: {yes}"
        )


def cmd_lock(args: argparse.Namespace) -> int:
    from .._ops import locks

    reg = open_registry(args)
    key = (args.orchestrator, args.pipeline_run)
    if args.keep:
        lock = locks.keep(reg, *key, reason=args.reason or "", pipeline=args.pipeline)
    elif args.release:
        lock = locks.release(reg, *key, pipeline=args.pipeline)
    else:
        lock = locks.run_lock(reg, *key, pipeline=args.pipeline)
    if wants_json(args):
        emit(args, lock.to_dict())
    else:
        _print_lock(lock)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from .._ops.replay import parse_inputs, start_replay

    reg = open_registry(args)
    started = start_replay(
        reg,
        args.orchestrator,
        args.pipeline_run,
        pipeline=args.pipeline,
        inputs=parse_inputs(args.input) if args.input else None,
    )
    if wants_json(args):
        emit(args, started.to_dict())
    elif started.started:
        if started.lock:
            print(f"replaying {started.lock}: {started.replay_of} with {_replaced(started)}")
        print(f"started {started.new_run or 'a new run'} of {started.pipeline} ({started.url})")
    else:
        if started.lock:
            print(f"# {started.replay_of} with {_replaced(started)} (lock {started.lock})")
        print(started.command)
    return 0


def _replaced(started: Any) -> str:
    return ", ".join(f"{c} -> {v}" for c, v in started.replace.items())


def _common(s: argparse.ArgumentParser) -> None:
    s.add_argument("pipeline_run", metavar="PIPELINE_RUN", help="DAG run id / flow run id")
    s.add_argument("--orchestrator", choices=ORCHESTRATORS, default="airflow")
    s.add_argument("--pipeline", help="DAG id / flow name (when the run id is in several)")


def register(sub: Any) -> None:
    """Add the commands of this module to the ``artiflow`` sub-parsers."""
    s = sub.add_parser(
        "lock",
        help="show, keep or release the run lock of a pipeline run",
        epilog=examples(
            "artiflow lock scheduled__2026-12-01T00:00:00+00:00 --pipeline bike_model_retrain",
            "artiflow lock 0b6c9e2e-... --orchestrator prefect --json",
            "artiflow lock RUN_ID --keep --reason 'model audit 2026-12'",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(s)
    how = s.add_mutually_exclusive_group()
    how.add_argument("--keep", action="store_true", help="hold its versions from deletion")
    how.add_argument("--release", action="store_true", help="release a kept lock")
    s.add_argument("--reason", help="why the lock is kept (with --keep)")
    s.set_defaults(fn=cmd_lock)

    s = sub.add_parser(
        "replay",
        help="re-run a pipeline run on the versions its lock holds",
        epilog=examples(
            "artiflow replay scheduled__2026-12-01T00:00:00+00:00 --pipeline bike_model_retrain",
            "artiflow replay 0b6c9e2e-... --orchestrator prefect",
            "artiflow replay RUN_ID --pipeline features --input raw=raw:v5",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(s)
    s.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="COLLECTION=REF",
        help="replace what the run read of COLLECTION by REF (a clean version); repeatable",
    )
    s.set_defaults(fn=cmd_replay)

"""The ``artiflow`` commands that keep the registry healthy: gc, fsck and the database schema."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import ExitCode, bar, emit, examples, human, open_registry, progress


def cmd_gc(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    verb = "would remove" if args.dry_run else "removed"
    # the number of candidates is known only after the scan: before_delete sets the total
    with bar(None, "gc: scanning", args.progress, unit="blob") as b:

        def start(candidates: list[str]) -> None:
            b.set_description("gc: deleting", refresh=False)
            b.total = len(candidates)
            b.refresh()

        result = reg.gc(
            dry_run=args.dry_run,
            grace_seconds=args.grace,
            progress=b.update,
            before_delete=start,
        )
    emit(
        args,
        result.to_dict(),
        lambda: (
            f"{verb} {result.blobs_deleted} blobs ({human(result.bytes_freed)}) and "
            f"{result.pending_removed} stale pending versions"
            + (f"; kept {result.kept} that a writer took into use" if result.kept else "")
        ),
    )
    return ExitCode.OK


def cmd_fsck(args: argparse.Namespace) -> int:
    """Exit 0: every checked blob is intact; 1: problems were found (repaired or not; the
    report says which); 2: a bad option; 5: fsck itself failed (store unreachable)."""
    from .._ops import fsck as ops

    reg = open_registry(args)
    todo = ops.plan(reg, args.sample)
    with progress(todo.bytes, f"checking {len(todo.blobs)} blobs", args.progress) as update:
        result = ops.run(reg, todo, repair=args.repair, progress=update, sources=args.sources)
    if args.json:
        emit(args, result.to_dict())
        return ExitCode.OK if result.ok else ExitCode.MISMATCH
    of = f" (a sample of {result.total})" if result.sampled else ""
    print(f"checked {result.checked} blobs{of}, {human(result.bytes_checked)}")
    for p in result.problems:
        broken = ", ".join(f"{v.ref} {v.path}" for v in p.versions[:5])
        more = f" and {len(p.versions) - 5} more" if len(p.versions) > 5 else ""
        if p.repaired:
            done = f"repaired from {p.repaired_from}"
        elif p.quarantined:
            done = f"NOT repaired, moved aside to {p.quarantined}: re-log it to restore it"
        else:
            done = "NOT repaired: re-log it, or run fsck --from URL with a store that has it"
        print(f"{p.kind} blob {p.digest}: {done}; breaks {broken or 'no version'}{more}")
    if result.ok:
        print("no problems found")
    else:
        print(f"{len(result.problems)} problems, {len(result.unrepaired)} not repaired")
    return ExitCode.OK if result.ok else ExitCode.MISMATCH


def cmd_db(args: argparse.Namespace) -> int:
    from ..catalog.engine import create_engine_for
    from ..catalog.migrate import HEAD, current_revision, upgrade

    reg = open_registry(args)
    engine = create_engine_for(reg.db_url)
    try:
        rev = upgrade(engine) if args.action == "upgrade" else current_revision(engine)
    finally:
        engine.dispose()
    text = f"database at revision {rev}" if args.action == "upgrade" else rev or "empty"
    emit(args, {"action": args.action, "revision": rev, "head": HEAD}, text)
    return ExitCode.OK


def register(sub: Any) -> None:
    """Add the commands of this module to the ``artiflow`` sub-parsers."""
    s = sub.add_parser(
        "gc",
        help="remove content no version needs",
        epilog=examples(
            "artiflow gc --dry-run --json | jq .bytes_freed",
            "artiflow gc --grace 3600 --progress",
        ),
    )
    s.add_argument("--dry-run", action="store_true")
    s.add_argument(
        "--grace", type=float, help="keep blobs and pending versions younger than this (seconds)"
    )
    s.set_defaults(fn=cmd_gc)

    s = sub.add_parser(
        "fsck",
        help="check stored content, report and repair missing or corrupt blobs",
        description="Check every blob a live version needs (or a sample), report missing and "
        "corrupt ones with the versions they break, and repair them from a verified copy. Exit "
        "status: 0 no problem found, 1 problems found (see the report for what was repaired), "
        "2 bad option, 5 fsck failed (store unreachable).",
        epilog=examples(
            "artiflow fsck",
            "artiflow fsck --sample 0.1 --no-repair --json",
            "artiflow fsck --from s3://backup-bucket/artiflow",
        ),
    )
    s.add_argument(
        "--sample", metavar="N|FRACTION", help="check N random blobs, or a fraction such as 0.1"
    )
    s.add_argument(
        "--no-repair", dest="repair", action="store_false", help="only report, change nothing"
    )
    s.add_argument(
        "--from",
        dest="sources",
        metavar="URL",
        action="append",
        default=[],
        help="another store holding the same blobs, to repair from (repeatable)",
    )
    s.set_defaults(fn=cmd_fsck)

    s = sub.add_parser(
        "db",
        help="database schema",
        epilog=examples("artiflow db current --json", "artiflow db upgrade"),
    )
    s.add_argument("action", choices=["upgrade", "current"])
    s.set_defaults(fn=cmd_db)

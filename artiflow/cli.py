"""The ``artiflow`` command.

Example:
    $ artiflow log data/ --name bike-dataset --type dataset --alias production
    $ artiflow get bike-dataset:production -o data/
    $ artiflow lineage churn-model:production --format mermaid
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from . import __version__
from .artifact import Artifact
from .exceptions import ArtiflowError, ConflictError, InvalidRefError
from .registry import Registry

__all__ = ["main"]


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


@contextmanager
def _progress(total: int, desc: str, enabled: bool | None) -> Iterator[Callable[[int], object]]:
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


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with suppress(OSError):
                total += os.path.getsize(os.path.join(dirpath, f))
    return total


def _meta(pairs: Sequence[str]) -> dict[str, Any]:
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


def _registry(args: argparse.Namespace) -> Registry:
    return Registry(
        db_url=args.db_url,
        store_url=args.store_url,
        home=args.home,
        default_project=args.project,
        link_type=getattr(args, "link_type", None),
    )


def cmd_log(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.exists():
        raise InvalidRefError(f"cannot log {args.path!r}: no such file or folder")
    reg = _registry(args)
    name = args.name or path.stem
    art = Artifact(name, type=args.type, description=args.description, metadata=_meta(args.meta))
    if path.is_dir():
        art.add_dir(path)
    else:
        art.add_file(path)
    with _progress(_tree_size(path), f"logging {name}", args.progress) as update:
        v = reg.log(art, aliases=args.alias, tags=args.tag, version=args.semver, progress=update)
    print(f"{v.ref}  {len(v.manifest)} files  {_human(v.size)}  aliases: {', '.join(v.aliases)}")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    reg = _registry(args)
    v = reg.get(args.ref)
    with _progress(v.size, f"downloading {v.ref}", args.progress) as update:
        root = v.download(args.output, progress=update)
    print(root)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    reg = _registry(args)
    if args.name:
        for v in reg.versions(args.name, include_deleted=args.all):
            state = "" if v.state == "COMMITTED" else f"  [{v.state.lower()}]"
            semver = f"  {v._row.semver}" if v._row.semver else ""
            print(
                f"{v.ref}{semver}  {v.created_at:%Y-%m-%d %H:%M}  {_human(v.size)}  "
                f"{', '.join(v.aliases)}{state}"
            )
        return 0
    for c in reg.collections(type=args.type, project=args.project):
        latest = f"v{c.latest_index}" if c.latest_index is not None else "-"
        print(
            f"{c.project}/{c.name}  type={c.type}  versions={c.version_count}  latest={latest}"
            + ("  (registry)" if c.kind == "registry" else "")
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    reg = _registry(args)
    v = reg.get(args.ref)
    data = v.to_dict()
    producer = v.logged_by()
    data["logged_by"] = producer.to_dict() if producer else None
    data["used_by"] = [r.to_dict() for r in v.used_by()]
    data["files"] = [e.to_dict() for e in v.files()] if args.files else len(v.manifest)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    print(f"{v.ref}  ({v.type})")
    print(f"  digest:      {v.digest}")
    print(f"  size:        {_human(v.size)} in {len(v.manifest)} files")
    print(f"  created:     {v.created_at:%Y-%m-%d %H:%M:%S %Z}")
    print(f"  aliases:     {', '.join(v.aliases) or '-'}")
    print(f"  tags:        {', '.join(v.tags) or '-'}")
    print(f"  revision:    {v.revision}")
    if v.semver:
        print(f"  semver:      {v.semver}")
    if v.description:
        print(f"  description: {v.description}")
    if v.metadata:
        print(f"  metadata:    {json.dumps(v.metadata, default=str)}")
    if producer:
        print(f"  logged by:   {producer!r}")
    for run in v.used_by():
        print(f"  used by:     {run!r}")
    if args.files:
        for e in v.files():
            where = e.ref or e.digest
            print(f"    {e.path}  {_human(e.size or 0)}  {where}")
    return 0


def cmd_alias(args: argparse.Namespace) -> int:
    reg = _registry(args)
    if args.remove:
        v = reg.get(args.ref)
        if args.alias not in v.aliases:
            raise InvalidRefError(
                f"{v.ref} does not hold alias {args.alias!r} (it holds "
                f"{', '.join(v.aliases) or 'none'}): name the version that holds it"
            )
        v.aliases.remove(args.alias)
        v.save(expected_revision=args.revision)
        print(f"removed {args.alias} from {v.ref}")
        return 0
    v = reg.alias(args.ref, args.alias, expected=args.expect)
    print(f"{args.alias} -> {v.ref}")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    v = _registry(args).get(args.ref)
    if args.description is not None:
        v.description = args.description
    v.metadata.update(_meta(args.meta))
    for key in args.unset_meta:
        v.metadata.pop(key, None)
    v.tags.extend(t for t in args.tag if t not in v.tags)
    v.tags = [t for t in v.tags if t not in set(args.untag)]
    v.save(expected_revision=args.revision)
    print(f"saved {v.ref} (revision {v.revision})")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    v = _registry(args).get(args.ref)
    v.delete(delete_aliases=args.delete_aliases)
    print(f"deleted {v.ref}")
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    direction = "downstream" if args.down else "both" if args.both else "upstream"
    graph = _registry(args).lineage(args.ref, direction=direction, depth=args.depth)
    if args.format == "mermaid":
        print(graph.to_mermaid())
    elif args.format == "dot":
        print(graph.to_dot())
    elif args.format == "openlineage":
        print(json.dumps(graph.to_openlineage(), indent=2, default=str))
    else:
        print(graph.to_json())
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    v = _registry(args).get(args.ref)
    v.verify(args.dir)
    print(f"{args.dir} matches {v.ref} ({len(v.manifest)} files)")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    result = _registry(args).gc(dry_run=args.dry_run, grace_seconds=args.grace)
    verb = "would remove" if args.dry_run else "removed"
    print(
        f"{verb} {result.blobs_deleted} blobs ({_human(result.bytes_freed)}) and "
        f"{result.pending_removed} stale pending versions"
    )
    return 0


def cmd_fsck(args: argparse.Namespace) -> int:
    """Exit 0: every checked blob is intact; 1: problems were found (repaired or not; the
    report says which); 2: fsck itself failed (bad option, store unreachable)."""
    from ._ops import fsck as ops

    reg = _registry(args)
    todo = ops.plan(reg, args.sample)
    with _progress(todo.bytes, f"checking {len(todo.blobs)} blobs", args.progress) as update:
        result = ops.run(reg, todo, repair=args.repair, progress=update, sources=args.sources)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0 if result.ok else 1
    of = f" (a sample of {result.total})" if result.sampled else ""
    print(f"checked {result.checked} blobs{of}, {_human(result.bytes_checked)}")
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
    return 0 if result.ok else 1


def cmd_db(args: argparse.Namespace) -> int:
    from .catalog.engine import create_engine_for
    from .catalog.migrate import current_revision, upgrade

    reg = _registry(args)
    engine = create_engine_for(reg.db_url)
    try:
        if args.action == "upgrade":
            rev = upgrade(engine)
            print(f"database at revision {rev}")
        else:
            print(current_revision(engine) or "empty")
    finally:
        engine.dispose()
    return 0


def cmd_ui(args: argparse.Namespace) -> int:  # pragma: no cover - exercised by the UI tests
    try:
        from .ui import serve
    except ImportError as exc:
        raise ArtiflowError(
            f"the web page needs its extra: pip install 'artiflow[ui]' ({exc})"
        ) from exc
    token = args.token or os.environ.get("ARTIFLOW_UI_TOKEN")
    serve(
        host=args.host,
        port=args.port,
        registry=_registry(args),
        allow_writes=args.allow_writes,
        write_token=token,
        allowed_hosts=args.allowed_host,
        max_body=args.max_body,
    )
    return 0


def _add_common(p: argparse.ArgumentParser, top: bool = False) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    p = argparse.ArgumentParser(
        prog="artiflow", description="Versioned artifacts and their lineage."
    )
    p.add_argument("--version", action="version", version=f"artiflow {__version__}")
    _add_common(p, top=True)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add = sub.add_parser

    def add_parser(name: str, **kw: Any) -> argparse.ArgumentParser:
        sp = _add(name, **kw)
        _add_common(sp)
        return sp

    sub.add_parser = add_parser  # type: ignore[method-assign]

    s = sub.add_parser("log", help="log a file or folder as a new version")
    s.add_argument("path")
    s.add_argument("--name", help="collection name (default: the file or folder name)")
    s.add_argument("--type", default="dataset", help="artifact type (default: dataset)")
    s.add_argument(
        "--alias", action="append", default=[], help="alias to put on the version (repeatable)"
    )
    s.add_argument("--tag", action="append", default=[], help="tag (repeatable)")
    s.add_argument(
        "--meta", action="append", default=[], help="metadata key=value, value as JSON if it parses"
    )
    s.add_argument("--description")
    s.add_argument("--semver", help="semantic version label, e.g. 1.4.0")
    s.set_defaults(fn=cmd_log)

    s = sub.add_parser("get", help="download a version")
    s.add_argument("ref")
    s.add_argument("-o", "--output", help="target folder (default ./artifacts/<name>:<version>)")
    s.add_argument("--link-type", choices=["copy", "reflink", "hardlink", "symlink"])
    s.set_defaults(fn=cmd_get)

    s = sub.add_parser("ls", help="list collections, or the versions of one")
    s.add_argument("name", nargs="?")
    s.add_argument("--type")
    s.add_argument("--all", action="store_true", help="include deleted versions")
    s.set_defaults(fn=cmd_ls)

    s = sub.add_parser("show", help="show one version")
    s.add_argument("ref")
    s.add_argument("--files", action="store_true", help="list the files")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_show)

    s = sub.add_parser("alias", help="put (or move) an alias on a version, or remove it")
    s.add_argument("ref")
    s.add_argument("alias")
    s.add_argument(
        "--expect",
        metavar="VERSION",
        help="move only if the alias is on VERSION now (vN), or not set ('none'); else exit 3",
    )
    s.add_argument("--remove", action="store_true", help="take the alias off the version REF")
    s.add_argument(
        "--revision", type=int, help="with --remove: only if the version is at this revision"
    )
    s.set_defaults(fn=cmd_alias)

    s = sub.add_parser(
        "edit", help="edit the description, metadata or tags of a version (content never changes)"
    )
    s.add_argument("ref")
    s.add_argument("--description")
    s.add_argument(
        "--meta", action="append", default=[], help="set key=value, value as JSON if it parses"
    )
    s.add_argument("--unset-meta", action="append", default=[], metavar="KEY")
    s.add_argument("--tag", action="append", default=[], help="add a tag (repeatable)")
    s.add_argument("--untag", action="append", default=[], help="remove a tag (repeatable)")
    s.add_argument(
        "--revision",
        type=int,
        help="save only if the version is still at this revision (see `artiflow show`); else exit 3",
    )
    s.set_defaults(fn=cmd_edit)

    s = sub.add_parser("delete", help="delete a version (lineage is kept)")
    s.add_argument("ref")
    s.add_argument("--delete-aliases", action="store_true")
    s.set_defaults(fn=cmd_delete)

    s = sub.add_parser("lineage", help="print the lineage of a version")
    s.add_argument("ref")
    way = s.add_mutually_exclusive_group()
    way.add_argument("--up", action="store_true", help="upstream (default)")
    way.add_argument("--down", action="store_true", help="downstream")
    way.add_argument("--both", action="store_true")
    s.add_argument("--depth", type=int)
    s.add_argument("--format", choices=["mermaid", "dot", "json", "openlineage"], default="mermaid")
    s.set_defaults(fn=cmd_lineage)

    s = sub.add_parser("verify", help="check that a folder matches a version")
    s.add_argument("ref")
    s.add_argument("dir")
    s.set_defaults(fn=cmd_verify)

    s = sub.add_parser("gc", help="remove content no version needs")
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
        "2 fsck failed.",
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
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.set_defaults(fn=cmd_fsck)

    s = sub.add_parser("db", help="database schema")
    s.add_argument("action", choices=["upgrade", "current"])
    s.set_defaults(fn=cmd_db)

    s = sub.add_parser("ui", help="serve the registry web page")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument(
        "--allow-writes", action="store_true", help="enable alias/metadata edits (needs a token)"
    )
    s.add_argument("--token", help="bearer token for writes (default $ARTIFLOW_UI_TOKEN)")
    s.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this Host name (repeatable; '*' = any). Default: "
        "loopback names and the bind host only",
    )
    s.add_argument(
        "--max-body",
        type=int,
        default=1024 * 1024,
        metavar="BYTES",
        help="largest request body accepted (default 1 MiB)",
    )
    s.set_defaults(fn=cmd_ui)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``artiflow`` command; returns the exit code.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
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

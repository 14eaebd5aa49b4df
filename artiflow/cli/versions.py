"""The ``artiflow`` commands that log a version, download it, list, show, label, delete and verify versions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..artifact import Artifact
from ..exceptions import InvalidRefError, VerificationError
from ..serialize import collection_dict
from ._common import ExitCode, emit, examples, human, open_registry, parse_meta, progress, tree_size


def cmd_log(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.exists():
        raise InvalidRefError(f"cannot log {args.path!r}: no such file or folder")
    reg = open_registry(args)
    name = args.name or path.stem
    art = Artifact(
        name, type=args.type, description=args.description, metadata=parse_meta(args.meta)
    )
    if path.is_dir():
        art.add_dir(path)
    else:
        art.add_file(path)
    with progress(tree_size(path), f"logging {name}", args.progress) as update:
        v = reg.log(art, aliases=args.alias, tags=args.tag, version=args.semver, progress=update)
    emit(
        args,
        v.to_dict(),
        lambda: f"{v.ref}  {v.file_count} files  {human(v.size)}  aliases: {', '.join(v.aliases)}",
    )
    return ExitCode.OK


def cmd_get(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    v = reg.get(args.ref)
    with progress(v.size, f"downloading {v.ref}", args.progress) as update:
        root = v.download(args.output, progress=update)
    emit(
        args,
        {"ref": v.ref, "path": str(root), "file_count": v.file_count, "size": v.size},
        str(root),
    )
    return ExitCode.OK


def cmd_ls(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    if args.name:
        found = reg.versions(args.name, include_deleted=args.all)

        def version_lines() -> str:
            lines = []
            for v in found:
                state = "" if v.state == "COMMITTED" else f"  [{v.state.lower()}]"
                semver = f"  {v.semver}" if v.semver else ""
                lines.append(
                    f"{v.ref}{semver}  {v.created_at:%Y-%m-%d %H:%M}  {human(v.size)}  "
                    f"{', '.join(v.aliases)}{state}"
                )
            return "\n".join(lines)

        r = reg.parse(args.name)
        emit(
            args,
            {"collection": r.collection, "versions": [v.to_dict() for v in found]},
            version_lines,
        )
        return ExitCode.OK
    cols = reg.collections(type=args.type, project=args.project)

    def collection_lines() -> str:
        return "\n".join(
            f"{c.project}/{c.name}  type={c.type}  versions={c.version_count}  "
            f"latest={f'v{c.latest_index}' if c.latest_index is not None else '-'}"
            + ("  (registry)" if c.kind == "registry" else "")
            for c in cols
        )

    emit(args, {"collections": [collection_dict(c) for c in cols]}, collection_lines)
    return ExitCode.OK


def cmd_show(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    v = reg.get(args.ref)
    data = v.to_dict()
    producers = v.logged_by_all()  # the creator first, then every de-duplicated re-log
    data["logged_by"] = producers[0].to_dict() if producers else None
    data["logged_by_all"] = [r.to_dict() for r in producers]
    data["used_by"] = [r.to_dict() for r in v.used_by()]
    data["files"] = [e.to_dict() for e in v.files()] if args.files else v.file_count
    if args.json:
        emit(args, data)
        return ExitCode.OK
    print(f"{v.ref}  ({v.type})")
    print(f"  digest:      {v.digest}")
    print(f"  size:        {human(v.size)} in {v.file_count} files")
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
    for run in producers:
        print(f"  logged by:   {run!r}")
    for run in v.used_by():
        print(f"  used by:     {run!r}")
    if args.files:
        for e in v.files():
            where = e.ref or e.digest
            print(f"    {e.path}  {human(e.size or 0)}  {where}")
    return ExitCode.OK


def cmd_alias(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    if args.remove:
        v = reg.get(args.ref)
        if args.alias not in v.aliases:
            raise InvalidRefError(
                f"{v.ref} does not hold alias {args.alias!r} (it holds "
                f"{', '.join(v.aliases) or 'none'}): name the version that holds it"
            )
        v.aliases.remove(args.alias)
        v.save(expected_revision=args.revision)
        emit(
            args,
            {"alias": args.alias, "ref": v.ref, "removed": True, "revision": v.revision},
            f"removed {args.alias} from {v.ref}",
        )
        return ExitCode.OK
    v = reg.alias(args.ref, args.alias, expected=args.expect)
    emit(
        args,
        {"alias": args.alias, "ref": v.ref, "removed": False, "revision": v.revision},
        f"{args.alias} -> {v.ref}",
    )
    return ExitCode.OK


def cmd_edit(args: argparse.Namespace) -> int:
    v = open_registry(args).get(args.ref)
    if args.description is not None:
        v.description = args.description
    v.metadata.update(parse_meta(args.meta))
    for key in args.unset_meta:
        v.metadata.pop(key, None)
    v.tags.extend(t for t in args.tag if t not in v.tags)
    v.tags = [t for t in v.tags if t not in set(args.untag)]
    v.save(expected_revision=args.revision)
    emit(args, v.to_dict(), f"saved {v.ref} (revision {v.revision})")
    return ExitCode.OK


def cmd_delete(args: argparse.Namespace) -> int:
    v = open_registry(args).get(args.ref)
    v.delete(delete_aliases=args.delete_aliases)
    emit(args, {"ref": v.ref, "deleted": True}, f"deleted {v.ref}")
    return ExitCode.OK


def cmd_verify(args: argparse.Namespace) -> int:
    """Exit 0 when the folder matches, 1 (MISMATCH) with the problems listed when it does not."""
    v = open_registry(args).get(args.ref)
    payload: dict[str, Any] = {"ref": v.ref, "dir": str(args.dir), "file_count": v.file_count}
    try:
        v.verify(args.dir)
    except VerificationError as exc:
        problems = [{"kind": k, "path": p} for k, p in exc.problems]
        emit(args, {**payload, "ok": False, "problems": problems}, None)
        if not args.json:
            print(f"artiflow: mismatch: {exc}", file=sys.stderr)
            for p in problems:
                print(f"{p['kind']}  {p['path']}")
        return ExitCode.MISMATCH
    emit(
        args,
        {**payload, "ok": True, "problems": []},
        f"{args.dir} matches {v.ref} ({v.file_count} files)",
    )
    return ExitCode.OK


def _add_log(sub: Any) -> None:
    """``artiflow log``."""
    s = sub.add_parser(
        "log",
        help="log a file or folder as a new version",
        epilog=examples(
            "artiflow log data/ --name bike-dataset --alias production --meta rows=10000",
            "artiflow log model.pkl --name churn-model --type model --semver 1.4.0 --json",
        ),
    )
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


def _add_get(sub: Any) -> None:
    """``artiflow get``."""
    s = sub.add_parser(
        "get",
        help="download a version",
        epilog=examples(
            "artiflow get bike-dataset:production -o data/",
            "artiflow get ml/churn-model:v3 --link-type hardlink --json",
        ),
    )
    s.add_argument("ref")
    s.add_argument("-o", "--output", help="target folder (default ./artifacts/<name>:<version>)")
    s.add_argument("--link-type", choices=["copy", "reflink", "hardlink", "symlink"])
    s.set_defaults(fn=cmd_get)


def _add_ls(sub: Any) -> None:
    """``artiflow ls``."""
    s = sub.add_parser(
        "ls",
        help="list collections, or the versions of one",
        epilog=examples(
            "artiflow ls", "artiflow ls --type model", "artiflow ls bike-dataset --all --json"
        ),
    )
    s.add_argument("name", nargs="?")
    s.add_argument("--type")
    s.add_argument("--all", action="store_true", help="include deleted versions")
    s.set_defaults(fn=cmd_ls)


def _add_show(sub: Any) -> None:
    """``artiflow show``."""
    s = sub.add_parser(
        "show",
        help="show one version",
        epilog=examples(
            "artiflow show bike-dataset:production",
            "artiflow show bike-dataset:v0 --files --json | jq .digest",
        ),
    )
    s.add_argument("ref")
    s.add_argument("--files", action="store_true", help="list the files")
    s.set_defaults(fn=cmd_show)


def _add_alias(sub: Any) -> None:
    """``artiflow alias``."""
    s = sub.add_parser(
        "alias",
        help="put (or move) an alias on a version, or remove it",
        epilog=examples(
            "artiflow alias churn-model:v3 production",
            "artiflow alias churn-model:v4 production --expect v3   # exit 4 if it moved",
            "artiflow alias churn-model:v4 staging --remove",
        ),
    )
    s.add_argument("ref")
    s.add_argument("alias")
    s.add_argument(
        "--expect",
        metavar="VERSION",
        help="move only if the alias is on VERSION now (vN), or not set ('none'); else exit 4",
    )
    s.add_argument("--remove", action="store_true", help="take the alias off the version REF")
    s.add_argument(
        "--revision", type=int, help="with --remove: only if the version is at this revision"
    )
    s.set_defaults(fn=cmd_alias)


def _add_edit(sub: Any) -> None:
    """``artiflow edit``."""
    s = sub.add_parser(
        "edit",
        help="edit the description, metadata or tags of a version (content never changes)",
        epilog=examples(
            "artiflow edit churn-model:v3 --meta auc=0.91 --tag reviewed",
            "artiflow edit churn-model:v3 --unset-meta draft --revision 2   # exit 4 if changed",
        ),
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
        help="save only if the version is still at this revision (see `artiflow show`); else exit 4",
    )
    s.set_defaults(fn=cmd_edit)


def _add_delete(sub: Any) -> None:
    """``artiflow delete``."""
    s = sub.add_parser(
        "delete",
        help="delete a version (lineage is kept)",
        epilog=examples(
            "artiflow delete bike-dataset:v0",
            "artiflow delete bike-dataset:v1 --delete-aliases   # also drop its aliases",
        ),
    )
    s.add_argument("ref")
    s.add_argument("--delete-aliases", action="store_true")
    s.set_defaults(fn=cmd_delete)


def _add_verify(sub: Any) -> None:
    """``artiflow verify``."""
    s = sub.add_parser(
        "verify",
        help="check that a folder matches a version (exit 1 when it does not)",
        epilog=examples(
            "artiflow verify bike-dataset:production data/",
            "artiflow verify bike-dataset:production data/ --json | jq '.problems[]'",
        ),
    )
    s.add_argument("ref")
    s.add_argument("dir")
    s.set_defaults(fn=cmd_verify)


def register(sub: Any) -> None:
    """Add the commands of this module to the ``artiflow`` sub-parsers (in this order)."""
    for add in (
        _add_log,
        _add_get,
        _add_ls,
        _add_show,
        _add_alias,
        _add_edit,
        _add_delete,
        _add_verify,
    ):
        add(sub)

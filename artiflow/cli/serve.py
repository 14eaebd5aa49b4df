"""The ``artiflow`` commands that serve the registry web page."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ._common import ExitCode, emit, examples, open_registry, require_extra


def cmd_ui(args: argparse.Namespace) -> int:
    for module in ("fastapi", "uvicorn"):
        require_extra(module, "ui", "`artiflow ui` (the web page)")
    from ..ui import serve

    token = args.token or os.environ.get("ARTIFLOW_UI_TOKEN")
    url = f"http://{args.host}:{args.port}/"
    # with --json, one object before serving: where it listens (the server logs to stderr)
    emit(args, {"url": url, "allow_writes": bool(args.allow_writes)}, None)
    serve(
        host=args.host,
        port=args.port,
        registry=open_registry(args),
        allow_writes=args.allow_writes,
        write_token=token,
        allowed_hosts=args.allowed_host,
        max_body=args.max_body,
    )
    return ExitCode.OK


def register(sub: Any) -> None:
    """Add the commands of this module to the ``artiflow`` sub-parsers."""
    s = sub.add_parser(
        "ui",
        help="serve the registry web page (needs the 'ui' extra)",
        epilog=examples(
            "artiflow ui --port 8765",
            "ARTIFLOW_UI_TOKEN=secret artiflow ui --host 0.0.0.0 --allowed-host reg.example.org "
            "--allow-writes",
        ),
    )
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

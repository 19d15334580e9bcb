"""`mcp-sessions import-json DIR`: migrate the old JSON-file store (layout in
mcp_sessions/archive/json_store.py), reporting what was imported and what was skipped."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mcp_sessions.cli.output import (
    Progress,
    add_json_flag,
    positive_int,
    print_json,
    print_table,
    with_connection,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-json", help="migrate the old JSON-file store (one folder per session)")
    p.add_argument("directory", metavar="DIR", help="the store's folder (holding one folder per session)")
    p.add_argument("--created-by", default="json-import",
                   help="author recorded where the old files name none (default: json-import)")
    p.add_argument("--max-file-bytes", type=positive_int, metavar="N",
                   help="skip (and report) files larger than this (default: twice MCP_SESSIONS_MAX_CONTENT_BYTES "
                        "plus 1 MiB)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_json_flag(p)
    p.set_defaults(func=cmd_import_json)


def cmd_import_json(args: argparse.Namespace) -> int:
    from mcp_sessions.archive.json_store import Limits, import_json_store
    from mcp_sessions.cli.common import load_settings

    root = Path(args.directory)
    if not root.is_dir():
        print(f"mcp-sessions: no such directory: {root}", file=sys.stderr)
        return 1
    show = Progress(args.quiet)

    def progress(report: Any, done: int, total: int) -> None:
        show(f"import-json: {done}/{total} session folders, {len(report.skipped)} skipped items")

    async def work(conn: Any) -> int:
        settings = load_settings()
        limits = Limits(content_bytes=settings.max_content_bytes, memory_bytes=settings.max_memory_bytes,
                        file_bytes=args.max_file_bytes or 0)
        report = await import_json_store(conn, root, created_by=args.created_by, limits=limits, progress=progress)
        if args.json:
            print_json({
                "sessions_imported": report.sessions_imported,
                "sessions_already_present": report.sessions_already_present,
                "imported": report.imported,
                "already_present": report.already_present,
                "skipped": report.skipped,
                "notes": report.notes,
            })
            return 0
        counts = ", ".join(f"{n} {kind}" for kind, n in report.imported.items())
        print(f"imported {report.sessions_imported} sessions ({report.sessions_already_present} already present): "
              f"{counts}; {report.already_present} items already present")
        if report.notes:
            print("\nNotes")
            print_table(["file", "note"], [[n["path"], n["note"]] for n in report.notes], max_cell=None)
        print(f"\nSkipped ({len(report.skipped)})")
        print_table(["file", "reason"], [[s["path"], s["reason"]] for s in report.skipped], max_cell=None)
        return 0

    return with_connection(work)

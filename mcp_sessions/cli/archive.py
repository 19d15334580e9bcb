"""`mcp-sessions export [SESSION_ID ...] [-o FILE]` and `mcp-sessions import FILE`:
versioned JSON Lines archives (backups, and the way between databases)."""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from mcp_sessions.archive.schema import ArchiveError
from mcp_sessions.cli.output import (
    Progress,
    add_json_flag,
    human_bytes,
    print_json,
    with_connection,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write sessions (all, or those named) and agents to a JSON Lines archive")
    p.add_argument("session_ids", nargs="*", metavar="SESSION_ID", help="only these sessions (default: all)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="where to write (default: stdout); a name ending in .gz is compressed")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("import", help="load a JSON Lines archive; importing it twice changes nothing")
    p.add_argument("file", metavar="FILE", help="the archive ('-' reads stdin; .gz is decompressed)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_json_flag(p)
    p.set_defaults(func=cmd_import)


class _Writer:
    """A file whose write errors name the file: an OSError would otherwise read like a
    lost database connection."""

    def __init__(self, raw: BinaryIO, name: str) -> None:
        self.raw = raw
        self.name = name

    def write(self, data: bytes) -> int:
        try:
            return self.raw.write(data)
        except OSError as exc:
            raise ArchiveError(f"cannot write {self.name}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[_Writer]:
    """stdout, or FILE written under a temporary name and renamed when complete, so a
    failed export never leaves a file that looks whole."""
    if path is None or path == "-":
        yield _Writer(sys.stdout.buffer, "stdout")
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    if target.exists() and not target.is_file():
        # A device or a pipe (/dev/stdout, a FIFO): write to it directly, never replace it.
        try:
            with open(target, "wb") as raw:
                yield _Writer(raw, str(target))
        except OSError as exc:
            raise ArchiveError(f"cannot write {target}: {exc.strerror or exc}") from exc
        return
    partial = target.with_name(target.name + ".partial")
    try:
        try:
            raw = open(partial, "wb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ArchiveError(f"cannot write {target}: {exc.strerror or exc}") from exc
        with raw:
            if target.suffix == ".gz":
                # mtime=0: the same data gives the same bytes.
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped:
                    yield _Writer(zipped, str(target))  # type: ignore[arg-type]
            else:
                yield _Writer(raw, str(target))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _input(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    if path.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def cmd_export(args: argparse.Namespace) -> int:
    from mcp_sessions.archive import export_archive

    show = Progress(args.quiet)

    def progress(stats: Any) -> None:
        show(f"export: {stats.sessions}/{stats.total_sessions} sessions, {stats.rows} rows, "
             f"{human_bytes(stats.bytes)}")

    async def work(conn: Any) -> int:
        with _output(args.output) as out:
            stats = await export_archive(conn, out, session_ids=args.session_ids or None, progress=progress)
        show(f"exported {stats.sessions} sessions, {stats.rows} rows, {human_bytes(stats.bytes)}"
             + (f" to {args.output}" if args.output else ""), final=True)
        return 0

    # Exporting reads only: it does not migrate the source.
    return with_connection(work, migrate=False)


def cmd_import(args: argparse.Namespace) -> int:
    from mcp_sessions.archive import import_archive
    from mcp_sessions.archive.rules import Limits
    from mcp_sessions.cli.common import load_settings

    if args.file != "-" and not Path(args.file).is_file():
        print(f"mcp-sessions: no such archive: {args.file}", file=sys.stderr)
        return 1
    total = None if args.file == "-" or args.file.endswith(".gz") else Path(args.file).stat().st_size
    show = Progress(args.quiet)

    def progress(stats: Any) -> None:
        done = f"{human_bytes(stats.bytes)}" + (f" of {human_bytes(total)}" if total else "")
        show(f"import: {done}, {stats.sessions_new + stats.sessions_present} sessions, "
             f"{stats.rows_inserted} rows added")

    settings = load_settings()
    limits = Limits.of(settings)

    async def work(conn: Any) -> int:
        with _input(args.file) as src:
            stats = await import_archive(conn, src, limits=limits, progress=progress)
        result = {
            "sessions_imported": stats.sessions_new,
            "sessions_already_present": stats.sessions_present,
            "rows_imported": stats.rows_inserted,
            "rows_already_present": stats.rows_present,
            "failed": [{"session_id": sid, "reason": why} for sid, why in stats.failed],
        }
        if args.json:
            print_json(result)
        else:
            print(f"imported {stats.sessions_new} sessions ({stats.sessions_present} already present), "
                  f"{stats.rows_inserted} rows ({stats.rows_present} already present)")
            for sid, why in stats.failed:
                print(f"not imported: {sid}: {why}")
        return 1 if stats.failed else 0

    return with_connection(work)

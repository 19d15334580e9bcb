"""Import: read an archive line by line into any database, one transaction per session.

Idempotent: every insert skips a row whose key is already there, so importing an
archive twice changes nothing, and importing into a database that already holds some
of its sessions adds only what is missing. A session whose rows the database refuses
is rolled back alone and reported; the others still land."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import asyncpg

from mcp_sessions.archive.export import FORMAT, FORMAT_VERSION
from mcp_sessions.archive.schema import (
    GLOBAL_TABLES,
    ROOT,
    ArchiveError,
    Catalog,
    quote,
    read_catalog,
    render,
)
from mcp_sessions.errors import SessionsError
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store import search as search_store
from mcp_sessions.store.errors import translate_errors


@dataclass
class ImportStats:
    sessions_new: int = 0
    sessions_present: int = 0
    rows_inserted: int = 0
    rows_present: int = 0
    bytes: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (session id, why)


Progress = Callable[[ImportStats], None]


def read_header(line: bytes) -> dict:
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ArchiveError(f"not an mcp-sessions archive (the first line is not a {FORMAT} header)")
    version = header.get("version")
    if not isinstance(version, int) or version < 1:
        raise ArchiveError(f"the archive header has no valid format version ({version!r})")
    if version > FORMAT_VERSION:
        raise ArchiveError(
            f"the archive is format version {version}, newer than this mcp-sessions reads "
            f"(up to {FORMAT_VERSION}): upgrade mcp-sessions to import it; nothing was imported"
        )
    if not isinstance(header.get("tables"), dict):
        raise ArchiveError("the archive header lists no tables")
    return header


def _statements(header: dict, catalog: Catalog) -> dict[str, str]:
    """One insert per archived table, over the archive's columns. A column the archive
    has and this database lacks would be lost: refuse before writing anything."""
    statements = {}
    for name, columns in header["tables"].items():
        table = catalog.tables.get(name)
        known = set(table.columns) if table else set()
        unknown = [c for c in columns if c not in known]
        if table is None or unknown:
            what = f"table {name}" if table is None else f"column(s) {', '.join(f'{name}.{c}' for c in unknown)}"
            raise ArchiveError(
                f"the archive has {what}, which this database does not: it comes from a newer schema "
                f"(schema version {header.get('schema_version')}); upgrade mcp-sessions and run "
                "`mcp-sessions db migrate`; nothing was imported"
            )
        cols = ", ".join(quote(c) for c in columns)
        if name in GLOBAL_TABLES:
            statements[name] = render(
                Q["archive_upsert_agent"], table=quote(name), columns=cols,
                key=", ".join(quote(c) for c in table.primary_key),
                excluded=", ".join(f"EXCLUDED.{quote(c)}" for c in columns),
                current=", ".join(f"t.{quote(c)}" for c in columns),
            )
        else:
            statements[name] = render(Q["archive_insert_row"], table=quote(name), columns=cols)
    if ROOT not in statements:
        raise ArchiveError("the archive header does not list the sessions table")
    return statements


class _RowRefused(Exception):
    pass


@dataclass
class _Plan:
    """How to insert each table's rows, and which rows depend on a new parent."""

    statements: dict[str, str]
    # table without a natural key → (its owning key columns, parent table, parent key columns)
    owned: dict[str, tuple[list[str], str, list[str]]]
    # parent table → the key columns whose new values the import remembers
    tracked: dict[str, list[str]]


def _plan(header: dict, catalog: Catalog) -> _Plan:
    statements = _statements(header, catalog)  # first: it refuses tables this database lacks
    owned, tracked = {}, {}
    for name in header["tables"]:
        table = catalog.table(name)
        if name != ROOT and name not in GLOBAL_TABLES and not table.natural_key and table.scope_fk:
            owned[name] = table.scope_fk
            if table.scope_fk[1] != ROOT:
                tracked[table.scope_fk[1]] = table.scope_fk[2]
    return _Plan(statements, owned, tracked)


async def import_archive(conn: asyncpg.Connection, src: BinaryIO, *, progress: Progress | None = None) -> ImportStats:
    """Import the archive read from src (binary, positioned at its start)."""
    stats = ImportStats()
    first = src.readline()
    header = read_header(first)
    stats.bytes += len(first)
    plan = _plan(header, await read_catalog(conn))

    group: _Group | None = None
    ended = False
    lines = 0
    for raw in src:
        stats.bytes += len(raw)
        try:
            item = json.loads(raw)
        except ValueError:
            item = None
        if isinstance(item, dict) and "end" in item:
            ended = True
            expected = item["end"].get("rows") if isinstance(item["end"], dict) else None
            if expected != lines:
                stats.failed.append(("(archive)", f"the end line counts {expected} rows but the archive has {lines}: "
                                                  "it was edited or damaged"))
            break
        if not (isinstance(item, dict) and "section" in item):
            lines += 1
        if isinstance(item, dict) and item.get("section") == "links":
            if group is not None:
                await group.finish(stats)
            group = _Group(conn, plan, None, links=True)
            await group.start()
            continue
        table = item.get("table") if isinstance(item, dict) else None
        row = item.get("row") if isinstance(item, dict) else None
        if table == ROOT or (group is None and table in GLOBAL_TABLES):
            if group is not None:
                await group.finish(stats)
            group = _Group(conn, plan, row.get("id") if isinstance(row, dict) else None)
            await group.start()
            if progress:
                progress(stats)
        if group is None:
            raise ArchiveError("the archive has rows before any session: it is damaged; nothing was imported")
        if group.failed:
            continue
        try:
            if table not in plan.statements or not isinstance(row, dict):
                raise _RowRefused(f"line {raw[:80]!r} is not a row of a table the header lists")
            inserted = await group.insert(table, raw, row)
        except _RowRefused as exc:
            if group.links:
                stats.failed.append(("(links)", str(exc)))
            else:
                await group.fail(stats, str(exc))
            continue
        if inserted:
            stats.rows_inserted += 1
        else:
            stats.rows_present += 1
    if group is not None:
        if ended:
            await group.finish(stats)
        else:
            await group.fail(stats, "the archive ends here without its end line: it is truncated")
    if progress:
        progress(stats)
    if not ended:
        raise ArchiveError(
            "the archive is truncated (no end line); everything before the last session was imported, "
            "the last one was rolled back"
        )
    # Typo search learns the words just imported now, not on later fuzzy searches.
    await search_store.refresh_vocabulary(conn)
    return stats


class _Group:
    """The rows of one session (or the agents, or the cross-session links), in one transaction."""

    def __init__(self, conn: asyncpg.Connection, plan: _Plan, session_id: str | None, links: bool = False) -> None:
        self.conn = conn
        self.plan = plan
        self.session_id = session_id
        self.links = links
        self.new = False
        self.failed = False
        self.new_keys: dict[str, set[tuple]] = {name: set() for name in plan.tracked}
        self.tr = conn.transaction()

    async def start(self) -> None:
        await self.tr.start()

    async def insert(self, table: str, raw: bytes, row: dict) -> bool:
        owner = self.plan.owned.get(table)
        if owner is not None:
            cols, parent, _ = owner
            parent_is_new = self.new if parent == ROOT else tuple(row.get(c) for c in cols) in self.new_keys[parent]
            if not parent_is_new:
                return False  # its parent was already here, and with it this row
        try:
            with translate_errors():
                if self.links:
                    # A link may name a session the archive does not hold: skip that row alone.
                    async with self.conn.transaction():
                        inserted = bool(await self.conn.fetchval(self.plan.statements[table], _row_text(raw, table, row)))
                else:
                    inserted = bool(await self.conn.fetchval(self.plan.statements[table], _row_text(raw, table, row)))
        except SessionsError as exc:
            raise _RowRefused(f"{table}: {exc.message}") from exc
        except asyncpg.PostgresError as exc:
            raise _RowRefused(f"{table}: {exc.__class__.__name__}: {exc}") from exc
        if table == ROOT:
            self.new = inserted
        elif inserted and table in self.new_keys:
            self.new_keys[table].add(tuple(row.get(c) for c in self.plan.tracked[table]))
        return inserted

    async def finish(self, stats: ImportStats) -> None:
        if self.failed:
            return
        if self.session_id is not None:
            if self.new:
                await self.conn.execute(Q["archive_forget_activity"], self.session_id)
                stats.sessions_new += 1
            else:
                stats.sessions_present += 1
        await self.tr.commit()

    async def fail(self, stats: ImportStats, why: str) -> None:
        if self.failed:
            return
        self.failed = True
        await self.tr.rollback()
        stats.failed.append((self.session_id or "(agents)", why))


def _row_text(raw: bytes, table: str, row: dict) -> str:
    """The row's JSON text as written, so numbers reach PostgreSQL exactly as exported
    (a trip through Python floats could change them). A line laid out otherwise (edited
    by hand) is re-encoded instead."""
    prefix = ('{"table": ' + json.dumps(table) + ', "row": ').encode()
    line = raw.rstrip(b"\r\n")
    if line.startswith(prefix) and line.endswith(b"}"):
        return line[len(prefix):-1].decode("utf-8")
    return json.dumps(row, ensure_ascii=False)

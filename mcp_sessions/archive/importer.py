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
from mcp_sessions.archive.lines import Damaged, Oversize, read_lines
from mcp_sessions.archive.rules import Limits, RowProblem, check_row
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


# What an archive never changes in a row this database already has: an agent's command
# is what `mcp-sessions dispatch` runs, so an archive must not swap it for its own.
KEPT_ON_UPDATE = {"agents": ("command",)}


def _statements(header: dict, catalog: Catalog) -> dict[str, str]:
    """One insert per archived table, over the archive's columns. A table an archive
    never carries, or a column the archive has and this database lacks (which would be
    lost), is refused before anything is written."""
    archived = set(GLOBAL_TABLES) | set(catalog.session_tables)
    foreign = sorted(name for name in header["tables"] if name in catalog.tables and name not in archived)
    if foreign:
        raise ArchiveError(
            f"the archive lists table(s) {', '.join(foreign)}, which an archive never carries (it carries the "
            f"agents and the sessions' own tables: {', '.join(sorted(archived))}); it was not written by "
            "`mcp-sessions export` or was edited; nothing was imported"
        )
    statements = {}
    for name, columns in header["tables"].items():
        table = catalog.tables.get(name)
        known = set(table.columns) if table else set()
        unknown = [c for c in columns if c not in known] if isinstance(columns, list) else []
        if table is None or unknown:
            what = f"table {name}" if table is None else f"column(s) {', '.join(f'{name}.{c}' for c in unknown)}"
            raise ArchiveError(
                f"the archive has {what}, which this database does not: it comes from a newer schema "
                f"(schema version {header.get('schema_version')}); upgrade mcp-sessions and run "
                "`mcp-sessions db migrate`; nothing was imported"
            )
        if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
            raise ArchiveError(f"the archive header lists no valid columns for {name}; nothing was imported")
        cols = ", ".join(quote(c) for c in columns)
        if name in GLOBAL_TABLES:
            updated = [c for c in columns if c not in KEPT_ON_UPDATE.get(name, ())] or columns
            statements[name] = render(
                Q["archive_upsert_agent"], table=quote(name), columns=cols,
                key=", ".join(quote(c) for c in table.primary_key),
                updated=", ".join(quote(c) for c in updated),
                excluded=", ".join(f"EXCLUDED.{quote(c)}" for c in updated),
                current=", ".join(f"t.{quote(c)}" for c in updated),
            )
        else:
            statements[name] = render(Q["archive_insert_row"], table=quote(name), columns=cols)
    if ROOT not in statements:
        raise ArchiveError("the archive header does not list the sessions table")
    return statements


class _RowRefused(Exception):
    pass


Key = tuple[str, tuple[str, ...]]  # (parent table, its key columns)


@dataclass
class _Plan:
    """How to insert each table's rows, and how to tell which session a row belongs to."""

    catalog: Catalog
    limits: Limits
    statements: dict[str, str]
    # table without a natural key → (its owning key columns, parent table, parent key columns)
    owned: dict[str, tuple[list[str], str, list[str]]]
    # parent table → the key columns whose new values the import remembers
    tracked: dict[str, list[str]]
    # parent table → the keys other rows name it by (their owning key, or a link)
    parent_keys: dict[str, set[tuple[str, ...]]]
    # link table → the query giving the session of the row that owns a link row
    owner_session: dict[str, str]


def _plan(header: dict, catalog: Catalog, limits: Limits) -> _Plan:
    statements = _statements(header, catalog)  # first: it refuses tables it must not write
    owned, tracked, parent_keys, owner_session = {}, {}, {}, {}
    for name in header["tables"]:
        table = catalog.table(name)
        if name == ROOT or name in GLOBAL_TABLES or not table.scope_fk:
            continue
        if not table.natural_key:
            owned[name] = table.scope_fk
            if table.scope_fk[1] != ROOT:
                tracked[table.scope_fk[1]] = table.scope_fk[2]
        for _, parent, ref_cols in [table.scope_fk, *table.links]:
            if parent != ROOT:
                parent_keys.setdefault(parent, set()).add(tuple(ref_cols))
        cols, parent, ref_cols = table.scope_fk
        owner = catalog.table(parent).scope_fk if parent != ROOT else None
        if table.links and owner is not None and owner[1] == ROOT:
            owner_session[name] = render(
                Q["archive_owner_session"], table=quote(parent), session_column=quote(owner[0][0]),
                key=", ".join(f"t.{quote(c)}::text" for c in ref_cols),
                params=", ".join(f"${i}" for i in range(1, len(ref_cols) + 1)),
            )
    return _Plan(catalog, limits, statements, owned, tracked, parent_keys, owner_session)


async def import_archive(
    conn: asyncpg.Connection, src: BinaryIO, *, limits: Limits | None = None, progress: Progress | None = None,
) -> ImportStats:
    """Import the archive read from src (binary, positioned at its start). Every row is
    held to what the tools accept (limits: the server's size settings)."""
    limits = limits or Limits()
    stats = ImportStats()
    lines = read_lines(src, limits)
    try:
        first = next(lines, b"")
    except Damaged as exc:
        raise ArchiveError(f"cannot read the archive ({exc}); nothing was imported") from None
    if isinstance(first, Oversize):
        raise ArchiveError("not an mcp-sessions archive (its first line is not a header)")
    header = read_header(first)
    stats.bytes += len(first)
    plan = _plan(header, await read_catalog(conn), limits)

    group: _Group | None = None
    archived_sessions: set[str] = set()
    ended = False
    damaged = None
    count = 0
    while True:
        try:
            raw = next(lines, None)
        except Damaged as exc:
            damaged = str(exc)
            break
        if raw is None:
            break
        refusal = None
        if isinstance(raw, Oversize):
            stats.bytes += raw.size
            item = {"table": raw.table, "row": {"id": raw.row_id} if raw.table == ROOT else None}
            refusal = raw.reason(limits)
        else:
            stats.bytes += len(raw)
            try:
                item = json.loads(raw)
            except (ValueError, RecursionError):
                item = None
        if isinstance(item, dict) and "end" in item:
            ended = True
            expected = item["end"].get("rows") if isinstance(item["end"], dict) else None
            if expected != count:
                stats.failed.append(("(archive)", f"the end line counts {expected} rows but the archive has {count}: "
                                                  "it was edited or damaged"))
            break
        if not (isinstance(item, dict) and "section" in item):
            count += 1
        if isinstance(item, dict) and item.get("section") == "links":
            if group is not None:
                await group.finish(stats)
            group = _Group(conn, plan, None, links=True, sessions=archived_sessions)
            await group.start()
            continue
        table = item.get("table") if isinstance(item, dict) else None
        row = item.get("row") if isinstance(item, dict) else None
        if (table == ROOT and (group is None or not group.links)) or (group is None and table in GLOBAL_TABLES):
            if group is not None:
                await group.finish(stats)
            session_id = row.get("id") if table == ROOT and isinstance(row, dict) else None
            group = _Group(conn, plan, (str(session_id) if session_id is not None else "(unknown)") if table == ROOT else None)
            if table == ROOT and isinstance(session_id, str):
                archived_sessions.add(session_id)
            await group.start()
            if progress:
                progress(stats)
        if group is None:
            raise ArchiveError("the archive has rows before any session: it is damaged; nothing was imported")
        if group.failed:
            continue
        try:
            if refusal is not None:
                raise _RowRefused(refusal)
            if table not in plan.statements or not isinstance(row, dict):
                raise _RowRefused(f"line {bytes(raw[:80])!r} is not a row of a table the header lists")
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
        elif damaged:
            await group.fail(stats, f"the archive is damaged here ({damaged}): it is truncated or corrupt")
        else:
            await group.fail(stats, "the archive ends here without its end line: it is truncated")
    if progress:
        progress(stats)
    if damaged:
        raise ArchiveError(
            f"the archive is truncated or corrupt ({damaged}); everything before the last session was imported, "
            "the last one was rolled back"
        )
    if not ended:
        raise ArchiveError(
            "the archive is truncated (no end line); everything before the last session was imported, "
            "the last one was rolled back"
        )
    return stats


class _Group:
    """The rows of one session (or the agents, or the cross-session links), in one transaction."""

    def __init__(
        self, conn: asyncpg.Connection, plan: _Plan, session_id: str | None, links: bool = False,
        sessions: set[str] | None = None,
    ) -> None:
        self.conn = conn
        self.plan = plan
        self.session_id = session_id
        self.links = links
        self.sessions = sessions or set()  # the links section: every session of the archive
        self.new = False
        self.failed = False
        self.new_keys: dict[str, set[tuple]] = {name: set() for name in plan.tracked}
        # The keys of this block's rows that other rows of the block may name as their parent.
        self.seen: dict[Key, set[tuple]] = {}
        self.tr = conn.transaction()

    async def start(self) -> None:
        await self.tr.start()

    async def _check_place(self, table: str, row: dict) -> None:
        """A row belongs where it stands: agents in the agents block, a session's rows in
        that session's block, links owned by a task of the archive."""
        if self.session_id is None and not self.links:
            if table not in GLOBAL_TABLES:
                raise _RowRefused(f"{table}: a row of a session before any session line: the archive is damaged")
            return
        if table in GLOBAL_TABLES:
            raise _RowRefused(f"{table}: an agents row inside a session: the archive was edited or damaged")
        spec = self.plan.catalog.table(table)
        if self.links:
            query = self.plan.owner_session.get(table)
            if query is None:
                raise _RowRefused(f"{table}: not a table whose rows link sessions")
            cols = spec.scope_fk[0]
            owner = await self.conn.fetchval(query, *(_text(row.get(c)) for c in cols))
            if owner not in self.sessions:
                raise _RowRefused(f"{table}: {_show(row, cols)} is not a task of a session in this archive")
            return
        if table == ROOT:
            return
        cols, parent, ref_cols = spec.scope_fk
        key = tuple(row.get(c) for c in cols)
        if parent == ROOT:
            if key != (self.session_id,):
                raise _RowRefused(f"{table}: {_show(row, cols)} in the block of session {self.session_id!r}: "
                                  "a row must belong to the session it is archived with")
        elif key not in self.seen.get((parent, tuple(ref_cols)), ()):
            raise _RowRefused(f"{table}: {_show(row, cols)} names no {parent} row of session {self.session_id!r}")
        for link_cols, link_parent, link_ref in spec.links:
            value = tuple(row.get(c) for c in link_cols)
            if any(v is not None for v in value) and value not in self.seen.get((link_parent, tuple(link_ref)), ()):
                raise _RowRefused(f"{table}: {_show(row, link_cols)} names no {link_parent} row of session "
                                  f"{self.session_id!r} (links between sessions belong in the links section)")

    async def insert(self, table: str, raw: bytes, row: dict) -> bool:
        await self._check_place(table, row)
        try:
            check_row(table, row, self.plan.catalog.table(table).json_columns, self.plan.limits)
        except RowProblem as exc:
            raise _RowRefused(str(exc)) from None
        for key_cols in self.plan.parent_keys.get(table, ()):
            self.seen.setdefault((table, key_cols), set()).add(tuple(row.get(c) for c in key_cols))
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


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _show(row: dict, cols: list[str]) -> str:
    return ", ".join(f"{c}={str(row.get(c))[:100]!r}" for c in cols)


def _row_text(raw: bytes, table: str, row: dict) -> str:
    """The row's JSON text as written, so numbers reach PostgreSQL exactly as exported
    (a trip through Python floats could change them). A line laid out otherwise (edited
    by hand) is re-encoded instead."""
    prefix = ('{"table": ' + json.dumps(table) + ', "row": ').encode()
    line = raw.rstrip(b"\r\n")
    if line.startswith(prefix) and line.endswith(b"}"):
        return line[len(prefix):-1].decode("utf-8")
    return json.dumps(row, ensure_ascii=False)

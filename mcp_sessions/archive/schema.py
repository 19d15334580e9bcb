"""What an archive holds, read from the database catalog rather than written down.

Every table that belongs to a session (a foreign key path leads to `sessions`) is
archived with its session; `agents` is archived on its own. Columns come from the
catalog, so a column or a session-owned table added by a later migration is carried
without touching this module. Left out: `schema_migrations` (each database has its
own), the search index (rebuilt by the import's inserts), and tables that don't
belong to a session (e.g. credentials), which must not travel in an archive. A new table derived from others
must be added to NOT_ARCHIVED: the round-trip test fails until it is."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from mcp_sessions.errors import SessionsError
from mcp_sessions.sql import QUERIES as Q

ROOT = "sessions"
GLOBAL_TABLES = ("agents",)
# Each database keeps its own; or derived from the archived rows by triggers (the search
# index), so an import rebuilds them.
# Path reservations are short-lived (minutes): an archive restored later would hold
# paths for nobody. Events have no key to sessions (and are derived: the import's
# inserts write their own), so they are never reached.
NOT_ARCHIVED = ("schema_migrations", "search_segments", "search_vocab", "search_vocab_queue", "reservations")


class ArchiveError(SessionsError):
    code = "archive_error"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def render(query: str, **identifiers: str) -> str:
    """Fill a template's {{placeholders}} with identifiers (already quoted)."""
    for name, value in identifiers.items():
        query = query.replace("{{" + name + "}}", value)
    return query


@dataclass
class Table:
    name: str
    columns: list[str] = field(default_factory=list)  # archived: stored, insertable
    derived: list[str] = field(default_factory=list)  # generated / identity: the database makes them
    identity: list[str] = field(default_factory=list)
    json_columns: frozenset[str] = frozenset()
    primary_key: list[str] = field(default_factory=list)
    # (columns, parent table, parent columns) of each foreign key
    foreign_keys: list[tuple[list[str], str, list[str]]] = field(default_factory=list)
    scope: str = ""  # SQL predicate selecting one session's rows ($1 = session id)
    scope_fk: tuple[list[str], str, list[str]] | None = None  # the key that makes a row belong to its parent
    # Other keys to session-owned rows (task_dependencies.depends_on): they may point into
    # another session, which an import may not have reached yet.
    links: list[tuple[list[str], str, list[str]]] = field(default_factory=list)
    links_inside: str = ""  # predicate: every link points into the same session

    @property
    def natural_key(self) -> bool:
        """Whether re-importing a row can be recognized by its key. A key the database
        generates (task_events.id) can't: such rows are imported only with a new parent."""
        return bool(self.primary_key) and not set(self.primary_key) & set(self.derived)

    @property
    def export_scope(self) -> str:
        return f"{self.scope} AND {self.links_inside}" if self.links else self.scope

    @property
    def cross_scope(self) -> str:
        return f"{self.scope} AND NOT ({self.links_inside})"

    @property
    def order(self) -> str:
        # An identity column records insertion order (conversation_chunks.seq): export in
        # that order, and the import's inserts recreate it.
        keys = self.identity or self.primary_key or self.columns
        return ", ".join(f"t.{quote(c)}" for c in keys)


@dataclass
class Catalog:
    tables: dict[str, Table]
    session_tables: list[str]  # in insertion order: parents before children

    def table(self, name: str) -> Table:
        return self.tables[name]


async def read_catalog(conn: asyncpg.Connection) -> Catalog:
    tables: dict[str, Table] = {}
    for r in await conn.fetch(Q["archive_columns"]):
        table = tables.setdefault(r["table_name"], Table(r["table_name"]))
        if r["generated"] or r["identity_always"]:
            table.derived.append(r["column_name"])
            if r["identity_always"]:
                table.identity.append(r["column_name"])
        else:
            table.columns.append(r["column_name"])
            if r["is_json"]:
                table.json_columns |= {r["column_name"]}
    for r in await conn.fetch(Q["archive_constraints"]):
        table = tables[r["table_name"]]
        if r["kind"] == "p":
            table.primary_key = list(r["columns"])
        else:
            table.foreign_keys.append((list(r["columns"]), r["ref_table"], list(r["ref_columns"])))
    if ROOT not in tables:
        raise ArchiveError("this database has no mcp-sessions schema: run `mcp-sessions db migrate` first")
    return Catalog(tables, _session_tables(tables))


def _session_tables(tables: dict[str, Table]) -> list[str]:
    """Tables reachable from sessions through foreign keys, parents first, each with the
    predicate that selects one session's rows."""
    ordered = [ROOT]
    tables[ROOT].scope = "t.id = $1"
    changed = True
    while changed:
        changed = False
        for name in sorted(tables):
            table = tables[name]
            if name in ordered or name in NOT_ARCHIVED or name in GLOBAL_TABLES:
                continue
            parents = [fk for fk in table.foreign_keys if fk[1] in ordered]
            # Wait until every session-owned parent is placed, so inserts see their parents.
            pending = [fk for fk in table.foreign_keys if fk[1] not in ordered and fk[1] != name
                       and _reaches_root(fk[1], tables, set())]
            if not parents or pending:
                continue
            _place(table, parents, tables)
            ordered.append(name)
            changed = True
    return ordered


def _reaches_root(name: str, tables: dict[str, Table], seen: set[str]) -> bool:
    if name == ROOT:
        return True
    if name in seen or name in NOT_ARCHIVED or name in GLOBAL_TABLES or name not in tables:
        return False
    seen.add(name)
    return any(_reaches_root(fk[1], tables, seen) for fk in tables[name].foreign_keys)


def _inside(fk: tuple[list[str], str, list[str]], tables: dict[str, Table]) -> str:
    """Predicate: the key fk is null or names a row of the same session."""
    cols, parent, ref_cols = fk
    if parent == ROOT:
        return f"t.{quote(cols[0])} = $1"
    left = ", ".join(f"t.{quote(c)}" for c in cols)
    right = ", ".join(f"t.{quote(c)}" for c in ref_cols)
    nulls = " OR ".join(f"t.{quote(c)} IS NULL" for c in cols)
    inner = tables[parent].scope
    return f"({nulls} OR ({left}) IN (SELECT {right} FROM {quote(parent)} t WHERE {inner}))"


def _place(table: Table, parents: list[tuple[list[str], str, list[str]]], tables: dict[str, Table]) -> None:
    # The owning key: a direct key to sessions, else the key that starts the primary key
    # (task_dependencies.task_id, not depends_on), else the first.
    direct = [fk for fk in parents if fk[1] == ROOT]
    prefix = [fk for fk in parents if fk[0] == table.primary_key[: len(fk[0])]]
    table.scope_fk = (direct or prefix or parents)[0]
    cols, parent, ref_cols = table.scope_fk
    if parent == ROOT:
        table.scope = f"t.{quote(cols[0])} = $1"
    else:
        left = ", ".join(f"t.{quote(c)}" for c in cols)
        right = ", ".join(f"t.{quote(c)}" for c in ref_cols)
        table.scope = f"({left}) IN (SELECT {right} FROM {quote(parent)} t WHERE {tables[parent].scope})"
    table.links = [fk for fk in parents if fk is not table.scope_fk and fk[1] != ROOT]
    table.links_inside = " AND ".join(_inside(fk, tables) for fk in table.links)

"""Versioned schema migrations: `NNNN_name.sql` files in this package, applied in order.

One transaction does it all: it takes a transaction-level advisory lock (so two servers
starting at once against an empty database don't race, and it works behind PgBouncer
in transaction mode), creates `schema_migrations` if needed, checks the checksum of
every migration already applied (a migration edited after it ran is an error), and
applies the pending ones."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from mcp_sessions.errors import SessionsError
from mcp_sessions.sql import QUERIES as Q

# An arbitrary constant that names "the mcp-sessions schema" among advisory locks.
MIGRATION_LOCK_ID = 7_311_412_095_231

_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")

BOOTSTRAP_SQL = """\
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);"""


class MigrationError(SessionsError):
    code = "migration_error"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def load_migrations() -> list[Migration]:
    found = []
    for entry in resources.files(__package__).iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version number: {versions}")
    return found


@dataclass(frozen=True)
class MigrationStatus:
    current_version: int
    applied: list[int]
    pending: list[Migration]


async def _applied(conn: asyncpg.Connection) -> dict[int, str]:
    exists = await conn.fetchval(Q["migrations_table_exists"])
    if not exists:
        return {}
    rows = await conn.fetch(Q["applied_migrations"])
    return {r["version"]: r["checksum"] for r in rows}


def _check(applied: dict[int, str], migrations: list[Migration]) -> list[Migration]:
    known = {m.version: m for m in migrations}
    for version, checksum in applied.items():
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d}, which this version of mcp-sessions does not "
                "know: it was migrated by a newer release; upgrade mcp-sessions"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{migration.name} was changed after it was applied "
                f"(checksum {checksum[:12]} in the database, {migration.checksum[:12]} in the package); "
                "migrations are immutable: add a new one instead"
            )
    return [m for m in migrations if m.version not in applied]


async def status(conn: asyncpg.Connection) -> MigrationStatus:
    migrations = load_migrations()
    applied = await _applied(conn)
    pending = _check(applied, migrations)
    return MigrationStatus(max(applied, default=0), sorted(applied), pending)


async def migrate(conn: asyncpg.Connection) -> list[Migration]:
    """Apply every pending migration; returns those applied. Safe to call concurrently."""
    migrations = load_migrations()
    # Nothing pending (every start but the first): no lock and no DDL, so a role without
    # CREATE can run on a current schema. A changed migration is still refused here.
    if not _check(await _applied(conn), migrations):
        return []
    async with conn.transaction():
        await conn.execute(Q["migration_lock"], MIGRATION_LOCK_ID)
        await conn.execute(BOOTSTRAP_SQL)
        pending = _check(await _applied(conn), migrations)
        for migration in pending:
            await conn.execute(migration.sql)
            await conn.execute(
                Q["record_migration"],
                migration.version,
                migration.name,
                migration.checksum,
            )
    return pending


def render_init_sql() -> str:
    """The whole schema as one psql-ready script: what database/init.sql holds."""
    parts = [
        "-- mcp-sessions schema, generated from mcp_sessions/migrations by `mcp-sessions db init-sql`.",
        "-- Do not edit: change the migrations and regenerate. A test checks the two agree.",
        "BEGIN;",
        f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID});",
        BOOTSTRAP_SQL,
    ]
    for m in load_migrations():
        parts.append(f"\n-- >>> migration {m.version:04d}_{m.name}\n")
        parts.append(m.sql.rstrip())
        parts.append(
            "INSERT INTO schema_migrations (version, name, checksum) "
            f"VALUES ({m.version}, '{m.name}', '{m.checksum}');"
        )
    parts.append("COMMIT;")
    return "\n".join(parts) + "\n"

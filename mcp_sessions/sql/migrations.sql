-- name: migrations_table_exists
SELECT to_regclass('schema_migrations') IS NOT NULL;

-- name: applied_migrations
SELECT version, checksum FROM schema_migrations ORDER BY version;

-- name: migration_lock
-- Transaction-level, so it works behind PgBouncer in transaction mode and can't leak.
SELECT pg_advisory_xact_lock($1);

-- name: record_migration
INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3);

-- What the operator CLI shows beyond the tools' own queries (mcp_sessions/store/overview.py).

-- name: recent_chunks
-- The newest chunks of a session, newest first.
SELECT session_id, chunk_id, format, size, extracted_items, created_by, created
FROM conversation_chunks WHERE session_id = $1
ORDER BY seq DESC
LIMIT $2;

-- name: table_sizes
-- Every table of our schema with its size on disk (indexes and TOAST included).
SELECT c.relname AS table_name, pg_total_relation_size(c.oid) AS total_bytes
FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY c.relname;

-- name: count_rows
-- Exact; {{table}} is a quoted identifier from table_sizes.
SELECT count(*) FROM {{table}};

-- name: database_size
SELECT current_database() AS name, pg_database_size(current_database()) AS bytes,
       current_setting('server_version') AS server_version;

-- name: backup_target
SELECT to_regclass('sessions') IS NOT NULL AS has_schema,
       current_setting('server_version_num')::int / 10000 AS major;

-- What the operator CLI shows beyond the tools' own queries (mcp_sessions/store/overview.py).

-- name: recent_chunks
-- The newest chunks of a session, newest first.
SELECT session_id, chunk_id, format, size, extracted_items, created_by, created
FROM conversation_chunks WHERE session_id = $1
ORDER BY seq DESC
LIMIT $2;

-- name: table_row_counts
-- Exact row counts of every table of our schema, without building SQL in Python.
SELECT c.relname AS table_name,
       (xpath('/row/n/text()',
              query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint
           AS row_count,
       pg_total_relation_size(c.oid) AS total_bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
ORDER BY c.relname;

-- name: database_size
SELECT current_database() AS name, pg_database_size(current_database()) AS bytes,
       current_setting('server_version') AS server_version;

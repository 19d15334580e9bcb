-- Export / import (mcp_sessions/archive). The catalog queries describe the tables, so
-- the archive follows the schema: a column someone adds is carried without a change here.
-- Templates take identifiers (already quoted) in place of {{table}}, {{columns}}, ...

-- name: archive_columns
-- Every column of every table in our schema; generated columns and GENERATED ALWAYS
-- identities are derived by the database, so they are neither exported nor inserted.
SELECT c.relname AS table_name, a.attname AS column_name,
       a.attgenerated <> '' AS generated, a.attidentity = 'a' AS identity_always,
       a.atttypid IN ('json'::regtype, 'jsonb'::regtype) AS is_json
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY c.relname, a.attnum;

-- name: archive_constraints
-- Primary keys and foreign keys, with their columns in key order.
SELECT con.contype::text AS kind, con.conname AS name, c.relname AS table_name, r.relname AS ref_table,
       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i) AS columns,
       array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) AS ref_columns
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
LEFT JOIN pg_class r ON r.oid = con.confrelid
WHERE con.contype IN ('p', 'f') AND c.relnamespace = current_schema()::regnamespace
ORDER BY c.relname, con.conname;

-- name: archive_session_ids
-- $1 the sessions asked for, NULL for all.
SELECT id FROM sessions WHERE ($1::text[] IS NULL OR id = ANY ($1)) ORDER BY id;

-- name: archive_export_session
-- The session row.
SELECT (to_jsonb(s) - $2::text[])::text
FROM sessions s WHERE s.id = $1;

-- name: archive_export_rows
-- One table's rows as JSON text: PostgreSQL writes it, so numbers, timestamps and
-- jsonb key order come out exactly as stored, and come out the same after a round trip.
SELECT (to_jsonb(t) - $2::text[])::text FROM {{table}} t WHERE {{scope}} ORDER BY {{order}};

-- name: archive_insert_row
-- $1 the row as JSON text. Rows already present are left as they are.
INSERT INTO {{table}} ({{columns}})
SELECT {{columns}} FROM jsonb_populate_record(NULL::{{table}}, $1::text::jsonb)
ON CONFLICT DO NOTHING
RETURNING true;

-- name: archive_upsert_agent
-- The archive's agent row wins unless this database saw the agent more recently;
-- an identical row is left alone (a second import writes nothing). {{updated}} leaves
-- out what an archive may not change in an agent this database already has.
INSERT INTO {{table}} AS t ({{columns}})
SELECT {{columns}} FROM jsonb_populate_record(NULL::{{table}}, $1::text::jsonb)
ON CONFLICT ({{key}}) DO UPDATE SET ({{updated}}) = ROW ({{excluded}})
    WHERE (t.last_seen IS NULL OR t.last_seen <= EXCLUDED.last_seen)
      AND ({{current}}) IS DISTINCT FROM ({{excluded}})
RETURNING true;

-- name: archive_owner_session
-- The session a row of {{table}} (named by its key) belongs to, NULL if it is not there.
SELECT t.{{session_column}} FROM {{table}} t WHERE ({{key}}) = ({{params}});

-- name: archive_forget_activity
-- Before committing a new session: its inserts do not count as activity (the triggers run
-- at COMMIT and read this), so its last_activity stays the archived one.
SELECT set_config('mcp_sessions.keep_activity_of', $1, true);

-- name: archive_schema_version
SELECT coalesce(max(version), 0) FROM schema_migrations;

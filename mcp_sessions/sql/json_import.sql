-- Queries of `import-json` (mcp_sessions/archive/json_store.py): what is already stored
-- under an id an old-store file uses, so nothing is skipped without saying why.

-- name: json_import_stored_chunk
SELECT content_sha256 FROM conversation_chunks WHERE session_id = $1 AND chunk_id = $2;

-- name: json_import_stored_memory
SELECT type, content, version FROM memories WHERE session_id = $1 AND key = $2;

-- name: json_import_stored_task
SELECT session_id, input_data FROM tasks WHERE id = $1;

-- name: json_import_stored_artifacts
-- The versions of one name ($1 session, $2 name), and whatever artifact has id $3.
SELECT id, session_id, name, version, content_sha256 FROM artifacts
WHERE (session_id = $1 AND name = $2) OR id = $3;

-- name: upsert_memory
INSERT INTO memories AS m (session_id, key, type, content, tags, created_by, updated_by)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (session_id, key) DO UPDATE SET
    type = EXCLUDED.type, content = EXCLUDED.content, tags = EXCLUDED.tags,
    version = m.version + 1, updated_by = EXCLUDED.updated_by, updated = now()
RETURNING session_id, key, type, content, tags, version, created_by, updated_by, created, updated;

-- name: insert_memory
INSERT INTO memories (session_id, key, type, content, tags, created_by, updated_by)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (session_id, key) DO NOTHING
RETURNING session_id, key, type, content, tags, version, created_by, updated_by, created, updated;

-- name: update_memory_if_version
UPDATE memories SET type = $3, content = $4, tags = $5, version = version + 1, updated_by = $6, updated = now()
WHERE session_id = $1 AND key = $2 AND version = $7
RETURNING session_id, key, type, content, tags, version, created_by, updated_by, created, updated;

-- name: get_memory
SELECT session_id, key, type, content, tags, version, created_by, updated_by, created, updated
FROM memories WHERE session_id = $1 AND key = $2;

-- name: delete_memory
DELETE FROM memories WHERE session_id = $1 AND key = $2 RETURNING key;

-- name: list_memories
-- Built with mcp_sessions.sql.build: a range scan of memories_session_created, or of
-- memories_session_type_created with a type; tags filter the same walk.
SELECT session_id, key, type, content, tags, version, created_by, updated_by, created, updated
FROM memories
WHERE session_id = :session_id
  AND type = :type  -- optional
  AND tags @> :tags::text[]  -- optional
  AND (created, key) > (:after_at::timestamptz, :after_key::text)  -- optional
ORDER BY created, key
LIMIT :limit;

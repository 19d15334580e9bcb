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
SELECT session_id, key, type, content, tags, version, created_by, updated_by, created, updated
FROM memories
WHERE session_id = $1
  AND ($2::text IS NULL OR type = $2)
  AND ($3::text[] IS NULL OR tags @> $3)
  AND ($4::timestamptz IS NULL OR (created, key) > ($4, $5))
ORDER BY created, key
LIMIT $6;

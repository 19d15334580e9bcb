-- name: insert_chunk
INSERT INTO conversation_chunks
    (session_id, chunk_id, content, size, content_sha256, format, extracted_items, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (session_id, chunk_id) DO NOTHING
RETURNING session_id, chunk_id, format, size, extracted_items, created_by, created;

-- name: get_chunk_meta
SELECT session_id, chunk_id, format, size, extracted_items, created_by, created, content_sha256
FROM conversation_chunks WHERE session_id = $1 AND chunk_id = $2;

-- name: get_chunk_slice
-- Offsets are in characters; substr counts from 1.
SELECT session_id, chunk_id, format, size, substr(content, $3 + 1, $4) AS content
FROM conversation_chunks WHERE session_id = $1 AND chunk_id = $2;

-- name: list_chunks
-- Built with mcp_sessions.sql.build: a range scan of conversation_chunks_session_seq.
SELECT session_id, chunk_id, format, size, extracted_items, created_by, created, seq
FROM conversation_chunks
WHERE session_id = :session_id
  AND seq > :after_seq::bigint  -- optional
ORDER BY seq
LIMIT :limit;

-- name: insert_session
INSERT INTO sessions (id, title, participants, metadata, created_by)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO NOTHING
RETURNING id, title, participants, status, metadata, created_by, created, last_activity;

-- name: get_session
SELECT id, title, participants, status, metadata, created_by, created,
       session_last_activity(id, last_activity) AS last_activity
FROM sessions WHERE id = $1;

-- name: session_exists
SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1);

-- name: lock_session_for_update
SELECT id FROM sessions WHERE id = $1 FOR NO KEY UPDATE;

-- name: update_session
-- $3 add_participants (jsonb array): appended, keeping order, without duplicates.
-- $4 metadata: merged into the existing object (a key set to null is removed).
UPDATE sessions SET
    title = coalesce($2, title),
    status = coalesce($5, status),
    participants = coalesce(
        (SELECT jsonb_agg(p ORDER BY first_seen)
         FROM (SELECT p, min(ord) AS first_seen
               FROM jsonb_array_elements_text(participants || $3::jsonb) WITH ORDINALITY AS x(p, ord)
               GROUP BY p) d),
        '[]'::jsonb),
    metadata = CASE WHEN $4::jsonb IS NULL THEN metadata
                    ELSE jsonb_strip_nulls(metadata || $4::jsonb) END,
    last_activity = now()
WHERE id = $1
RETURNING id, title, participants, status, metadata, created_by, created,
          session_last_activity(id, last_activity) AS last_activity;

-- name: session_counts
SELECT
    (SELECT count(*) FROM conversation_chunks WHERE session_id = $1) AS chunks,
    (SELECT count(*) FROM memories WHERE session_id = $1) AS memories,
    (SELECT count(*) FROM artifacts WHERE session_id = $1) AS artifacts,
    (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
       FROM (SELECT status, count(*) AS n FROM tasks WHERE session_id = $1 GROUP BY status) t) AS tasks_by_status;

-- name: list_sessions
-- Newest activity first. Keyset: ($4 last_activity, $5 id) of the previous page's last row.
SELECT * FROM (
    SELECT id, title, participants, status, metadata, created_by, created,
           session_last_activity(id, last_activity) AS last_activity
    FROM sessions
    WHERE ($1::text IS NULL OR status = $1)
      AND ($2::text IS NULL OR participants @> jsonb_build_array($2::text))
) s
WHERE ($4::timestamptz IS NULL OR (last_activity, id) < ($4, $5))
ORDER BY last_activity DESC, id DESC
LIMIT $3;

-- name: insert_session
INSERT INTO sessions (id, title, participants, metadata, created_by)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO NOTHING
RETURNING id, title, participants, status, metadata, created_by, created, last_activity;

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
-- with the counts, as session_summaries has them: one round trip
RETURNING id, title, participants, status, metadata, created_by, created, last_activity,
    (SELECT count(*) FROM conversation_chunks c WHERE c.session_id = sessions.id) AS chunks,
    (SELECT count(*) FROM memories m WHERE m.session_id = sessions.id) AS memories,
    (SELECT count(*) FROM artifacts a WHERE a.session_id = sessions.id) AS artifacts,
    (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
       FROM (SELECT t.status, count(*) AS n FROM tasks t WHERE t.session_id = sessions.id GROUP BY t.status) t
    ) AS tasks_by_status;

-- name: session_counts
SELECT
    (SELECT count(*) FROM conversation_chunks WHERE session_id = $1) AS chunks,
    (SELECT count(*) FROM memories WHERE session_id = $1) AS memories,
    (SELECT count(*) FROM artifacts WHERE session_id = $1) AS artifacts,
    (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
       FROM (SELECT status, count(*) AS n FROM tasks WHERE session_id = $1 GROUP BY status) t) AS tasks_by_status;

-- name: session_summaries
-- get_session and list_sessions (built with mcp_sessions.sql.build): sessions with the
-- counts of what they hold, in one query. Newest activity first, read backwards off
-- sessions_activity (or sessions_status_activity); the keyset cursor is the previous
-- page's last (last_activity, id). The counts run for the page's rows only.
SELECT s.id, s.title, s.participants, s.status, s.metadata, s.created_by, s.created, s.last_activity,
       (SELECT count(*) FROM conversation_chunks c WHERE c.session_id = s.id) AS chunks,
       (SELECT count(*) FROM memories m WHERE m.session_id = s.id) AS memories,
       (SELECT count(*) FROM artifacts a WHERE a.session_id = s.id) AS artifacts,
       (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
          FROM (SELECT t.status, count(*) AS n FROM tasks t WHERE t.session_id = s.id GROUP BY t.status) t
       ) AS tasks_by_status
FROM (
    SELECT * FROM sessions
    WHERE true
      AND id = :id  -- optional
      AND status = :status  -- optional
      AND participants @> jsonb_build_array(:participant::text)  -- optional
      AND (last_activity, id) < (:after_at::timestamptz, :after_id::text)  -- optional
    ORDER BY last_activity DESC, id DESC
    LIMIT :limit
) s
ORDER BY s.last_activity DESC, s.id DESC;

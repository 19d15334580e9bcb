-- The dashboard's reads (mcp_sessions/ui). Every one is bounded: a session of 10,000
-- tasks and 100,000 events renders from a few index ranges.

-- name: ui_session
SELECT id, title, status, participants, created_by, created, last_activity FROM sessions WHERE id = $1;

-- name: ui_task_counts
SELECT status, count(*)::int AS n FROM tasks WHERE session_id = $1 GROUP BY status;

-- name: ui_board
-- The newest $2 tasks of each status, with what blocks them and the lease left.
SELECT st.status, t.*
FROM unnest(ARRAY['pending', 'claimed', 'running', 'completed', 'failed', 'cancelled']) AS st(status)
CROSS JOIN LATERAL (
    SELECT t.id, t.title, t.task_type, t.priority, t.attempts, t.max_attempts, t.claimed_by, t.agent_name,
           t.blocked_by, t.error, t.updated,
           greatest(0, extract(epoch FROM t.lease_expires_at - now()))::int AS lease_left,
           CASE WHEN t.blocked_by > 0 THEN ARRAY(
               SELECT d.depends_on FROM task_dependencies d JOIN tasks dt ON dt.id = d.depends_on
               WHERE d.task_id = t.id AND dt.status <> 'completed' ORDER BY d.depends_on LIMIT 5)
           END AS blockers
    FROM tasks t
    WHERE t.session_id = $1 AND t.status = st.status
    ORDER BY t.created DESC, t.id DESC
    LIMIT $2
) t;

-- name: ui_timeline
-- The newest events of a session (the events_session index, backwards).
SELECT event_json(e) AS e FROM events e
WHERE e.session_id = $1
ORDER BY e.xid DESC, e.id DESC LIMIT $2;

-- name: ui_timeline_before
-- An older page: the events before position ($2, $3).
SELECT event_json(e) AS e FROM events e
WHERE e.session_id = $1 AND (e.xid, e.id) < ($2::bigint, $3::bigint)
ORDER BY e.xid DESC, e.id DESC LIMIT $4;

-- name: ui_memories
SELECT key, type, content, tags, version, updated_by, updated FROM memories
WHERE session_id = $1 ORDER BY type, updated DESC LIMIT $2;

-- name: ui_artifacts
-- Every name with its versions (newest first), newest names first.
SELECT name, max(version) AS latest, max(created) AS updated,
       array_agg(version ORDER BY version DESC) AS versions,
       (array_agg(type ORDER BY version DESC))[1] AS type,
       (array_agg(created_by ORDER BY version DESC))[1] AS created_by
FROM artifacts WHERE session_id = $1
GROUP BY name ORDER BY max(created) DESC LIMIT $2;

-- name: ui_artifact_version
SELECT name, version, type, format, content, size, created_by, created FROM artifacts
WHERE session_id = $1 AND name = $2 AND version = $3;

-- name: ui_artifact_versions
SELECT version, size, created_by, created FROM artifacts
WHERE session_id = $1 AND name = $2 ORDER BY version DESC;

-- name: ui_chunk_count
SELECT count(*)::int FROM conversation_chunks WHERE session_id = $1;

-- name: ui_chunks
SELECT chunk_id, seq, format, content, size, created_by, created FROM conversation_chunks
WHERE session_id = $1 ORDER BY seq OFFSET $2 LIMIT $3;

-- name: ui_chunk_position
SELECT count(*)::int FROM conversation_chunks
WHERE session_id = $1 AND seq < (SELECT seq FROM conversation_chunks WHERE session_id = $1 AND chunk_id = $2);

-- name: ui_messages
-- The newest messages of a session, every one (an operator sees direct messages too).
SELECT id, coalesce(thread_id, id) AS thread, created_by, recipients, subject, body, importance, created
FROM messages WHERE session_id = $1 ORDER BY seq DESC LIMIT $2;

-- name: ui_agent_counts
-- Completed and failed tasks by the agent that last held them.
SELECT claimed_by AS agent, count(*) FILTER (WHERE status = 'completed')::int AS completed,
       count(*) FILTER (WHERE status = 'failed')::int AS failed
FROM tasks WHERE claimed_by = ANY($1::text[]) AND status IN ('completed', 'failed')
GROUP BY claimed_by;

-- name: ui_queue_now
SELECT status, count(*)::int AS n FROM tasks GROUP BY status;

-- name: ui_queue_history
-- Per minute over the last $1 minutes: tasks open (created, not finished) split into
-- held (claimed by then) and waiting, and tasks completed and failed in that minute.
WITH minutes AS (
    SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => $1 - 1),
                           date_trunc('minute', now()), interval '1 minute') AS m
), recent AS (
    SELECT created, claimed_at, finished_at, status FROM tasks
    WHERE finished_at IS NULL OR finished_at > now() - make_interval(mins => $1 + 1)
)
SELECT extract(epoch FROM m.m)::bigint AS t,
       count(*) FILTER (WHERE r.created < m.m + interval '1 minute'
                          AND (r.finished_at IS NULL OR r.finished_at >= m.m + interval '1 minute')
                          AND (r.claimed_at IS NULL OR r.claimed_at >= m.m + interval '1 minute'))::int AS waiting,
       count(*) FILTER (WHERE r.created < m.m + interval '1 minute'
                          AND (r.finished_at IS NULL OR r.finished_at >= m.m + interval '1 minute')
                          AND r.claimed_at < m.m + interval '1 minute')::int AS held,
       count(*) FILTER (WHERE r.status = 'completed' AND r.finished_at >= m.m
                          AND r.finished_at < m.m + interval '1 minute')::int AS completed,
       count(*) FILTER (WHERE r.status = 'failed' AND r.finished_at >= m.m
                          AND r.finished_at < m.m + interval '1 minute')::int AS failed
FROM minutes m LEFT JOIN recent r ON r.created < m.m + interval '1 minute'
GROUP BY m.m ORDER BY m.m;

-- name: ui_oldest_waiting
SELECT id, session_id, title, task_type, priority, created, blocked_by,
       extract(epoch FROM now() - created)::int AS waited
FROM tasks WHERE status = 'pending' ORDER BY created, id LIMIT $1;

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
-- Tasks each agent completed, and failed for good, in the last $2 minutes: from the
-- event feed's newest block ranges (BRIN on at), not a scan of every task ever run.
SELECT agent, count(*) FILTER (WHERE kind = 'task.completed')::int AS completed,
       count(*) FILTER (WHERE kind = 'task.failed' AND detail->>'retry' = 'false')::int AS failed
FROM events
WHERE at > now() - make_interval(mins => $2) AND kind IN ('task.completed', 'task.failed')
  AND agent = ANY($1::text[])
GROUP BY agent;

-- name: ui_queue_now
-- Open tasks by status: the unfinished ones, a partial index's range (what finished
-- lately is counted per minute by ui_queue_history).
SELECT status, count(*)::int AS n FROM tasks WHERE finished_at IS NULL GROUP BY status;

-- name: ui_queue_history
-- Per minute over the last $1 minutes: tasks open at the minute's end (created, not
-- finished) split into held (claimed by then) and waiting, and tasks completed, failed
-- and cancelled in that minute. It reads the unfinished tasks and those that finished in the window
-- (found through the event feed), never the whole table; and it is linear in them: each
-- task adds +1 to a count in the minute it starts waiting (or is held) and -1 in the
-- minute that ends (a span begun before the window counts from its first minute), and a
-- running sum over the minutes gives the counts.
WITH minutes AS (
    SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => $1 - 1),
                           date_trunc('minute', now()), interval '1 minute') AS m
), window_start AS (
    SELECT date_trunc('minute', now()) - make_interval(mins => $1 - 1) AS first
), ended AS (
    SELECT DISTINCT coalesce(ref, detail->>'task_id') AS id FROM events
    WHERE at > now() - make_interval(mins => $1 + 1)
      AND kind IN ('task.completed', 'task.failed', 'task.cancelled')
), recent AS (
    SELECT created, claimed_at, finished_at, status FROM tasks WHERE finished_at IS NULL
    UNION ALL
    SELECT t.created, t.claimed_at, t.finished_at, t.status FROM ended e JOIN tasks t ON t.id = e.id
    WHERE t.finished_at > now() - make_interval(mins => $1 + 1)
), steps AS (
    SELECT created AS at, 1 AS waiting, 0 AS held FROM recent
    UNION ALL
    SELECT least(claimed_at, finished_at), -1, 0 FROM recent WHERE least(claimed_at, finished_at) IS NOT NULL
    UNION ALL
    SELECT claimed_at, 0, 1 FROM recent WHERE claimed_at IS NOT NULL
    UNION ALL
    SELECT finished_at, 0, -1 FROM recent WHERE claimed_at IS NOT NULL AND finished_at IS NOT NULL
), per_minute AS (
    SELECT greatest(date_trunc('minute', s.at), w.first) AS m, sum(s.waiting) AS waiting, sum(s.held) AS held
    FROM steps s, window_start w GROUP BY 1
), finished AS (
    SELECT date_trunc('minute', finished_at) AS m,
           count(*) FILTER (WHERE status = 'completed') AS completed,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status = 'cancelled') AS cancelled
    FROM recent, window_start w WHERE finished_at >= w.first GROUP BY 1
)
SELECT extract(epoch FROM mi.m)::bigint AS t,
       (sum(coalesce(p.waiting, 0)) OVER (ORDER BY mi.m))::int AS waiting,
       (sum(coalesce(p.held, 0)) OVER (ORDER BY mi.m))::int AS held,
       coalesce(f.completed, 0)::int AS completed,
       coalesce(f.failed, 0)::int AS failed,
       coalesce(f.cancelled, 0)::int AS cancelled
FROM minutes mi
LEFT JOIN per_minute p ON p.m = mi.m
LEFT JOIN finished f ON f.m = mi.m
ORDER BY mi.m;

-- name: ui_oldest_waiting
SELECT id, session_id, title, task_type, priority, created, blocked_by,
       extract(epoch FROM now() - created)::int AS waited
FROM tasks WHERE finished_at IS NULL AND status = 'pending' ORDER BY created, id LIMIT $1;

-- catch_up: a session at a glance (store/catch_up.py). Each query is bounded: a list of
-- at most $2 rows plus the total it was cut from.

-- name: catch_up_session
SELECT id, title, status, created_by, created, last_activity,
       participants
FROM sessions WHERE id = $1;

-- name: catch_up_participants
-- $1 session, $2 its listed participants, $3 seconds that count as alive, $4 at most.
-- Who: the listed participants and whoever wrote the session's latest 500 events.
-- last_seen: the later of the registry's (claims, heartbeats, messages) and their last event here.
WITH recent AS (
    SELECT e.agent, max(e.at) AS at
    FROM (SELECT agent, at FROM events WHERE session_id = $1 ORDER BY xid DESC, id DESC LIMIT 500) e
    WHERE e.agent IS NOT NULL
    GROUP BY e.agent
), names AS (
    SELECT unnest($2::text[]) AS name UNION SELECT agent FROM recent
), seen AS (
    SELECT n.name, greatest(a.last_seen, r.at) AS last_seen
    FROM names n LEFT JOIN agents a ON a.name = n.name LEFT JOIN recent r ON r.agent = n.name
)
SELECT s.name, s.last_seen,
       coalesce(s.last_seen > now() - make_interval(secs => $3), false)
       OR EXISTS (SELECT 1 FROM tasks t WHERE t.session_id = $1 AND t.claimed_by = s.name
                  AND t.status IN ('claimed', 'running') AND t.lease_expires_at > now()) AS alive,
       count(*) OVER () AS total
FROM seen s
ORDER BY s.last_seen DESC NULLS LAST, s.name
LIMIT $4;

-- name: catch_up_open_tasks
SELECT id, left(title, 120) AS title, status, claimed_by AS holder, agent_name, blocked_by,
       count(*) OVER () AS total
FROM tasks
WHERE session_id = $1 AND status IN ('pending', 'claimed', 'running')
ORDER BY status = 'pending', priority DESC, created, id
LIMIT $2;

-- name: catch_up_memories
-- Decisions, action items, risks and questions first, then the newest.
SELECT key, type, version,
       left(CASE jsonb_typeof(content) WHEN 'string' THEN content #>> '{}' ELSE content::text END, 200) AS preview,
       count(*) OVER () AS total
FROM memories
WHERE session_id = $1
ORDER BY type NOT IN ('decision', 'action_item', 'risk', 'question'),
         array_position(ARRAY['decision', 'action_item', 'risk', 'question'], type), updated DESC, key
LIMIT $2;

-- name: catch_up_artifacts
-- The latest version of each name, newest first.
SELECT name, version, type, size, created_by, count(*) OVER () AS total
FROM (SELECT DISTINCT ON (name) name, version, type, size, created_by, created
      FROM artifacts WHERE session_id = $1 ORDER BY name, version DESC) a
ORDER BY created DESC, name
LIMIT $2;

-- name: catch_up_chunks
-- The newest chunks with their first non-blank line (read from the first 1000
-- characters only: a chunk may be megabytes).
SELECT chunk_id, format, size,
       left(split_part(ltrim(substr(content, 1, 1000), E' \t\r\n'), E'\n', 1), 120) AS first_line,
       (SELECT count(*) FROM conversation_chunks c2 WHERE c2.session_id = $1) AS total
FROM conversation_chunks
WHERE session_id = $1
ORDER BY seq DESC
LIMIT $2;

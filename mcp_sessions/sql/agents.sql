-- name: upsert_agent
INSERT INTO agents AS a (name, type, command, capabilities, status, last_seen)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (name) DO UPDATE SET
    type = EXCLUDED.type, command = EXCLUDED.command, capabilities = EXCLUDED.capabilities,
    status = EXCLUDED.status, last_seen = now()
RETURNING name, type, command, capabilities, status, created, last_seen,
          last_seen > now() - make_interval(secs => $6) AS alive, ARRAY[]::text[] AS holds;

-- name: agent_seen
-- Any call by a registered agent is a sign of life: at most once per $2 seconds.
UPDATE agents SET last_seen = now()
WHERE name = $1 AND (last_seen IS NULL OR last_seen < now() - make_interval(secs => $2));

-- name: list_agents
-- A page by name (built with mcp_sessions.sql.build: only the filters given).
-- alive: seen (claim, heartbeat, registration) within :alive_seconds, or holding a live lease.
-- holds: the tasks it has claimed whose lease has not run out (at most 50 each). One pass
-- over the unfinished tasks (tasks_claimable; a held task is never blocked) for the
-- agents of the page: no index follows claimed_by, so that a claim stays an in-place update.
WITH page AS (
    SELECT * FROM agents a
    WHERE true
      AND a.status = :status                    -- optional
      AND a.name > :after_name                  -- optional
    ORDER BY a.name
    LIMIT :limit                                -- optional
), held AS (
    SELECT claimed_by, id, row_number() OVER (PARTITION BY claimed_by ORDER BY claimed_at, id) AS n
    FROM tasks
    WHERE finished_at IS NULL AND blocked_by = 0
      AND status IN ('claimed', 'running') AND lease_expires_at > now()
      AND claimed_by IN (SELECT name FROM page)
), holds AS (
    SELECT claimed_by, array_agg(id ORDER BY n) AS ids FROM held WHERE n <= 50 GROUP BY claimed_by
)
SELECT a.name, a.type, a.command, a.capabilities, a.status, a.created, a.last_seen,
       coalesce(a.last_seen > now() - make_interval(secs => :alive_seconds), false) OR h.ids IS NOT NULL AS alive,
       coalesce(h.ids, ARRAY[]::text[]) AS holds
FROM page a
LEFT JOIN holds h ON h.claimed_by = a.name
ORDER BY a.name;

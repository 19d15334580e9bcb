-- name: upsert_agent
INSERT INTO agents AS a (name, type, command, capabilities, status, last_seen)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (name) DO UPDATE SET
    type = EXCLUDED.type, command = EXCLUDED.command, capabilities = EXCLUDED.capabilities,
    status = EXCLUDED.status, last_seen = now()
RETURNING name, type, command, capabilities, status, created, last_seen,
          last_seen > now() - make_interval(secs => $6) AS alive, ARRAY[]::text[] AS holds;

-- name: list_agents
-- alive: seen (claim, heartbeat, registration) within $2 seconds, or holding a live lease.
-- holds: the tasks it has claimed whose lease has not run out.
SELECT a.name, a.type, a.command, a.capabilities, a.status, a.created, a.last_seen,
       coalesce(a.last_seen > now() - make_interval(secs => $2), false) OR h.ids IS NOT NULL AS alive,
       coalesce(h.ids, ARRAY[]::text[]) AS holds
FROM agents a
LEFT JOIN LATERAL (
    SELECT array_agg(t.id ORDER BY t.claimed_at) AS ids FROM (
        SELECT id, claimed_at FROM tasks
        WHERE claimed_by = a.name AND status IN ('claimed', 'running') AND lease_expires_at > now()
        ORDER BY claimed_at LIMIT 50
    ) t
) h ON h.ids IS NOT NULL
WHERE ($1::text IS NULL OR a.status = $1)
ORDER BY a.name;

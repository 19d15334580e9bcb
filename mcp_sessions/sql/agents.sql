-- name: upsert_agent
INSERT INTO agents AS a (name, type, command, capabilities, status, last_seen)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (name) DO UPDATE SET
    type = EXCLUDED.type, command = EXCLUDED.command, capabilities = EXCLUDED.capabilities,
    status = EXCLUDED.status, last_seen = now()
RETURNING name, type, command, capabilities, status, created, last_seen;

-- name: list_agents
SELECT name, type, command, capabilities, status, created, last_seen
FROM agents WHERE ($1::text IS NULL OR status = $1)
ORDER BY name;

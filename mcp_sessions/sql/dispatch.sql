-- The dispatcher (mcp_sessions/dispatch): what it reads besides the task lifecycle.

-- name: dispatch_agents
SELECT name, command FROM agents WHERE name = ANY ($1::text[]);

-- name: dispatch_claim_state
-- Is this attempt still ours? (cancel_task, requeue and lease recovery all clear the token)
SELECT status, claim_token::text AS token FROM tasks WHERE id = $1;

-- name: dispatch_agent_status
-- busy while the agent holds a live lease (from this dispatcher or another), else available.
-- Reads only the live leases (tasks_lease_expiry), never the whole table.
UPDATE agents SET status = CASE WHEN EXISTS (
        SELECT 1 FROM tasks t
        WHERE t.status IN ('claimed', 'running') AND t.lease_expires_at > now() AND t.claimed_by = $1)
    THEN 'busy' ELSE 'available' END,
    last_seen = now()
WHERE name = $1 AND status IN ('available', 'busy')
RETURNING status;

-- name: insert_token
INSERT INTO agent_tokens (id, agent, token_sha256, operator) VALUES ($1, $2, $3, $4)
RETURNING id, agent, created, last_used, revoked_at, operator;

-- name: token_for_id
SELECT agent, token_sha256, revoked_at, operator FROM agent_tokens WHERE id = $1;

-- name: touch_token
-- At most one write a minute per token: last_used is for `tokens list`, not an audit log.
UPDATE agent_tokens SET last_used = now()
WHERE id = $1 AND (last_used IS NULL OR last_used < now() - interval '1 minute');

-- name: list_tokens
SELECT id, agent, created, last_used, revoked_at, operator FROM agent_tokens
WHERE ($1::text IS NULL OR agent = $1) AND ($2 OR revoked_at IS NULL)
ORDER BY agent, created, id;

-- name: revoke_token
UPDATE agent_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
RETURNING id, agent, created, last_used, revoked_at, operator;

-- name: revoke_agent_tokens
UPDATE agent_tokens SET revoked_at = now() WHERE agent = $1 AND revoked_at IS NULL
RETURNING id, agent, created, last_used, revoked_at, operator;

-- name: token_exists
SELECT revoked_at FROM agent_tokens WHERE id = $1;

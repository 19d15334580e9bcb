-- 0004_auth: per-agent bearer tokens for the HTTP transport.
-- Only a SHA-256 of each token is stored (tokens are 256 random bits, so a fast hash
-- is enough: there is nothing to brute-force). The public id is part of the token,
-- so verification is a primary-key lookup followed by a constant-time compare.

CREATE TABLE agent_tokens (
    id           text PRIMARY KEY,
    agent        text NOT NULL CHECK (length(agent) BETWEEN 1 AND 100),
    token_sha256 bytea NOT NULL CHECK (length(token_sha256) = 32),
    created      timestamptz NOT NULL DEFAULT now(),
    last_used    timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX agent_tokens_agent ON agent_tokens (agent, created);

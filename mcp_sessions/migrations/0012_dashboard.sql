-- 0012_dashboard: operator tokens for the dashboard (/ui/).
-- An operator token signs a person in to the dashboard; it is not an agent's token
-- (the MCP endpoint refuses it), and an agent's token does not sign in to the dashboard.
ALTER TABLE agent_tokens ADD COLUMN operator boolean NOT NULL DEFAULT false;

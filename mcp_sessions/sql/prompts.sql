-- What the prompts fill in (mcp_sessions/prompts.py).

-- name: claimable_by_type
-- What claim_task would hand this agent now, by task type.
SELECT task_type, count(*) AS n FROM task_queue
WHERE agent_name IS NULL OR agent_name = $1
GROUP BY task_type ORDER BY task_type;

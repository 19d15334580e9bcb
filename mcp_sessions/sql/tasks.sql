-- name: insert_task
INSERT INTO tasks (session_id, task_type, agent_name, title, input_data, priority, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING *;

-- name: claim_task
-- The same SQL function psql users call: SELECT * FROM claim_task('codex');
SELECT * FROM claim_task($1, $2, $3, $4);

-- name: get_task
SELECT * FROM tasks WHERE id = $1;

-- name: complete_task
UPDATE tasks SET status = 'completed', output_data = $3, lease_expires_at = NULL,
                 finished_at = now(), updated = now()
WHERE id = $1 AND claim_token = $2 AND status IN ('claimed', 'running') AND lease_expires_at > now()
RETURNING *;

-- name: fail_task
UPDATE tasks SET status = 'failed', error = $3, lease_expires_at = NULL,
                 finished_at = now(), updated = now()
WHERE id = $1 AND claim_token = $2 AND status IN ('claimed', 'running') AND lease_expires_at > now()
RETURNING *;

-- name: list_tasks
SELECT * FROM tasks
WHERE ($1::text IS NULL OR session_id = $1)
  AND ($2::text IS NULL OR status = $2)
  AND ($3::text IS NULL OR agent_name = $3)
  AND ($4::timestamptz IS NULL OR (created, id) > ($4, $5))
ORDER BY created, id
LIMIT $6;

-- name: task_claim_state
SELECT claim_token::text AS token, lease_expires_at < now() AS expired FROM tasks WHERE id = $1;

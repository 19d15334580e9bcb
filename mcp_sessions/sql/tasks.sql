-- Tasks. Every lifecycle step is a SQL function of 0003_task_queue (one round trip,
-- the same semantics for psql users); these are the calls the store makes.

-- name: insert_task
-- A repeated idempotency_key in one session inserts nothing (the caller reads the existing task).
INSERT INTO tasks (session_id, task_type, agent_name, title, input_data, priority, created_by,
                   run_after, max_attempts, idempotency_key, blocked_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, now()), $9, $10, $11)
ON CONFLICT (session_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *;

-- name: task_by_idempotency_key
SELECT * FROM tasks WHERE session_id = $1 AND idempotency_key = $2;

-- name: lock_dependencies
-- Locked: a dependency can't complete or fail between this count and our commit, so the
-- new task's blocked_by is exact. FOR NO KEY UPDATE, not FOR SHARE, because inserting the
-- dependency marks the parent (has_dependents): two creates sharing a parent take turns
-- instead of deadlocking on that update.
SELECT id, status FROM tasks WHERE id = ANY ($1::text[]) ORDER BY id FOR NO KEY UPDATE;

-- name: insert_dependencies
INSERT INTO task_dependencies (task_id, depends_on) SELECT $1, unnest($2::text[]);

-- name: claim_task
-- The same SQL function psql users call: SELECT * FROM claim_task('codex');
SELECT * FROM claim_task($1, $2, $3, $4);

-- name: heartbeat_task
-- The lifecycle steps answer with what they changed (TaskState): less to send and decode.
SELECT id, status, attempts, max_attempts, run_after, lease_expires_at, error FROM heartbeat_task($1, $2, $3, $4);

-- name: start_task
SELECT id, status, attempts, max_attempts, run_after, lease_expires_at, error FROM start_task($1, $2, $3, $4);

-- name: complete_task
SELECT id, status, attempts, max_attempts, run_after, lease_expires_at, error FROM complete_task($1, $2, $3, $4);

-- name: complete_task_claim_next
-- complete_task, then claim_task for the agent that held the completed task, in one
-- statement: one round trip and one commit for a worker's "done, next" loop. claim_task
-- runs only when the completion applied (no row: it did not) and sees its effects (a
-- dependent it unblocked is claimable). The next_* columns are NULL when nothing was
-- claimable. The holder comes last ($7), as in the other steps.
SELECT c.id, c.status, c.attempts, c.max_attempts, c.run_after, c.lease_expires_at, c.error,
       n.id AS next_id, n.session_id AS next_session_id, n.title AS next_title,
       n.agent_name AS next_agent_name, n.task_type AS next_task_type, n.status AS next_status,
       n.priority AS next_priority, n.input_data AS next_input_data, n.output_data AS next_output_data,
       n.error AS next_error, n.process_id AS next_process_id, n.attempts AS next_attempts,
       n.max_attempts AS next_max_attempts, n.run_after AS next_run_after, n.blocked_by AS next_blocked_by,
       n.idempotency_key AS next_idempotency_key, n.claimed_by AS next_claimed_by, n.claimed_at AS next_claimed_at,
       n.lease_expires_at AS next_lease_expires_at, n.created_by AS next_created_by, n.created AS next_created,
       n.updated AS next_updated, n.finished_at AS next_finished_at, n.claim_token AS next_claim_token
FROM complete_task($1, $2, $3, $7) c
LEFT JOIN LATERAL claim_task(c.claimed_by, $4, $5, $6) n ON true;

-- name: fail_task
SELECT id, status, attempts, max_attempts, run_after, lease_expires_at, error FROM fail_task($1, $2, $3, $4, $5);

-- name: cancel_task
SELECT * FROM cancel_task($1, $2, $3);

-- name: requeue_task
SELECT * FROM requeue_task($1, $2);

-- name: recover_expired_tasks
SELECT recover_expired_tasks($1);

-- name: get_task
SELECT * FROM tasks WHERE id = $1;

-- name: task_dependencies_of
SELECT depends_on FROM task_dependencies WHERE task_id = $1 ORDER BY depends_on;

-- name: failed_dependencies_of
SELECT dep.id, dep.status FROM task_dependencies d JOIN tasks dep ON dep.id = d.depends_on
WHERE d.task_id = $1 AND dep.status IN ('failed', 'cancelled');

-- name: task_history
-- The most recent transitions, oldest first; details cut so one answer stays small.
SELECT at, event, agent, attempt, left(detail, 1000) AS detail
FROM (SELECT * FROM task_events WHERE task_id = $1 ORDER BY id DESC LIMIT $2) e
ORDER BY id;

-- name: list_tasks
-- Built with mcp_sessions.sql.build: oldest first, a range scan of tasks_session_created
-- (a session), tasks_agent_created (a target agent), tasks_unfinished_created (pending,
-- claimed or running: :unfinished is true) or tasks_created; the status filters that walk.
SELECT * FROM tasks
WHERE true
  AND session_id = :session_id  -- optional
  AND agent_name = :agent_name  -- optional
  AND finished_at IS NULL AND :unfinished::boolean  -- optional
  AND status = :status  -- optional
  AND (created, id) > (:after_at::timestamptz, :after_id::text)  -- optional
ORDER BY created, id
LIMIT :limit;

-- name: task_claim_state
SELECT claim_token::text AS token, lease_expires_at < now() AS expired FROM tasks WHERE id = $1;

-- name: register_waiter
INSERT INTO task_waiters (waiter_id, channel, listener_pid, agent, session_id, task_types, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
-- again after a lost listener: the row now names the new one
ON CONFLICT (waiter_id) DO UPDATE SET listener_pid = EXCLUDED.listener_pid, expires_at = EXCLUDED.expires_at;

-- name: unregister_waiter
DELETE FROM task_waiters WHERE waiter_id = $1;

-- name: sweep_waiters
-- Waiters past their deadline, or whose server's listening connection is gone.
DELETE FROM task_waiters w
WHERE w.expires_at < now() OR NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(w.listener_pid));

-- name: listener_ping
-- Is the LISTEN connection still there? (it can die without a word)
SELECT 1;

-- name: task_by_idempotency_key_id
-- Whether a delivery's task exists already (the webhook relay answers 200, not 201).
SELECT id FROM tasks WHERE session_id = $1 AND idempotency_key = $2;

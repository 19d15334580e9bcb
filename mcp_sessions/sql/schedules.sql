-- Recurring tasks (0011_orchestration).

-- name: insert_schedule
INSERT INTO schedules (session_id, cron, timezone, task_type, title, agent_name, priority, input_data,
                       max_attempts, next_due, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING *;

-- name: list_schedules
SELECT * FROM schedules WHERE ($1::text IS NULL OR session_id = $1) ORDER BY created, id LIMIT $2;

-- name: delete_schedule
DELETE FROM schedules WHERE id = $1 RETURNING *;

-- name: due_schedules
-- The sweep's batch: locked, so a second server sweeping at the same moment skips them
-- (and then finds them no longer due). now() is the database's clock, the same for all.
SELECT s.*, now() AS now FROM schedules s
WHERE s.next_due <= now()
ORDER BY s.next_due
LIMIT $1
FOR UPDATE SKIP LOCKED;

-- name: advance_schedule
UPDATE schedules SET next_due = $2, last_due = $3, last_task_id = $4 WHERE id = $1;

-- name: schedule_clock
-- The database's clock: every server computes due times from the same one.
SELECT now();

-- name: tasks_by_status
-- Queue depth for /metrics: one row per status that has tasks.
SELECT status, count(*) AS n FROM tasks GROUP BY status;

-- 0011_orchestration: recurring tasks (schedule_task).
--
-- A schedule holds a cron expression and the task it makes. next_due is its next
-- occurrence not yet turned into a task. The periodic sweep every server process runs
-- (store/task_waiter.py) locks the due schedules (FOR UPDATE SKIP LOCKED), creates one
-- task per schedule with the idempotency key 'schedule:<id>:<due time>' and moves
-- next_due past now(). The lock makes two servers take turns; the key on tasks
-- (tasks_idempotency, per session) makes a second task for the same due time
-- impossible even without it. Occurrences missed while no server ran collapse into
-- one task, for the latest of them (the agent learns from input_data how many it stands
-- for). Cron is evaluated in Python (cronsim): next_due is all the database needs.

CREATE TABLE schedules (
    id           text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    session_id   text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    cron         text NOT NULL,
    timezone     text NOT NULL DEFAULT 'UTC',
    task_type    text NOT NULL CHECK (task_type IN ('code', 'research', 'document', 'analysis')),
    title        text,
    agent_name   text,
    priority     integer NOT NULL DEFAULT 0,
    input_data   jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(input_data) = 'object'),
    max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    next_due     timestamptz NOT NULL,
    last_due     timestamptz,
    last_task_id text,
    created_by   text NOT NULL,
    created      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_due ON schedules (next_due);
CREATE INDEX schedules_session ON schedules (session_id, created, id);

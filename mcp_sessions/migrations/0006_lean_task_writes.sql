-- 0006_lean_task_writes: what every UPDATE of a task pays, cut to what it needs.
--
-- PostgreSQL 15 rebuilds a table's CHECK constraints and its triggers' WHEN clauses from
-- their stored text for every statement that writes the table (ExecRelCheck,
-- TriggerEnabled: stringToNode, then expression planning). On tasks that was most of a
-- claim's or a completion's executor time: measured with callgrind on a server-side loop
-- of claim + complete (bench/queue_cost.py), 986k instructions per task before, 619k
-- after (a bare SKIP LOCKED loop on a minimal table: 283k). See bench/QUEUE.md.
--
-- * The four CHECK constraints of tasks become domains. A domain's check runs only when
--   its column is assigned, from a cache, so a claim checks status and nothing else.
--   Same rules, same SQLSTATE (23514, check_violation) on a bad value. Changing the
--   column types rewrites tasks once, under its lock: 1.4 s for 200,000 tasks (165 MB)
--   on the development machine, during which claims wait.
-- * Session activity at the end of a task: the trigger fires on UPDATE OF finished_at,
--   without a WHEN clause (a column list costs nothing to test). finished_at is set when
--   a task finishes and cleared when it is requeued: both are activity.
-- * claim_task locks its candidate with one query (pending and due, or an expired lease)
--   and then updates it by address, instead of a fast path plus a second query for
--   expired leases with the same filter written twice; it checks the agent's liveness
--   mark inline before calling touch_agent. 0005's fast path, an UPDATE whose snapshot
--   predated its own row lock, could answer "nothing claimable" when a pending task was
--   updated concurrently (say, marked by a new dependent); a separate UPDATE sees the
--   version it locked.

DROP VIEW task_queue;  -- it reads status and task_type; recreated below unchanged
DROP TRIGGER tasks_finished_activity ON tasks;

CREATE DOMAIN task_status AS text
    CHECK (VALUE IN ('pending', 'claimed', 'running', 'completed', 'failed', 'cancelled'));
CREATE DOMAIN task_type AS text CHECK (VALUE IN ('code', 'research', 'document', 'analysis'));
CREATE DOMAIN task_max_attempts AS integer CHECK (VALUE >= 1);
-- dependencies not completed yet
CREATE DOMAIN task_blocked_by AS integer CHECK (VALUE >= 0);

ALTER TABLE tasks
    DROP CONSTRAINT tasks_status_check,
    DROP CONSTRAINT tasks_task_type_check,
    DROP CONSTRAINT tasks_max_attempts_check,
    DROP CONSTRAINT tasks_blocked_by_check,
    ALTER COLUMN status TYPE task_status,
    ALTER COLUMN task_type TYPE task_type,
    ALTER COLUMN max_attempts TYPE task_max_attempts,
    ALTER COLUMN blocked_by TYPE task_blocked_by;

CREATE TRIGGER tasks_finished_activity AFTER UPDATE OF finished_at ON tasks
    FOR EACH ROW EXECUTE FUNCTION touch_session_activity();

CREATE VIEW task_queue AS
SELECT t.id, t.session_id, t.title, t.agent_name, t.task_type, t.priority, t.attempts,
       t.max_attempts, t.run_after, t.created
FROM tasks t
WHERE t.finished_at IS NULL AND t.blocked_by = 0
  AND CASE WHEN t.status = 'pending' THEN t.run_after <= now() ELSE t.lease_expires_at < now() END
ORDER BY t.priority DESC, t.seq;

CREATE OR REPLACE FUNCTION claim_task(
    p_agent         text,
    p_session_id    text DEFAULT NULL,
    p_task_types    text[] DEFAULT NULL,
    p_lease_seconds double precision DEFAULT 300
) RETURNS SETOF tasks
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    c record;
    t tasks;
BEGIN
    IF p_lease_seconds IS NULL OR p_lease_seconds <= 0 THEN
        RAISE EXCEPTION 'lease_seconds must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    LOOP
        -- Lock the best claimable task: pending and due, or held past its lease.
        SELECT ctid, id, status INTO c FROM tasks
        WHERE finished_at IS NULL AND blocked_by = 0
          AND CASE WHEN status = 'pending' THEN run_after <= now() ELSE lease_expires_at < now() END
          AND (agent_name IS NULL OR agent_name = p_agent)
          AND (p_session_id IS NULL OR session_id = p_session_id)
          AND (p_task_types IS NULL OR task_type = ANY (p_task_types))
        ORDER BY priority DESC, seq
        LIMIT 1
        FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        IF c.status = 'pending' THEN
            -- Claim it where it lies: the lock keeps the row at that address, and this
            -- statement's fresh snapshot sees the version locked (so it can't miss; if it
            -- ever did, the next pass would look again).
            UPDATE tasks
            SET status = 'claimed', claim_token = gen_random_uuid(), claimed_by = p_agent, claimed_at = now(),
                lease_seconds = p_lease_seconds, lease_expires_at = now() + make_interval(secs => p_lease_seconds),
                attempts = attempts + 1, process_id = NULL, updated = now()
            WHERE ctid = c.ctid
            RETURNING * INTO t;
            EXIT WHEN FOUND;
        ELSE
            -- Its lease ran out: end that attempt, then look again (the lock is still
            -- ours, so a requeued task is found again; one out of attempts has failed).
            PERFORM expire_task_lease(c.id);
        END IF;
    END LOOP;
    -- touch_agent's own check, inlined: a plpgsql expression, not a query, on repeats
    IF current_setting('mcp_sessions.agent_mark', true) IS DISTINCT FROM
       p_agent || '@' || floor(extract(epoch FROM now()))::bigint THEN
        PERFORM touch_agent(p_agent);
    END IF;
    RETURN NEXT t;
END;
$$;

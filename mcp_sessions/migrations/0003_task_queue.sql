-- 0003_task_queue: leases, heartbeats, retries with backoff, dependencies, idempotency,
-- cancel, history, agent liveness, leaderless recovery and targeted wake-ups.
--
-- Every lifecycle step is one SQL function, so psql or a non-Python worker gets exactly
-- what the MCP tools get, in one round trip. Each returns the task row, or no row when
-- the step did not apply (stale token, wrong status); the caller then reads the task to
-- say why. Claims run in READ COMMITTED: FOR UPDATE SKIP LOCKED re-checks its WHERE
-- clause on the newest row version, which is what makes two sweepers or two claimers safe.

-- Columns ----------------------------------------------------------------------

ALTER TABLE tasks
    ADD COLUMN idempotency_key text,
    -- How many of the tasks this one depends on have not completed yet; claimable at 0.
    ADD COLUMN blocked_by integer NOT NULL DEFAULT 0 CHECK (blocked_by >= 0),
    -- The lease length of the current claim: what a heartbeat without lease_seconds renews.
    ADD COLUMN lease_seconds double precision;

-- Session activity: a task's creation and its end count, not each claim or heartbeat
-- (one upsert fewer on the claim path).
CREATE TRIGGER tasks_activity AFTER INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION touch_session_activity();
CREATE TRIGGER tasks_finished_activity AFTER UPDATE OF status ON tasks
    FOR EACH ROW WHEN (NEW.status IN ('completed', 'failed', 'cancelled') AND OLD.status <> NEW.status)
    EXECUTE FUNCTION touch_session_activity();

CREATE UNIQUE INDEX tasks_idempotency ON tasks (session_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Same order as the claim's ORDER BY, restricted to what can be claimed once due.
CREATE INDEX tasks_claim_order ON tasks (priority DESC, created, id) WHERE status = 'pending' AND blocked_by = 0;

-- Dependencies and history -----------------------------------------------------

CREATE TABLE task_dependencies (
    task_id    text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    depends_on text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, depends_on)
);
CREATE INDEX task_dependencies_depends_on ON task_dependencies (depends_on);

-- The tools only add dependencies on tasks that already exist to a task being created,
-- which cannot close a cycle; this guard keeps psql users to the same rule.
CREATE FUNCTION task_dependencies_no_cycle() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.task_id = NEW.depends_on OR EXISTS (
        WITH RECURSIVE up(id) AS (
            SELECT d.depends_on FROM task_dependencies d WHERE d.task_id = NEW.depends_on
            UNION
            SELECT d.depends_on FROM task_dependencies d JOIN up ON d.task_id = up.id
        )
        SELECT 1 FROM up WHERE id = NEW.task_id
    ) THEN
        RAISE EXCEPTION 'dependency cycle: task % would depend on itself through %', NEW.task_id, NEW.depends_on
            USING ERRCODE = 'check_violation', CONSTRAINT = 'task_dependencies_no_cycle';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER task_dependencies_no_cycle BEFORE INSERT OR UPDATE ON task_dependencies
    FOR EACH ROW EXECUTE FUNCTION task_dependencies_no_cycle();

-- The history of transitions: claimed, started, lease_expired, retry_scheduled, failed,
-- cancelled, requeued. The happy path writes no row here: the task row itself says when
-- it was created, when its current attempt was claimed (claimed_at, claimed_by) and when
-- it completed (finished_at), and get_task adds those. An attempt that ends any other way
-- first records its 'claimed' row, so no transition is lost. This halves the writes of a
-- claim+complete (see bench/).
CREATE TABLE task_events (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    at      timestamptz NOT NULL DEFAULT now(),
    event   text NOT NULL,
    agent   text,
    attempt integer NOT NULL,
    detail  text
);
CREATE INDEX task_events_task ON task_events (task_id, id);

-- Waiting claimers ---------------------------------------------------------------

-- A claimer that long-polls registers here; whoever makes a task claimable deletes as
-- many matching waiters as it made tasks and NOTIFYs each on its server's own channel,
-- so one new task wakes one waiter, not every listener. Unlogged: a crash forgets the
-- waiters, whose claims then fall back to polling.
CREATE UNLOGGED TABLE task_waiters (
    waiter_id    uuid PRIMARY KEY,
    channel      text NOT NULL,
    listener_pid integer NOT NULL,
    agent        text NOT NULL,
    session_id   text,
    task_types   text[],
    since        timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at   timestamptz NOT NULL
);

CREATE FUNCTION wake_task_waiters(p_session_id text, p_agent_name text, p_task_type text, p_count integer)
RETURNS integer
LANGUAGE sql VOLATILE AS $$
    WITH chosen AS (
        SELECT w.waiter_id FROM task_waiters w
        WHERE (p_agent_name IS NULL OR w.agent = p_agent_name)
          AND (w.session_id IS NULL OR w.session_id = p_session_id)
          AND (w.task_types IS NULL OR p_task_type = ANY (w.task_types))
          AND w.expires_at > now()
          -- a waiter whose server died would swallow the wake-up
          AND EXISTS (SELECT 1 FROM pg_stat_get_activity(w.listener_pid))
        ORDER BY w.since
        LIMIT p_count
        FOR UPDATE SKIP LOCKED
    ), woken AS (
        DELETE FROM task_waiters w USING chosen WHERE w.waiter_id = chosen.waiter_id
        RETURNING w.channel, w.waiter_id
    )
    SELECT count(pg_notify(channel, waiter_id::text))::integer FROM woken;
$$;

-- After an INSERT: wakes the waiters that now have something to claim, oldest first,
-- at most as many as there are claimable tasks. Statement-level and without a
-- transition table, so an INSERT of any size pays one trigger call and one probe of
-- an (almost always empty) table, and nothing per row.
CREATE FUNCTION wake_claimable_waiters() RETURNS integer
LANGUAGE sql VOLATILE AS $$
    WITH chosen AS (
        SELECT w.waiter_id FROM task_waiters w
        WHERE w.expires_at > now()
          AND EXISTS (SELECT 1 FROM pg_stat_get_activity(w.listener_pid))
          AND EXISTS (
              SELECT 1 FROM tasks t
              WHERE t.status = 'pending' AND t.blocked_by = 0 AND t.run_after <= now()
                AND (t.agent_name IS NULL OR t.agent_name = w.agent)
                AND (w.session_id IS NULL OR t.session_id = w.session_id)
                AND (w.task_types IS NULL OR t.task_type = ANY (w.task_types)))
        ORDER BY w.since
        LIMIT (SELECT count(*) FROM (SELECT 1 FROM tasks t
                                     WHERE t.status = 'pending' AND t.blocked_by = 0 AND t.run_after <= now()
                                     LIMIT 1000) claimable)
        FOR UPDATE OF w SKIP LOCKED
    ), woken AS (
        DELETE FROM task_waiters w USING chosen WHERE w.waiter_id = chosen.waiter_id
        RETURNING w.channel, w.waiter_id
    )
    SELECT count(pg_notify(channel, waiter_id::text))::integer FROM woken;
$$;

CREATE FUNCTION tasks_wake_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM task_waiters) THEN
        PERFORM wake_claimable_waiters();
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tasks_wake_on_insert AFTER INSERT ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_wake_on_insert();

-- Agent liveness -------------------------------------------------------------------

-- Called by claims and heartbeats. Updates at most once a second per agent: eight
-- workers sharing one agent name would otherwise queue on that one row's lock.
CREATE FUNCTION touch_agent(p_agent text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    seen timestamptz;
BEGIN
    SELECT last_seen INTO seen FROM agents WHERE name = p_agent;
    IF NOT FOUND THEN
        -- an agent that never registered still shows up in list_agents
        INSERT INTO agents (name, type, last_seen) VALUES (p_agent, 'unregistered', now())
        ON CONFLICT (name) DO NOTHING;
    ELSIF seen IS NULL OR seen < now() - interval '1 second' THEN
        UPDATE agents SET last_seen = now()
        WHERE name = p_agent AND (last_seen IS NULL OR last_seen < now() - interval '1 second');
    END IF;
END;
$$;

-- Records the 'claimed' transition of an attempt that is ending other than by completion.
CREATE FUNCTION log_task_claim(p_task_id text, p_claimed_at timestamptz, p_claimed_by text, p_attempt integer)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO task_events (task_id, at, event, agent, attempt)
    SELECT p_task_id, p_claimed_at, 'claimed', p_claimed_by, p_attempt WHERE p_claimed_at IS NOT NULL;
$$;

-- Failure propagation ----------------------------------------------------------------

-- A task that failed for good (or was cancelled) fails everything that waits on it,
-- transitively, with the reason, instead of leaving it blocked forever.
CREATE FUNCTION fail_task_dependents(p_task_id text, p_reason text, p_agent text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    WITH RECURSIVE down(id) AS (
        SELECT d.task_id FROM task_dependencies d WHERE d.depends_on = p_task_id
        UNION
        SELECT d.task_id FROM task_dependencies d JOIN down ON d.depends_on = down.id
    ), failed AS (
        UPDATE tasks t
        SET status = 'failed', error = left('dependency ' || p_task_id || ' did not complete: ' || p_reason, 10000),
            finished_at = now(), updated = now()
        FROM down WHERE t.id = down.id AND t.status = 'pending'
        RETURNING t.id, t.attempts, t.error
    )
    INSERT INTO task_events (task_id, event, agent, attempt, detail)
    SELECT id, 'failed', p_agent, attempts, error FROM failed;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;

-- Recovery without a leader ----------------------------------------------------------

-- Whoever notices (every claim, and each server's periodic sweep) requeues tasks whose
-- lease ran out, or fails them for good past max_attempts. SKIP LOCKED plus the re-check
-- of the WHERE clause on the newest row version means two sweepers never requeue one
-- task twice. Attempts are counted at claim time, so recovery never counts one.
CREATE FUNCTION recover_expired_tasks(p_limit integer DEFAULT 100) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    FOR r IN
        WITH expired AS (
            SELECT id, claimed_by, claimed_at, lease_expires_at FROM tasks
            WHERE status IN ('claimed', 'running') AND lease_expires_at < now()
            ORDER BY lease_expires_at
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        )
        UPDATE tasks t
        SET status = CASE WHEN t.attempts >= t.max_attempts THEN 'failed' ELSE 'pending' END,
            error = CASE WHEN t.attempts >= t.max_attempts
                         THEN format('lease expired on attempt %s of %s (held by %s)', t.attempts, t.max_attempts, expired.claimed_by)
                         ELSE t.error END,
            finished_at = CASE WHEN t.attempts >= t.max_attempts THEN now() END,
            claim_token = NULL, claimed_by = NULL, claimed_at = NULL, lease_expires_at = NULL,
            lease_seconds = NULL, process_id = NULL, run_after = now(), updated = now()
        FROM expired
        WHERE t.id = expired.id
        RETURNING t.id, t.status, t.session_id, t.agent_name, t.task_type, t.attempts, t.max_attempts,
                  t.error, expired.claimed_by AS holder, expired.claimed_at, expired.lease_expires_at AS expired_at
    LOOP
        n := n + 1;
        PERFORM log_task_claim(r.id, r.claimed_at, r.holder, r.attempts);
        INSERT INTO task_events (task_id, event, agent, attempt, detail)
        VALUES (r.id, 'lease_expired', r.holder, r.attempts,
                format('lease held by %s expired at %s; %s', r.holder, r.expired_at,
                       CASE WHEN r.status = 'failed' THEN 'no attempts left' ELSE 'requeued' END));
        IF r.status = 'failed' THEN
            INSERT INTO task_events (task_id, event, agent, attempt, detail)
            VALUES (r.id, 'failed', r.holder, r.attempts, r.error);
            PERFORM fail_task_dependents(r.id, r.error, NULL);
        ELSE
            PERFORM wake_task_waiters(r.session_id, r.agent_name, r.task_type, 1);
        END IF;
    END LOOP;
    RETURN n;
END;
$$;

-- The lifecycle ----------------------------------------------------------------------
--
-- Steps that present a claim token (heartbeat, start, complete, fail) take an optional
-- p_holder: an authenticated caller (HTTP token) must also be the agent holding the claim.

-- Claims the best claimable task for p_agent: pending, due, not blocked by unfinished
-- dependencies, meant for p_agent or for anyone; highest priority first, then oldest.
-- Expired leases are recovered first, so a queue works without any sweeper running.
CREATE FUNCTION claim_task(
    p_agent         text,
    p_session_id    text DEFAULT NULL,
    p_task_types    text[] DEFAULT NULL,
    p_lease_seconds double precision DEFAULT 300
) RETURNS SETOF tasks
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t tasks;
BEGIN
    IF p_lease_seconds IS NULL OR p_lease_seconds <= 0 THEN
        RAISE EXCEPTION 'lease_seconds must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One index probe on the common path; the recovery itself only when there is work.
    IF EXISTS (SELECT 1 FROM tasks WHERE status IN ('claimed', 'running') AND lease_expires_at < now()) THEN
        PERFORM recover_expired_tasks(10);
    END IF;
    WITH candidate AS (
        SELECT id FROM tasks
        WHERE status = 'pending' AND blocked_by = 0
          AND run_after <= now()
          AND (agent_name IS NULL OR agent_name = p_agent)
          AND (p_session_id IS NULL OR session_id = p_session_id)
          AND (p_task_types IS NULL OR task_type = ANY (p_task_types))
        ORDER BY priority DESC, created, id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    UPDATE tasks AS u
    SET status = 'claimed', claim_token = gen_random_uuid(), claimed_by = p_agent, claimed_at = now(),
        lease_seconds = p_lease_seconds, lease_expires_at = now() + make_interval(secs => p_lease_seconds),
        attempts = u.attempts + 1, process_id = NULL, updated = now()
    FROM candidate
    WHERE u.id = candidate.id
    RETURNING u.* INTO t;
    IF t.id IS NULL THEN
        RETURN;
    END IF;
    PERFORM touch_agent(p_agent);
    RETURN NEXT t;
END;
$$;

CREATE FUNCTION heartbeat_task(p_task_id text, p_claim_token uuid, p_lease_seconds double precision DEFAULT NULL,
                               p_holder text DEFAULT NULL)
RETURNS SETOF tasks
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t tasks;
BEGIN
    UPDATE tasks
    SET lease_seconds = coalesce(p_lease_seconds, lease_seconds, 300),
        lease_expires_at = now() + make_interval(secs => coalesce(p_lease_seconds, lease_seconds, 300)),
        updated = now()
    WHERE id = p_task_id AND claim_token = p_claim_token AND status IN ('claimed', 'running')
      AND lease_expires_at > now() AND (p_holder IS NULL OR claimed_by = p_holder)
    RETURNING * INTO t;
    IF t.id IS NULL THEN
        RETURN;
    END IF;
    PERFORM touch_agent(t.claimed_by);
    RETURN NEXT t;
END;
$$;

CREATE FUNCTION start_task(p_task_id text, p_claim_token uuid, p_process_id integer DEFAULT NULL,
                           p_holder text DEFAULT NULL)
RETURNS SETOF tasks
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t tasks;
BEGIN
    UPDATE tasks SET status = 'running', process_id = coalesce(p_process_id, process_id), updated = now()
    WHERE id = p_task_id AND claim_token = p_claim_token AND status IN ('claimed', 'running')
      AND lease_expires_at > now() AND (p_holder IS NULL OR claimed_by = p_holder)
    RETURNING * INTO t;
    IF t.id IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO task_events (task_id, event, agent, attempt, detail)
    VALUES (t.id, 'started', t.claimed_by, t.attempts, 'process ' || t.process_id);
    RETURN NEXT t;
END;
$$;

CREATE FUNCTION complete_task(p_task_id text, p_claim_token uuid, p_output_data jsonb DEFAULT '{}',
                              p_holder text DEFAULT NULL)
RETURNS SETOF tasks
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t tasks;
    r record;
BEGIN
    UPDATE tasks SET status = 'completed', output_data = p_output_data, error = NULL, claim_token = NULL,
                     lease_expires_at = NULL, finished_at = now(), updated = now()
    WHERE id = p_task_id AND claim_token = p_claim_token AND status IN ('claimed', 'running')
      AND lease_expires_at > now() AND (p_holder IS NULL OR claimed_by = p_holder)
    RETURNING * INTO t;
    IF t.id IS NULL THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM task_dependencies WHERE depends_on = p_task_id) THEN
        RETURN NEXT t;
        RETURN;
    END IF;
    -- Unblock the dependents; those with nothing left to wait for wake a claimer.
    FOR r IN
        UPDATE tasks d SET blocked_by = d.blocked_by - 1, updated = now()
        FROM task_dependencies td
        WHERE td.depends_on = p_task_id AND d.id = td.task_id AND d.status = 'pending'
        RETURNING d.session_id, d.agent_name, d.task_type, d.blocked_by
    LOOP
        IF r.blocked_by = 0 THEN
            PERFORM wake_task_waiters(r.session_id, r.agent_name, r.task_type, 1);
        END IF;
    END LOOP;
    RETURN NEXT t;
END;
$$;

-- With p_retry and attempts left, the task goes back to pending after an exponential
-- backoff (5 s, 10 s, 20 s, ... capped at an hour); otherwise it fails for good.
CREATE FUNCTION fail_task(p_task_id text, p_claim_token uuid, p_error text, p_retry boolean DEFAULT true,
                          p_holder text DEFAULT NULL)
RETURNS SETOF tasks
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t tasks;
    held tasks;
    again boolean;
BEGIN
    SELECT * INTO held FROM tasks
    WHERE id = p_task_id AND claim_token = p_claim_token AND status IN ('claimed', 'running')
      AND lease_expires_at > now() AND (p_holder IS NULL OR claimed_by = p_holder)
    FOR UPDATE;
    IF held.id IS NULL THEN
        RETURN;
    END IF;
    again := p_retry AND held.attempts < held.max_attempts;
    UPDATE tasks
    SET status = CASE WHEN again THEN 'pending' ELSE 'failed' END,
        run_after = CASE WHEN again THEN now() + make_interval(secs => least(3600, 5 * power(2, attempts - 1)))
                         ELSE run_after END,
        finished_at = CASE WHEN again THEN NULL ELSE now() END,
        claimed_by = CASE WHEN again THEN NULL ELSE claimed_by END,
        error = p_error, claim_token = NULL, claimed_at = NULL,
        lease_expires_at = NULL, lease_seconds = NULL, updated = now()
    WHERE id = p_task_id
    RETURNING * INTO t;
    PERFORM log_task_claim(t.id, held.claimed_at, held.claimed_by, t.attempts);
    INSERT INTO task_events (task_id, event, agent, attempt, detail)
    VALUES (t.id, CASE WHEN again THEN 'retry_scheduled' ELSE 'failed' END, held.claimed_by, t.attempts,
            CASE WHEN again THEN format('%s (retry after %s)', p_error, t.run_after)
                 WHEN p_retry THEN format('%s (no attempts left: %s of %s)', p_error, t.attempts, t.max_attempts)
                 ELSE p_error END);
    IF NOT again THEN
        PERFORM fail_task_dependents(t.id, p_error, NULL);
    END IF;
    RETURN NEXT t;
END;
$$;

-- Cancels a pending, claimed or running task; the holder's token dies with it.
CREATE FUNCTION cancel_task(p_task_id text, p_reason text, p_agent text) RETURNS SETOF tasks
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t tasks;
BEGIN
    UPDATE tasks SET status = 'cancelled', error = p_reason, claim_token = NULL, lease_expires_at = NULL,
                     finished_at = now(), updated = now()
    WHERE id = p_task_id AND status IN ('pending', 'claimed', 'running')
    RETURNING * INTO t;
    IF t.id IS NULL THEN
        RETURN;
    END IF;
    PERFORM log_task_claim(t.id, t.claimed_at, t.claimed_by, t.attempts);  -- if it was held
    INSERT INTO task_events (task_id, event, agent, attempt, detail)
    VALUES (t.id, 'cancelled', p_agent, t.attempts, p_reason);
    PERFORM fail_task_dependents(t.id, 'cancelled: ' || p_reason, p_agent);
    RETURN NEXT t;
END;
$$;

-- An operator's do-over: a failed, cancelled, claimed or running task goes back to
-- pending with a fresh attempt budget; a holder's token dies. Refused (no row) while a
-- dependency can no longer complete.
CREATE FUNCTION requeue_task(p_task_id text, p_agent text) RETURNS SETOF tasks
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t tasks;
    old tasks;
    prev text;
BEGIN
    SELECT * INTO old FROM tasks WHERE id = p_task_id FOR UPDATE;
    prev := old.status;
    IF prev IS NULL OR prev NOT IN ('failed', 'cancelled', 'claimed', 'running') THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM task_dependencies d JOIN tasks dep ON dep.id = d.depends_on
               WHERE d.task_id = p_task_id AND dep.status IN ('failed', 'cancelled')) THEN
        RETURN;
    END IF;
    UPDATE tasks u
    SET status = 'pending', attempts = 0, run_after = now(), error = NULL, finished_at = NULL,
        claim_token = NULL, claimed_by = NULL, claimed_at = NULL, lease_expires_at = NULL,
        lease_seconds = NULL, process_id = NULL, updated = now(),
        blocked_by = (SELECT count(*) FROM task_dependencies d JOIN tasks dep ON dep.id = d.depends_on
                      WHERE d.task_id = u.id AND dep.status <> 'completed')
    WHERE u.id = p_task_id
    RETURNING * INTO t;
    IF prev IN ('claimed', 'running') THEN
        PERFORM log_task_claim(t.id, old.claimed_at, old.claimed_by, old.attempts);
    END IF;
    INSERT INTO task_events (task_id, event, agent, attempt, detail)
    VALUES (t.id, 'requeued', p_agent, 0, 'was ' || prev);
    IF t.blocked_by = 0 THEN
        PERFORM wake_task_waiters(t.session_id, t.agent_name, t.task_type, 1);
    END IF;
    RETURN NEXT t;
END;
$$;

-- Views ------------------------------------------------------------------------------

-- What claim_task would hand out now, in the order it would hand it out.
CREATE VIEW task_queue AS
SELECT t.id, t.session_id, t.title, t.agent_name, t.task_type, t.priority, t.attempts,
       t.max_attempts, t.run_after, t.created
FROM tasks t
WHERE t.status = 'pending' AND t.blocked_by = 0 AND t.run_after <= now()
ORDER BY t.priority DESC, t.created, t.id;

-- 0005_claim_without_index_churn: a claim that writes no index entry.
--
-- Before: the claim index was partial on status = 'pending' and a lease index partial on
-- status IN ('claimed', 'running'). Every claim changed status, so PostgreSQL could not
-- update the row in place (HOT): each claim wrote a new row version plus an entry in every
-- index of the table (the text primary key, the session index, the lease index), and each
-- completion did it again. On a 2-CPU machine that held the store to ~0.6 of a bare
-- SKIP LOCKED loop (bench/QUEUE.md).
--
-- Now one index serves claims and lease recovery alike: unfinished, unblocked tasks in
-- claim order. Its predicate uses finished_at, which only the end of a task changes, so a
-- claim, heartbeat, start or retry is a HOT update (no index entry at all), and only the
-- completion writes index entries. A claimed task stays in the index; its lease deadline
-- says when it becomes claimable again, the way a visibility timeout works in SQS or pgmq.
-- So a claim itself takes over an expired lease (logging it, or failing the task past
-- max_attempts), and the periodic sweep only tidies up what no claimer came for.
--
-- Claim order is priority, then seq: insertion order, which is age, in 8 bytes instead of
-- (created, id), and in step with the table's physical order.

ALTER TABLE tasks ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
-- room on each page for the in-place versions of claims and heartbeats
ALTER TABLE tasks SET (fillfactor = 80);

DROP INDEX tasks_claim_order;
DROP INDEX tasks_lease_expiry;
CREATE INDEX tasks_claimable ON tasks (priority DESC, seq) WHERE finished_at IS NULL AND blocked_by = 0;

-- A held task (claimed or running) always has blocked_by = 0: it was claimable when
-- claimed, and only pending tasks are unblocked or re-counted. The queries below say so,
-- which lets them use tasks_claimable.

-- Ends the attempt of a task whose lease ran out (row locked by the caller): requeues it,
-- or fails it for good past max_attempts. Logs the attempt's claim and its expiry.
-- Returns true when the task can be claimed again.
CREATE FUNCTION expire_task_lease(p_task_id text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    r tasks;
    exhausted boolean;
BEGIN
    SELECT * INTO r FROM tasks WHERE id = p_task_id;
    exhausted := r.attempts >= r.max_attempts;
    PERFORM log_task_claim(r.id, r.claimed_at, r.claimed_by, r.attempts);
    INSERT INTO task_events (task_id, event, agent, attempt, detail)
    VALUES (r.id, 'lease_expired', r.claimed_by, r.attempts,
            format('lease held by %s expired at %s; %s', r.claimed_by, r.lease_expires_at,
                   CASE WHEN exhausted THEN 'no attempts left' ELSE 'requeued' END));
    IF exhausted THEN
        UPDATE tasks
        SET status = 'failed', finished_at = now(), updated = now(),
            error = format('lease expired on attempt %s of %s (held by %s)', attempts, max_attempts, claimed_by),
            claim_token = NULL, lease_expires_at = NULL, lease_seconds = NULL
        WHERE id = p_task_id
        RETURNING * INTO r;
        INSERT INTO task_events (task_id, event, agent, attempt, detail)
        VALUES (r.id, 'failed', r.claimed_by, r.attempts, r.error);
        PERFORM fail_task_dependents(r.id, r.error, NULL);
        RETURN false;
    END IF;
    UPDATE tasks
    SET status = 'pending', claim_token = NULL, claimed_by = NULL, claimed_at = NULL, lease_expires_at = NULL,
        lease_seconds = NULL, process_id = NULL, run_after = now(), updated = now()
    WHERE id = p_task_id;
    RETURN true;
END;
$$;

-- The sweep: whoever runs it (each server, jittered) ends the attempts whose lease ran
-- out and that no claimer took over. SKIP LOCKED plus the re-check of the WHERE clause on
-- the newest row version: two sweepers (or a sweeper and a claimer) never end one
-- attempt twice. Attempts are counted at claim time, so recovery never counts one.
CREATE OR REPLACE FUNCTION recover_expired_tasks(p_limit integer DEFAULT 100) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    FOR r IN
        SELECT id, session_id, agent_name, task_type FROM tasks
        WHERE finished_at IS NULL AND blocked_by = 0
          AND status IN ('claimed', 'running') AND lease_expires_at < now()
        ORDER BY priority DESC, seq
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    LOOP
        n := n + 1;
        IF expire_task_lease(r.id) THEN
            PERFORM wake_task_waiters(r.session_id, r.agent_name, r.task_type, 1);
        END IF;
    END LOOP;
    RETURN n;
END;
$$;

-- Claims the best claimable task for p_agent: unfinished and unblocked, meant for p_agent
-- or for anyone, and either pending and due or held past its lease; highest priority
-- first, then oldest. Taking over an expired lease first ends that attempt (see
-- expire_task_lease), so a queue works without any sweeper running. The claim itself
-- locates the row by its physical address (it holds the row lock, so the row can't move)
-- and changes no indexed column: an in-place update.
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
        -- The common case, a pending task, in one statement.
        WITH candidate AS (
            SELECT ctid, status FROM tasks
            WHERE finished_at IS NULL AND blocked_by = 0
              AND CASE WHEN status = 'pending' THEN run_after <= now() ELSE lease_expires_at < now() END
              AND (agent_name IS NULL OR agent_name = p_agent)
              AND (p_session_id IS NULL OR session_id = p_session_id)
              AND (p_task_types IS NULL OR task_type = ANY (p_task_types))
            ORDER BY priority DESC, seq
            LIMIT 1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE tasks u
        SET status = 'claimed', claim_token = gen_random_uuid(), claimed_by = p_agent, claimed_at = now(),
            lease_seconds = p_lease_seconds, lease_expires_at = now() + make_interval(secs => p_lease_seconds),
            attempts = u.attempts + 1, process_id = NULL, updated = now()
        FROM candidate
        WHERE u.ctid = candidate.ctid AND candidate.status = 'pending'
        RETURNING u.* INTO t;
        EXIT WHEN t.id IS NOT NULL;
        -- Nothing pending, or the best candidate is a task whose lease ran out (this
        -- transaction now holds its lock, so the same query finds it again): end that
        -- attempt, then claim it if it has attempts left, else look further.
        SELECT id INTO c FROM tasks
        WHERE finished_at IS NULL AND blocked_by = 0 AND status IN ('claimed', 'running') AND lease_expires_at < now()
          AND (agent_name IS NULL OR agent_name = p_agent)
          AND (p_session_id IS NULL OR session_id = p_session_id)
          AND (p_task_types IS NULL OR task_type = ANY (p_task_types))
        ORDER BY priority DESC, seq
        LIMIT 1
        FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        PERFORM expire_task_lease(c.id);
    END LOOP;
    PERFORM touch_agent(p_agent);
    RETURN NEXT t;
END;
$$;

-- What claim_task would hand out now, in the order it would hand it out: due pending
-- tasks, and held tasks whose lease ran out (their next claim takes them over).
CREATE OR REPLACE VIEW task_queue AS
SELECT t.id, t.session_id, t.title, t.agent_name, t.task_type, t.priority, t.attempts,
       t.max_attempts, t.run_after, t.created
FROM tasks t
WHERE t.finished_at IS NULL AND t.blocked_by = 0
  AND CASE WHEN t.status = 'pending' THEN t.run_after <= now() ELSE t.lease_expires_at < now() END
ORDER BY t.priority DESC, t.seq;

-- The same wake-up as before, its probes restricted to what tasks_claimable covers.
CREATE OR REPLACE FUNCTION wake_claimable_waiters() RETURNS integer
LANGUAGE sql VOLATILE AS $$
    WITH chosen AS (
        SELECT w.waiter_id FROM task_waiters w
        WHERE w.expires_at > now()
          AND EXISTS (SELECT 1 FROM pg_stat_get_activity(w.listener_pid))
          AND EXISTS (
              SELECT 1 FROM tasks t
              WHERE t.finished_at IS NULL AND t.blocked_by = 0 AND t.status = 'pending' AND t.run_after <= now()
                AND (t.agent_name IS NULL OR t.agent_name = w.agent)
                AND (w.session_id IS NULL OR t.session_id = w.session_id)
                AND (w.task_types IS NULL OR t.task_type = ANY (w.task_types)))
        ORDER BY w.since
        LIMIT (SELECT count(*) FROM (SELECT 1 FROM tasks t
                                     WHERE t.finished_at IS NULL AND t.blocked_by = 0
                                       AND t.status = 'pending' AND t.run_after <= now()
                                     LIMIT 1000) claimable)
        FOR UPDATE OF w SKIP LOCKED
    ), woken AS (
        DELETE FROM task_waiters w USING chosen WHERE w.waiter_id = chosen.waiter_id
        RETURNING w.channel, w.waiter_id
    )
    SELECT count(pg_notify(channel, waiter_id::text))::integer FROM woken;
$$;

-- Fewer statements per claim and completion ---------------------------------------------
--
-- On a busy queue each statement a step runs costs about as much as the row update
-- itself. Three checks that almost always say "nothing to do" are now answered without
-- a query.

-- Activity and liveness throttles remember, per connection, the last (session or agent,
-- second) they wrote: a repeat within that second is skipped without a query. The mark is
-- a setting, so a rolled-back transaction takes its mark with it.
CREATE OR REPLACE FUNCTION touch_session_activity() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    mark text := NEW.session_id || '@' || floor(extract(epoch FROM now()))::bigint;
BEGIN
    IF current_setting('mcp_sessions.activity_mark', true) IS NOT DISTINCT FROM mark THEN
        RETURN NULL;
    END IF;
    -- At most one write per second per session and stripe: last_activity answers "when
    -- did anyone last work here" (to the second), and a busy queue or a bulk import must
    -- not pay a write for every row.
    IF NOT EXISTS (SELECT 1 FROM session_activity
                   WHERE session_id = NEW.session_id AND stripe = pg_backend_pid() % 32
                     AND at > now() - interval '1 second') THEN
        INSERT INTO session_activity (session_id, stripe, at)
        VALUES (NEW.session_id, pg_backend_pid() % 32, now())
        ON CONFLICT (session_id, stripe) DO UPDATE SET at = EXCLUDED.at
            WHERE session_activity.at < EXCLUDED.at;
    END IF;
    PERFORM set_config('mcp_sessions.activity_mark', mark, false);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION touch_agent(p_agent text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    mark text := p_agent || '@' || floor(extract(epoch FROM now()))::bigint;
    seen timestamptz;
BEGIN
    IF current_setting('mcp_sessions.agent_mark', true) IS NOT DISTINCT FROM mark THEN
        RETURN;
    END IF;
    -- Updates at most once a second per agent: eight workers sharing one agent name would
    -- otherwise queue on that one row's lock.
    SELECT last_seen INTO seen FROM agents WHERE name = p_agent;
    IF NOT FOUND THEN
        -- an agent that never registered still shows up in list_agents
        INSERT INTO agents (name, type, last_seen) VALUES (p_agent, 'unregistered', now())
        ON CONFLICT (name) DO NOTHING;
    ELSIF seen IS NULL OR seen < now() - interval '1 second' THEN
        UPDATE agents SET last_seen = now()
        WHERE name = p_agent AND (last_seen IS NULL OR last_seen < now() - interval '1 second');
    END IF;
    PERFORM set_config('mcp_sessions.agent_mark', mark, false);
END;
$$;

-- Whether any task depends on this one: a completion with no dependents (the common
-- case) then skips the look for tasks to unblock. Set by the dependency itself, so psql
-- inserts and archive imports keep it right.
ALTER TABLE tasks ADD COLUMN has_dependents boolean NOT NULL DEFAULT false;
UPDATE tasks t SET has_dependents = true WHERE EXISTS (SELECT 1 FROM task_dependencies d WHERE d.depends_on = t.id);

CREATE FUNCTION task_dependencies_mark_parent() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tasks SET has_dependents = true WHERE id = NEW.depends_on AND NOT has_dependents;
    RETURN NULL;
END;
$$;
CREATE TRIGGER task_dependencies_mark_parent AFTER INSERT OR UPDATE ON task_dependencies
    FOR EACH ROW EXECUTE FUNCTION task_dependencies_mark_parent();

CREATE OR REPLACE FUNCTION complete_task(p_task_id text, p_claim_token uuid, p_output_data jsonb DEFAULT '{}',
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
    IF t.has_dependents THEN
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
    END IF;
    RETURN NEXT t;
END;
$$;

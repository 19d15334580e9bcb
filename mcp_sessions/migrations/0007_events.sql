-- 0007_events: the event feed. Every change in a session is a row of `events`, written
-- by a trigger in the same transaction as the change, so a change made in psql has its
-- event too, and an event exists exactly when its change committed.
--
-- Order without skips: an event's position is (xid, id), the xid8 of the transaction
-- that wrote it, then its identity. A reader only reads events whose transaction is
-- older than the oldest transaction of this database still running in its snapshot
-- (event_horizon below): every transaction below that horizon has ended, so no event can ever appear behind a
-- position a reader has passed, whatever the commit order of concurrent writers (a
-- transaction that took a lower id and commits later is simply not read until it has
-- committed). This is how outbox readers order by commit; a plain sequence is not
-- enough, because seq 41 can commit after seq 42.
--
-- Waking readers: a server process with waiting readers registers in event_listeners
-- (per session, or '*' for all); an event NOTIFYs only the processes registered for its
-- session. With nobody listening, a write pays no NOTIFY (whose commit-time lock would
-- serialize every writer's commit).

CREATE TABLE events (
    -- the writing transaction's xid8 (as bigint, so a BRIN index can serve the feed of
    -- every session); then the event's own number
    xid        bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    at         timestamptz NOT NULL DEFAULT now(),
    session_id text NOT NULL,
    agent      text,
    kind       text NOT NULL,
    -- What it refers to, kept narrow because a claim and a completion each write one:
    -- ref is the main id (chunk_id, key, name, task_id, ...), version the memory's or
    -- artifact's version or the task's attempt; detail holds anything else. read_events
    -- turns them into the `refs` object.
    ref        text,
    version    integer,
    detail     jsonb,
    summary    text,  -- at most 200 characters, never content; NULL: derived when read
    -- NULL: everyone who can see the session; else only these agents (direct messages)
    visible_to text[]
);
-- A session's feed (and its timeline, newest first) is a range of this index. The feed
-- of every session reads the newest block ranges through the BRIN index and sorts them:
-- positions grow with time, so a tail is a few pages. No primary key: nothing refers to
-- an event, and every index costs each claim and completion an entry (bench/QUEUE.md).
CREATE INDEX events_session ON events (session_id, xid, id);
CREATE INDEX events_position ON events USING brin (xid, at) WITH (pages_per_range = 16, autosummarize = on);

-- The newest position retention has deleted: a reader behind it has missed events.
CREATE TABLE event_retention (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    pruned_xid bigint NOT NULL DEFAULT 0,
    pruned_id  bigint NOT NULL DEFAULT 0
);
INSERT INTO event_retention DEFAULT VALUES;

-- Server processes with waiting readers. Unlogged: a crash forgets them, and their
-- readers fall back to a slow poll until they register again.
CREATE UNLOGGED TABLE event_listeners (
    channel    text NOT NULL,
    session_id text NOT NULL,  -- '*': every session
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (channel, session_id)
);

-- Writing ------------------------------------------------------------------------------

-- The agent is the one the row names, unless the caller said who acts in this
-- transaction (set_config('mcp_sessions.actor', name, true)): a forget or a session
-- update has no row column naming who did it.
CREATE FUNCTION emit_event(p_session_id text, p_kind text, p_agent text, p_refs jsonb, p_summary text,
                           p_visible_to text[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (session_id, agent, kind, detail, summary, visible_to)
    VALUES (p_session_id, coalesce(nullif(current_setting('mcp_sessions.actor', true), ''), p_agent, session_user),
            p_kind, p_refs, left(p_summary, 200), p_visible_to);
    -- One NOTIFY per listening process and session per transaction (duplicates collapse).
    PERFORM pg_notify(l.channel, p_session_id) FROM event_listeners l WHERE l.session_id IN ('*', p_session_id);
END;
$$;

CREATE FUNCTION sessions_emit_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed text[] := '{}';
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM emit_event(NEW.id, 'session.created', NEW.created_by, '{}', format('session "%s" created', NEW.title));
        RETURN NULL;
    END IF;
    IF NEW.title IS DISTINCT FROM OLD.title THEN changed := changed || 'title'::text; END IF;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        changed := changed || format('status %s -> %s', OLD.status, NEW.status);
    END IF;
    IF NEW.participants IS DISTINCT FROM OLD.participants THEN changed := changed || 'participants'::text; END IF;
    IF NEW.metadata IS DISTINCT FROM OLD.metadata THEN changed := changed || 'metadata'::text; END IF;
    IF cardinality(changed) > 0 THEN
        PERFORM emit_event(NEW.id, 'session.updated', NULL, jsonb_build_object('changed', to_jsonb(changed)),
                           'session updated: ' || array_to_string(changed, ', '));
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER sessions_events AFTER INSERT OR UPDATE OF title, status, participants, metadata ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_emit_event();

CREATE FUNCTION chunks_emit_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM emit_event(NEW.session_id, 'chunk.added', NEW.created_by,
                       jsonb_build_object('chunk_id', NEW.chunk_id, 'format', NEW.format, 'size', NEW.size),
                       format('%s chunk %s added (%s bytes)', NEW.format, NEW.chunk_id, NEW.size));
    RETURN NULL;
END;
$$;
CREATE TRIGGER conversation_chunks_events AFTER INSERT ON conversation_chunks
    FOR EACH ROW EXECUTE FUNCTION chunks_emit_event();

CREATE FUNCTION memories_emit_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM emit_event(OLD.session_id, 'memory.forgotten', NULL,
                           jsonb_build_object('key', OLD.key, 'version', OLD.version, 'type', OLD.type),
                           format('%s "%s" forgotten', OLD.type, OLD.key));
    ELSE
        PERFORM emit_event(NEW.session_id, 'memory.set', NEW.updated_by,
                           jsonb_build_object('key', NEW.key, 'version', NEW.version, 'type', NEW.type),
                           format('%s "%s" set (version %s)', NEW.type, NEW.key, NEW.version));
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER memories_events AFTER INSERT OR UPDATE OR DELETE ON memories
    FOR EACH ROW EXECUTE FUNCTION memories_emit_event();

CREATE FUNCTION artifacts_emit_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM emit_event(NEW.session_id, 'artifact.saved', NEW.created_by,
                       jsonb_build_object('name', NEW.name, 'version', NEW.version, 'type', NEW.type, 'size', NEW.size),
                       format('%s "%s" saved (version %s, %s bytes)', NEW.type, NEW.name, NEW.version, NEW.size));
    RETURN NULL;
END;
$$;
CREATE TRIGGER artifacts_events AFTER INSERT ON artifacts
    FOR EACH ROW EXECUTE FUNCTION artifacts_emit_event();

-- Tasks: the happy path (created, claimed, started, completed) from the task row; every
-- other transition from the history row its SQL function writes (task_events), which
-- names who did it and why. The happy path is the queue's hot path: its event is one
-- narrow row (ref, version; the summary is derived when read) written here directly,
-- not through emit_event (what that saves per task is measured in bench/QUEUE.md).
CREATE FUNCTION tasks_emit_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    kind text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        kind := 'task.created';
    ELSIF NEW.status = 'claimed' AND OLD.status = 'pending' THEN
        kind := 'task.claimed';
    ELSIF NEW.status = 'running' AND OLD.status = 'claimed' THEN
        kind := 'task.started';
    ELSIF NEW.status = 'completed' AND OLD.status <> 'completed' THEN
        kind := 'task.completed';
    ELSE
        RETURN NULL;
    END IF;
    INSERT INTO events (session_id, agent, kind, ref, version)
    VALUES (NEW.session_id,
            coalesce(nullif(current_setting('mcp_sessions.actor', true), ''),
                     CASE WHEN TG_OP = 'INSERT' THEN NEW.created_by ELSE NEW.claimed_by END),
            kind, NEW.id, NEW.attempts);
    PERFORM pg_notify(l.channel, NEW.session_id) FROM event_listeners l WHERE l.session_id IN ('*', NEW.session_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER tasks_events AFTER INSERT OR UPDATE OF status ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_emit_event();

CREATE FUNCTION task_events_emit_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    kind text := CASE NEW.event
        WHEN 'lease_expired' THEN 'task.lease_expired'
        WHEN 'retry_scheduled' THEN 'task.failed'
        WHEN 'failed' THEN 'task.failed'
        WHEN 'cancelled' THEN 'task.cancelled'
        WHEN 'requeued' THEN 'task.requeued'
    END;
    t record;
BEGIN
    IF kind IS NULL THEN
        RETURN NULL;  -- 'claimed' rows restate a claim whose event was written at claim time
    END IF;
    SELECT session_id, title INTO t FROM tasks WHERE id = NEW.task_id;
    PERFORM emit_event(t.session_id, kind, NEW.agent,
                       jsonb_build_object('task_id', NEW.task_id, 'attempt', NEW.attempt,
                                          'retry', NEW.event = 'retry_scheduled'),
                       format('task %s %s: %s', coalesce('"' || left(t.title, 60) || '"', NEW.task_id),
                              replace(NEW.event, '_', ' '), coalesce(NEW.detail, '')));
    RETURN NULL;
END;
$$;
CREATE TRIGGER task_events_events AFTER INSERT ON task_events
    FOR EACH ROW EXECUTE FUNCTION task_events_emit_event();

-- Reading ------------------------------------------------------------------------------

-- The horizon of the caller's snapshot: the oldest transaction still running in it,
-- ignoring those known to belong to other databases (they never write our events; a
-- long import into another database on the same server must not hold this feed back).
-- A transaction that ended after the snapshot is no longer listed, so its database is
-- unknown and it counts: the horizon only ever errs low (a reader waits), never high.
CREATE FUNCTION event_horizon() RETURNS bigint
LANGUAGE sql STABLE AS $$
    WITH snap AS (SELECT pg_current_snapshot() AS s)
    SELECT coalesce(
        (SELECT min(x) FROM snap, pg_snapshot_xip(snap.s) x
         WHERE NOT EXISTS (
             SELECT 1 FROM pg_stat_get_activity(NULL) a
             WHERE a.backend_xid = xid(x) AND a.datid IS NOT NULL
               AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database()))),
        (SELECT pg_snapshot_xmax(snap.s) FROM snap))::text::bigint;
$$;

-- A page of the feed after (p_after_xid, p_after_id), oldest first, as JSON:
-- {"horizon": the position below which every transaction has ended, "events": [...],
--  "held": true when committed events past the horizon wait for an older transaction,
--  "pruned": [xid, id] the newest position retention deleted}.
-- Only the filters given are in the query, so each plan is an index range scan.
-- psql: SELECT read_events(0, 0, 20);
CREATE FUNCTION read_events(p_after_xid bigint, p_after_id bigint, p_limit integer,
                            p_session_id text DEFAULT NULL, p_kinds text[] DEFAULT NULL,
                            p_viewer text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    -- A STABLE function reads under its caller's one snapshot: the horizon and the page
    -- below come from the same one, so every transaction under the horizon is in it.
    horizon bigint := event_horizon();
    filters text := '';
    page jsonb;
    held boolean := false;
    r event_retention;
BEGIN
    IF p_session_id IS NOT NULL THEN filters := filters || format(' AND e.session_id = %L', p_session_id); END IF;
    IF p_kinds IS NOT NULL THEN filters := filters || format(' AND e.kind = ANY (%L::text[])', p_kinds); END IF;
    IF p_viewer IS NOT NULL THEN
        filters := filters || format(' AND (e.visible_to IS NULL OR %L = ANY (e.visible_to))', p_viewer);
    END IF;
    EXECUTE format(
        'SELECT coalesce(jsonb_agg(event_json(e) ORDER BY e.xid, e.id), ''[]'') FROM (SELECT * FROM events e'
        ' WHERE e.xid >= %s AND (e.xid, e.id) > (%s, %s) AND e.xid < %s%s ORDER BY e.xid, e.id LIMIT %s) e',
        p_after_xid, p_after_xid, p_after_id, horizon, filters, p_limit)
    INTO page;
    IF jsonb_array_length(page) = 0 THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM events e WHERE e.xid >= %s AND (e.xid, e.id) > (%s, %s)%s)',
                       greatest(p_after_xid, horizon), p_after_xid, p_after_id, filters)
        INTO held;
    END IF;
    SELECT * INTO r FROM event_retention;
    RETURN jsonb_build_object('horizon', horizon, 'events', page, 'held', held,
                              'pruned', jsonb_build_array(r.pruned_xid, r.pruned_id));
END;
$$;

-- One event as its readers see it: refs from ref/version/detail, the summary derived
-- for the narrow rows the queue's hot path writes.
CREATE FUNCTION event_json(e events) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    family text := split_part(e.kind, '.', 1);
    refs jsonb := coalesce(e.detail, '{}'::jsonb);
    summary text := e.summary;
    t record;
BEGIN
    IF e.ref IS NOT NULL THEN
        refs := refs || jsonb_build_object(CASE family WHEN 'chunk' THEN 'chunk_id' WHEN 'memory' THEN 'key'
                                               WHEN 'artifact' THEN 'name' WHEN 'task' THEN 'task_id'
                                               WHEN 'message' THEN 'message_id'
                                               WHEN 'reservation' THEN 'reservation_id' ELSE 'ref' END, e.ref);
    END IF;
    IF e.version IS NOT NULL THEN
        refs := refs || jsonb_build_object(CASE family WHEN 'task' THEN 'attempt' ELSE 'version' END, e.version);
    END IF;
    IF summary IS NULL AND family = 'task' THEN
        SELECT coalesce('"' || left(title, 80) || '"', id) AS label, task_type, agent_name INTO t
        FROM tasks WHERE id = e.ref;
        summary := CASE e.kind
            WHEN 'task.created' THEN format('%s task %s created%s', t.task_type, coalesce(t.label, e.ref),
                                            coalesce(' for ' || t.agent_name, ''))
            WHEN 'task.claimed' THEN format('task %s claimed by %s (attempt %s)', coalesce(t.label, e.ref), e.agent, e.version)
            WHEN 'task.started' THEN format('task %s started by %s', coalesce(t.label, e.ref), e.agent)
            WHEN 'task.completed' THEN format('task %s completed by %s', coalesce(t.label, e.ref), e.agent)
        END;
    END IF;
    RETURN jsonb_build_object('xid', e.xid, 'id', e.id, 'at', e.at, 'session_id', e.session_id, 'agent', e.agent,
                              'kind', e.kind, 'refs', refs, 'summary', left(coalesce(summary, e.kind), 200));
END;
$$;

-- Retention: deletes up to p_limit events older than p_keep (the BRIN index finds the old
-- block ranges without reading the rest) and moves the pruned mark past them.
CREATE FUNCTION prune_events(p_keep interval, p_limit integer DEFAULT 10000) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    last record;
BEGIN
    WITH gone AS (
        DELETE FROM events WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM events WHERE at < now() - p_keep LIMIT p_limit))
        RETURNING xid, id
    )
    SELECT count(*) AS n, (SELECT g.xid FROM gone g ORDER BY g.xid DESC, g.id DESC LIMIT 1) AS xid,
           (SELECT g.id FROM gone g ORDER BY g.xid DESC, g.id DESC LIMIT 1) AS id
    INTO last FROM gone;
    IF last.n > 0 THEN
        UPDATE event_retention
        SET pruned_xid = last.xid, pruned_id = last.id
        WHERE (pruned_xid, pruned_id) < (last.xid, last.id);
    END IF;
    RETURN last.n;
END;
$$;

-- 0001_core: the six tables of the product, activity tracking, the active_sessions view.
-- The queue's indexes, triggers, functions (claim_task) and view (task_queue) are in 0003.
-- Applied inside one transaction by mcp_sessions.migrations (which also keeps schema_migrations).

-- Sessions ------------------------------------------------------------------

CREATE TABLE sessions (
    id            text PRIMARY KEY,
    title         text NOT NULL,
    participants  jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(participants) = 'array'),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'completed')),
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    created_by    text NOT NULL,
    created       timestamptz NOT NULL DEFAULT now(),
    -- Bumped by changes to the session row itself; writes to its contents land in
    -- session_activity instead (see below), and readers take the greater of the two.
    last_activity timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_last_activity ON sessions (last_activity DESC, id);
CREATE INDEX sessions_participants ON sessions USING gin (participants jsonb_path_ops);

-- Activity tracking without a hot row: every write to a session's contents upserts
-- one of 32 stripes keyed by the writer's backend, so concurrent writers to one
-- session almost never wait on each other (a trigger updating sessions.last_activity
-- would hold that row's lock until commit and serialize them all).
CREATE TABLE session_activity (
    session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    stripe     smallint NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (session_id, stripe)
);

CREATE FUNCTION touch_session_activity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- At most one write per second per session and stripe: last_activity answers "when
    -- did anyone last work here" (to the second), and a busy queue or a bulk import must
    -- not pay a write for every row.
    IF EXISTS (SELECT 1 FROM session_activity
               WHERE session_id = NEW.session_id AND stripe = pg_backend_pid() % 32
                 AND at > now() - interval '1 second') THEN
        RETURN NULL;
    END IF;
    INSERT INTO session_activity (session_id, stripe, at)
    VALUES (NEW.session_id, pg_backend_pid() % 32, now())
    ON CONFLICT (session_id, stripe) DO UPDATE SET at = EXCLUDED.at
        WHERE session_activity.at < EXCLUDED.at;
    RETURN NULL;
END;
$$;

CREATE FUNCTION session_last_activity(p_session_id text, p_own timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT greatest(p_own, (SELECT max(at) FROM session_activity WHERE session_id = p_session_id));
$$;

-- Conversation chunks -----------------------------------------------------------

CREATE TABLE conversation_chunks (
    session_id      text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chunk_id        text NOT NULL,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    content         text NOT NULL,
    size            integer NOT NULL,
    content_sha256  bytea NOT NULL,
    format          text NOT NULL CHECK (format IN ('dialogue', 'summary', 'transcript')),
    extracted_items jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_by      text NOT NULL,
    created         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, chunk_id)
);
CREATE INDEX conversation_chunks_session_seq ON conversation_chunks (session_id, seq);
CREATE TRIGGER conversation_chunks_activity AFTER INSERT OR UPDATE ON conversation_chunks
    FOR EACH ROW EXECUTE FUNCTION touch_session_activity();

-- Memories ---------------------------------------------------------------------

CREATE TABLE memories (
    session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    key        text NOT NULL,
    type       text NOT NULL CHECK (type IN ('idea', 'decision', 'question', 'action_item',
                                             'context', 'preference', 'fact', 'risk')),
    content    jsonb NOT NULL,
    tags       text[] NOT NULL DEFAULT '{}',
    version    integer NOT NULL DEFAULT 1,
    created_by text NOT NULL,
    updated_by text NOT NULL,
    created    timestamptz NOT NULL DEFAULT now(),
    updated    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, key)
);
CREATE INDEX memories_session_type ON memories (session_id, type);
CREATE INDEX memories_tags ON memories USING gin (tags);
CREATE TRIGGER memories_activity AFTER INSERT OR UPDATE ON memories
    FOR EACH ROW EXECUTE FUNCTION touch_session_activity();

-- Tasks ------------------------------------------------------------------------

CREATE TABLE tasks (
    id               text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    session_id       text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    title            text,
    agent_name       text,  -- the agent meant to work it; NULL: any agent
    task_type        text NOT NULL CHECK (task_type IN ('code', 'research', 'document', 'analysis')),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'claimed', 'running', 'completed', 'failed', 'cancelled')),
    priority         integer NOT NULL DEFAULT 0,
    input_data       jsonb NOT NULL DEFAULT '{}'::jsonb,
    output_data      jsonb,
    error            text,
    process_id       integer,
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    run_after        timestamptz NOT NULL DEFAULT now(),
    claim_token      uuid,
    claimed_by       text,
    claimed_at       timestamptz,
    lease_expires_at timestamptz,
    created_by       text NOT NULL,
    created          timestamptz NOT NULL DEFAULT now(),
    updated          timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX tasks_lease_expiry ON tasks (lease_expires_at) WHERE status IN ('claimed', 'running');
CREATE INDEX tasks_session_created ON tasks (session_id, created, id);

-- Artifacts --------------------------------------------------------------------

CREATE TABLE artifacts (
    id             text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    session_id     text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    name           text NOT NULL,
    version        integer NOT NULL,
    type           text NOT NULL CHECK (type IN ('code', 'document', 'research', 'prd', 'report')),
    format         text NOT NULL,
    content        text NOT NULL,
    size           integer NOT NULL,
    content_sha256 bytea NOT NULL,
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    created_by     text NOT NULL,
    created        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, name, version)
);
CREATE INDEX artifacts_session_created ON artifacts (session_id, created, id);
CREATE TRIGGER artifacts_activity AFTER INSERT OR UPDATE ON artifacts
    FOR EACH ROW EXECUTE FUNCTION touch_session_activity();

-- Agents -----------------------------------------------------------------------

CREATE TABLE agents (
    name         text PRIMARY KEY,
    type         text NOT NULL,
    command      text,
    capabilities jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(capabilities) = 'array'),
    status       text NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'busy', 'offline', 'error')),
    created      timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz
);

INSERT INTO agents (name, type, command, capabilities, status) VALUES
    ('claude_code', 'coding', 'claude', '["code", "analysis", "document"]', 'available'),
    ('codex', 'coding', 'codex', '["code", "analysis"]', 'available'),
    ('gemini_cli', 'coding', 'gemini', '["code", "research", "analysis"]', 'available'),
    ('researcher', 'research', NULL, '["research", "document"]', 'available')
ON CONFLICT (name) DO NOTHING;

-- Views ------------------------------------------------------------------------

CREATE VIEW active_sessions AS
SELECT s.id, s.title, s.participants, s.status, s.created,
       session_last_activity(s.id, s.last_activity) AS last_activity,
       (SELECT count(*) FROM conversation_chunks c WHERE c.session_id = s.id) AS chunk_count,
       (SELECT count(*) FROM memories m WHERE m.session_id = s.id) AS memory_count,
       (SELECT count(*) FROM tasks t WHERE t.session_id = s.id) AS task_count,
       (SELECT count(*) FROM artifacts a WHERE a.session_id = s.id) AS artifact_count
FROM sessions s
WHERE s.status = 'active';

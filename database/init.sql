-- mcp-sessions schema, generated from mcp_sessions/migrations by `mcp-sessions db init-sql`.
-- Do not edit: change the migrations and regenerate. A test checks the two agree.
BEGIN;
SELECT pg_advisory_xact_lock(7311412095231);
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- >>> migration 0001_core

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
INSERT INTO schema_migrations (version, name, checksum) VALUES (1, 'core', 'd214665923482b5fccd257f98fc95d9689a61d83aeef1fb8c01be48a58794c7d');

-- >>> migration 0002_search

-- 0002_search: full-text search over every byte of chunks, memories and artifacts.
--
-- Content is indexed in segments of about 4 KB (plus a 200-byte overlap with the next
-- segment, so a phrase across a cut is still found): a tsvector caps at 1 MB and
-- clamps positions at 16383, and ranking and ts_headline cost grows with the size of
-- the document, so matching, ranking and snippets only ever touch small pieces.
-- Triggers fill the segments in the same transaction as the content (the import path
-- gets it for free). Each segment's tsvector holds the stemmed words of the configured
-- text search configuration plus whole identifiers (claim_task, postgres_backend.py,
-- v2.1.0), which the parser would split. A vocabulary of distinct lexemes, with a
-- trigram index, serves typo matching: trigrams over megabytes of text would be as
-- large as the text, trigrams over its words are small.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The configuration used to index, read by the triggers and by every query, so the
-- two always agree. Changed (with a full reindex) by search_set_config().
CREATE TABLE search_settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    config    regconfig NOT NULL DEFAULT 'english'
);
INSERT INTO search_settings DEFAULT VALUES;

CREATE TABLE search_segments (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('chunk', 'memory', 'artifact')),
    session_id    text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    doc_id        text NOT NULL,     -- chunk_id, memory key or artifact id
    seg           integer NOT NULL,  -- 0, 1, ... within the document
    start_char    integer NOT NULL,  -- where the segment starts in the content, in characters
    body          text NOT NULL,     -- the segment's text (what snippets are cut from)
    tsv           tsvector NOT NULL,
    created_by    text NOT NULL,
    created       timestamptz NOT NULL,
    memory_type   text,
    tags          text[],
    artifact_type text
);
-- Keep tsvectors in the row (compressed if possible), the text out of it: rechecking a
-- phrase and ranking read the tsvector of every candidate, and a TOAST lookup apiece
-- made those 2-3x slower.
ALTER TABLE search_segments ALTER COLUMN tsv SET STORAGE MAIN;
-- One GIN index per kind: each query branch names its kind, so a memory search never
-- walks the posting lists of transcript segments.
CREATE INDEX search_segments_chunk_tsv ON search_segments USING gin (tsv) WHERE kind = 'chunk';
CREATE INDEX search_segments_memory_tsv ON search_segments USING gin (tsv) WHERE kind = 'memory';
CREATE INDEX search_segments_artifact_tsv ON search_segments USING gin (tsv) WHERE kind = 'artifact';
-- Without kind: a btree with kind in it would let the planner answer `kind = 'chunk'`
-- from it and test every chunk's tsvector, instead of asking the GIN index.
CREATE INDEX search_segments_doc ON search_segments (session_id, doc_id);

-- Typo matching: distinct lexemes and identifiers, fed from a queue of new segments
-- by search_refresh_vocabulary() (writers never touch the shared vocabulary, so
-- concurrent writers can't deadlock on its unique index).
CREATE TABLE search_vocab (term text PRIMARY KEY);
CREATE INDEX search_vocab_trgm ON search_vocab USING gin (term gin_trgm_ops);
CREATE TABLE search_vocab_queue (segment_id bigint PRIMARY KEY);

-- Whole identifiers of a text, lowercased: tokens with an underscore, a letter-digit
-- mix, or inner . : / - (claim_task, v2.1.0, postgres_backend.py, http/1.1), plus the
-- path parts and snake_case parts of compound ones (src/db.py -> db.py,
-- store.claim_task -> claim_task).
CREATE FUNCTION search_idents(p_text text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH tok AS (
        SELECT DISTINCT rtrim(lower(m[1]), '.:/-') AS t
        FROM regexp_matches(p_text,
            '([[:alnum:]_]*(?:_|[[:alpha:]][[:digit:]]|[[:digit:]][[:alpha:]]|[[:alnum:]_][.:/-][[:alnum:]_])[[:alnum:]_.:/-]*)',
            'g') AS m
    )
    SELECT coalesce(array_agg(DISTINCT x), '{}')
    FROM tok, LATERAL (
        SELECT tok.t
        UNION ALL
        SELECT p FROM regexp_split_to_table(tok.t, '[/:]+') AS p WHERE tok.t ~ '[/:]'
        UNION ALL
        SELECT p FROM regexp_split_to_table(tok.t, '[.:/-]+') AS p
        WHERE p LIKE '%\_%' OR p ~ '[[:alpha:]][[:digit:]]|[[:digit:]][[:alpha:]]'
    ) AS parts(x)
    WHERE length(x) BETWEEN 2 AND 200;
$$;

-- The first byte offset >= p_at where a segment may end: just after a whitespace byte
-- within the next 256 bytes, else at the next UTF-8 character boundary.
CREATE FUNCTION search_cut(p_raw bytea, p_at integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    total integer := length(p_raw);
    q integer;
    b integer;
BEGIN
    IF p_at >= total THEN
        RETURN total;
    END IF;
    FOR q IN p_at .. least(p_at + 255, total - 1) LOOP
        b := get_byte(p_raw, q);
        IF b IN (32, 10, 9, 13) THEN
            RETURN q + 1;
        END IF;
    END LOOP;
    q := p_at;
    WHILE q < total AND (get_byte(p_raw, q) & 192) = 128 LOOP
        q := q + 1;
    END LOOP;
    RETURN q;
END;
$$;

-- Index one document: its title (weight A, first segment only) and its content, in
-- segments. Works on bytes (substring of bytea is O(1); substr of multibyte text
-- walks from the start, which would make a 30 MB chunk quadratic).
CREATE FUNCTION search_index(
    p_kind text, p_session_id text, p_doc_id text, p_title text, p_content text,
    p_created_by text, p_created timestamptz,
    p_memory_type text DEFAULT NULL, p_tags text[] DEFAULT NULL, p_artifact_type text DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    cfg regconfig := (SELECT config FROM search_settings);
    raw bytea := convert_to(p_content, 'UTF8');
    total integer := length(raw);
    seg_size constant integer := 4000;
    overlap constant integer := 200;
    s integer := 0;
    e integer;
    o integer;
    n integer := 0;
    chars integer := 0;
    core text;
    body text;
    vec tsvector;
    new_id bigint;
BEGIN
    LOOP
        e := search_cut(raw, s + seg_size);
        o := CASE WHEN e >= total THEN total ELSE search_cut(raw, e + overlap) END;
        core := convert_from(substring(raw FROM s + 1 FOR e - s), 'UTF8');
        body := core || convert_from(substring(raw FROM e + 1 FOR o - e), 'UTF8');
        vec := to_tsvector(cfg, body) || array_to_tsvector(search_idents(body));
        IF n = 0 AND p_title IS NOT NULL THEN
            vec := setweight(to_tsvector(cfg, replace(p_title, '_', ' '))
                             || array_to_tsvector(search_idents(p_title)), 'A') || vec;
        END IF;
        INSERT INTO search_segments (kind, session_id, doc_id, seg, start_char, body, tsv, created_by, created,
                                     memory_type, tags, artifact_type)
        VALUES (p_kind, p_session_id, p_doc_id, n, chars, body, vec, p_created_by, p_created,
                p_memory_type, p_tags, p_artifact_type)
        RETURNING id INTO new_id;
        INSERT INTO search_vocab_queue (segment_id) VALUES (new_id);
        chars := chars + length(core);
        n := n + 1;
        s := e;
        EXIT WHEN s >= total;
    END LOOP;
END;
$$;

-- What a memory says, as text: a string as is, otherwise its string and number values.
CREATE FUNCTION search_memory_text(p_content jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(p_content)
        WHEN 'string' THEN p_content #>> '{}'
        ELSE coalesce((SELECT string_agg(v #>> '{}', E'\n')
                       FROM jsonb_path_query(p_content, 'strict $.**') AS v
                       WHERE jsonb_typeof(v) IN ('string', 'number')), '')
    END;
$$;

CREATE FUNCTION search_index_chunk() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM search_segments WHERE session_id = OLD.session_id AND kind = 'chunk' AND doc_id = OLD.chunk_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM search_index('chunk', NEW.session_id, NEW.chunk_id, NULL, NEW.content, NEW.created_by, NEW.created);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION search_index_memory() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM search_segments WHERE session_id = OLD.session_id AND kind = 'memory' AND doc_id = OLD.key;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM search_index('memory', NEW.session_id, NEW.key, NEW.key, search_memory_text(NEW.content),
                             NEW.created_by, NEW.created, NEW.type, NEW.tags, NULL);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION search_index_artifact() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM search_segments WHERE session_id = OLD.session_id AND kind = 'artifact' AND doc_id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM search_index('artifact', NEW.session_id, NEW.id, NEW.name, NEW.content,
                             NEW.created_by, NEW.created, NULL, NULL, NEW.type);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER conversation_chunks_search AFTER INSERT OR DELETE OR UPDATE OF content, chunk_id ON conversation_chunks
    FOR EACH ROW EXECUTE FUNCTION search_index_chunk();
CREATE TRIGGER memories_search AFTER INSERT OR DELETE OR UPDATE ON memories
    FOR EACH ROW EXECUTE FUNCTION search_index_memory();
CREATE TRIGGER artifacts_search AFTER INSERT OR DELETE OR UPDATE OF content, name, type ON artifacts
    FOR EACH ROW EXECUTE FUNCTION search_index_artifact();

-- Move new segments' lexemes into the vocabulary, at most p_limit segments per call;
-- returns how many segments it took. Sorted inserts: two refreshers can't deadlock.
-- Hash-like lexemes (4+ digits, or over 40 characters) stay out of the vocabulary.
CREATE FUNCTION search_refresh_vocabulary(p_limit integer DEFAULT 5000) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    taken integer;
BEGIN
    WITH batch AS (
        DELETE FROM search_vocab_queue
        WHERE segment_id IN (SELECT segment_id FROM search_vocab_queue ORDER BY segment_id
                             LIMIT p_limit FOR UPDATE SKIP LOCKED)
        RETURNING segment_id
    ), terms AS (
        SELECT DISTINCT u.lexeme
        FROM batch JOIN search_segments s ON s.id = batch.segment_id, unnest(s.tsv) AS u
        WHERE length(u.lexeme) BETWEEN 3 AND 40 AND u.lexeme !~ '[0-9].*[0-9].*[0-9].*[0-9]'
    ), ins AS (
        INSERT INTO search_vocab (term) SELECT lexeme FROM terms ORDER BY lexeme ON CONFLICT DO NOTHING
    )
    SELECT count(*) INTO taken FROM batch;
    RETURN taken;
END;
$$;

-- The segments of the asked kinds that match p_query and the filters, at most p_cap
-- per kind. Always a bitmap scan of the GIN index (possibly ANDed with the session
-- index), which a LIMIT stops early: the planner can't estimate a phrase or a
-- combination of words (it multiplies the words' frequencies), and its other choice,
-- walking the table and testing every row, costs seconds when the guess is wrong. The
-- statement is built with only the filters given, as constants, so each is planned for
-- what it asks. A word found in half the corpus ranks p_cap of its matches (in table
-- order) rather than all of them.
CREATE FUNCTION search_candidates(
    p_query tsquery, p_cap integer, p_kinds text[], p_session_id text, p_memory_types text[],
    p_tags_any text[], p_tags_all text[], p_created_by text, p_after timestamptz, p_before timestamptz,
    p_artifact_types text[]
) RETURNS SETOF search_segments
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_indexscan = off SET enable_indexonlyscan = off
AS $$
DECLARE
    common text := '';
    extra text;
    k text;
    parts text[] := '{}';
BEGIN
    IF p_session_id IS NOT NULL THEN common := common || format(' AND s.session_id = %L', p_session_id); END IF;
    IF p_created_by IS NOT NULL THEN common := common || format(' AND s.created_by = %L', p_created_by); END IF;
    IF p_after IS NOT NULL THEN common := common || format(' AND s.created >= %L::timestamptz', p_after); END IF;
    IF p_before IS NOT NULL THEN common := common || format(' AND s.created < %L::timestamptz', p_before); END IF;
    FOREACH k IN ARRAY ARRAY['chunk', 'memory', 'artifact'] LOOP
        CONTINUE WHEN NOT k = ANY (p_kinds);
        extra := '';
        IF k = 'memory' THEN
            IF p_memory_types IS NOT NULL THEN
                extra := extra || format(' AND s.memory_type = ANY (%L::text[])', p_memory_types);
            END IF;
            IF p_tags_any IS NOT NULL THEN extra := extra || format(' AND s.tags && %L::text[]', p_tags_any); END IF;
            IF p_tags_all IS NOT NULL THEN extra := extra || format(' AND s.tags @> %L::text[]', p_tags_all); END IF;
        ELSIF k = 'artifact' AND p_artifact_types IS NOT NULL THEN
            extra := format(' AND s.artifact_type = ANY (%L::text[])', p_artifact_types);
        END IF;
        parts := parts || format('(SELECT s.* FROM search_segments s WHERE s.kind = %L AND s.tsv @@ %L::tsquery%s%s LIMIT %s)',
                                 k, p_query, common, extra, p_cap);
    END LOOP;
    IF cardinality(parts) > 0 THEN
        RETURN QUERY EXECUTE array_to_string(parts, ' UNION ALL ');
    END IF;
END;
$$;

-- The same for chunks alone when the query is one word found in most segments: then
-- reading the table until p_cap rows match is cheaper than building a bitmap of every
-- match first (the caller decides, from the planner's statistics).
CREATE FUNCTION search_candidates_by_scan(p_query tsquery, p_cap integer) RETURNS SETOF search_segments
LANGUAGE sql STABLE
SET enable_bitmapscan = off SET enable_indexscan = off SET enable_indexonlyscan = off
    SET synchronize_seqscans = off  -- always from the first block: the same rows as the bitmap path
AS $$
    SELECT s.* FROM search_segments s WHERE s.kind = 'chunk' AND s.tsv @@ p_query LIMIT p_cap;
$$;

-- Switch the text search configuration and rebuild every segment with it.
CREATE FUNCTION search_set_config(p_config regconfig) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE search_settings SET config = p_config;
    DELETE FROM search_segments;
    DELETE FROM search_vocab_queue;
    DELETE FROM search_vocab;
    PERFORM search_index('chunk', session_id, chunk_id, NULL, content, created_by, created)
    FROM conversation_chunks;
    PERFORM search_index('memory', session_id, key, key, search_memory_text(content), created_by, created, type, tags)
    FROM memories;
    PERFORM search_index('artifact', session_id, id, name, content, created_by, created, NULL, NULL, type)
    FROM artifacts;
END;
$$;
INSERT INTO schema_migrations (version, name, checksum) VALUES (2, 'search', '50d48e0a4d6cfd8d7b9691d81c4ca46695ec022457e2ec6ec7baf8364548451a');

-- >>> migration 0003_task_queue

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
INSERT INTO schema_migrations (version, name, checksum) VALUES (3, 'task_queue', 'e0faa24cac318953fb43dfcf2c442fb361a077ef319958841f3c531082e738ff');

-- >>> migration 0004_auth

-- 0004_auth: per-agent bearer tokens for the HTTP transport.
-- Only a SHA-256 of each token is stored (tokens are 256 random bits, so a fast hash
-- is enough: there is nothing to brute-force). The public id is part of the token,
-- so verification is a primary-key lookup followed by a constant-time compare.

CREATE TABLE agent_tokens (
    id           text PRIMARY KEY,
    agent        text NOT NULL CHECK (length(agent) BETWEEN 1 AND 100),
    token_sha256 bytea NOT NULL CHECK (length(token_sha256) = 32),
    created      timestamptz NOT NULL DEFAULT now(),
    last_used    timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX agent_tokens_agent ON agent_tokens (agent, created);
INSERT INTO schema_migrations (version, name, checksum) VALUES (4, 'auth', '9644c01b04da46e8063416e49a336b8c6c02e2784dc773a73e78aaaefa544133');

-- >>> migration 0005_claim_without_index_churn

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
INSERT INTO schema_migrations (version, name, checksum) VALUES (5, 'claim_without_index_churn', 'f5e048f8bd909934af2c376ab7f40167e3a9a9052b274ca889f83f70cef2b4da');

-- >>> migration 0006_lean_task_writes

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
INSERT INTO schema_migrations (version, name, checksum) VALUES (6, 'lean_task_writes', '25a0f3ed3a87eae8a7bb2a814a534129e4d89e50aff26e95c81170ea5fb0dda2');

-- >>> migration 0007_events

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
INSERT INTO schema_migrations (version, name, checksum) VALUES (7, 'events', 'c9bd7b0ba4e5c5b3c91f647ca7af8eccb43fd317ab1753297693098634ca9eca');

-- >>> migration 0008_search_hardening

-- 0008_search_hardening: search finds what is there.
--
-- 1. Typos right after a write. The typo vocabulary was fed from a queue of new
--    segments, a bounded slice per fuzzy query, so a 12 MB chunk's words stayed
--    invisible to typo matching for many queries (and forever to read-only readers).
--    Now each transaction feeds the vocabulary with the terms of the segments it wrote,
--    when it commits (a deferred trigger on the queue), in one batch: whatever is
--    committed is in the vocabulary, and a bulk load pays one probe per distinct term
--    of the transaction rather than one per term of each document. The vocabulary loses
--    its unique index so that two writers adding the same new word never wait for each
--    other (the second would wait for the first's commit, and two transactions adding
--    words in different orders could deadlock); a word added twice by concurrent
--    writers is a harmless duplicate, read through DISTINCT.
-- 2. The latest artifact version. Each artifact segment says whether a newer version of
--    its artifact exists (`superseded`, kept by the artifact trigger), and searches skip
--    superseded segments unless asked for history.
-- 3. Phrases as pasted. A phrase's tsquery no longer asks for the parser's compound
--    tokens (dry-run, mmap-like, e-mail), whose presence depends on the text around
--    them ("non-dry-run" has no 'dry-run' lexeme), only for their parts, which are
--    always there; and a phrase with stop words gets a pattern of its words that the
--    segment's text must match, so "the name which it will" means that, not 'name'.

-- 1. The vocabulary, fed by writers -------------------------------------------------

-- Whatever the queue still held joins the vocabulary now.
INSERT INTO search_vocab (term)
SELECT DISTINCT u.lexeme
FROM search_vocab_queue q JOIN search_segments s ON s.id = q.segment_id, unnest(tsvector_to_array(s.tsv)) AS u(lexeme)
WHERE length(u.lexeme) BETWEEN 3 AND 40 AND u.lexeme !~ '[0-9].*[0-9].*[0-9].*[0-9]'
ORDER BY 1
ON CONFLICT DO NOTHING;
DELETE FROM search_vocab_queue;
DROP FUNCTION search_refresh_vocabulary(integer);
ALTER TABLE search_vocab DROP CONSTRAINT search_vocab_pkey;
CREATE INDEX search_vocab_term ON search_vocab (term);

-- At commit, for each segment queued by the transaction, in the order they were queued:
-- the first call moves the terms of all of them into the vocabulary (its row has the
-- transaction's lowest id, and the queue holds no one else's rows: others' are
-- invisible until they commit, and they empty theirs before), the others find their row
-- gone. Both by the primary key: a scan of the queue would read every row deleted since
-- the last vacuum. Hash-like terms (4+ digits, or over 40 characters) stay out.
CREATE FUNCTION search_feed_vocabulary() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM search_vocab_queue WHERE segment_id = NEW.segment_id) THEN
        RETURN NULL;
    END IF;
    WITH batch AS (
        DELETE FROM search_vocab_queue WHERE segment_id >= NEW.segment_id RETURNING segment_id
    ), d AS MATERIALIZED (
        -- A scalar subquery, so each segment is read by its key whatever the plan
        -- (a generic plan would hash-join the whole table for a one-row batch).
        SELECT DISTINCT t
        FROM batch, unnest(tsvector_to_array((SELECT s.tsv FROM search_segments s WHERE s.id = batch.segment_id))) AS t
    )
    INSERT INTO search_vocab (term)
    SELECT t FROM d
    WHERE NOT EXISTS (SELECT 1 FROM search_vocab v WHERE v.term = d.t)
      AND length(t) BETWEEN 3 AND 40 AND t !~ '[0-9].*[0-9].*[0-9].*[0-9]';
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER search_vocab_queue_feed AFTER INSERT ON search_vocab_queue
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION search_feed_vocabulary();

-- 2. Artifact versions ----------------------------------------------------------------

ALTER TABLE search_segments ADD COLUMN superseded boolean NOT NULL DEFAULT false;
UPDATE search_segments s SET superseded = true
FROM artifacts a
WHERE s.kind = 'artifact' AND s.session_id = a.session_id AND s.doc_id = a.id
  AND a.version < (SELECT max(b.version) FROM artifacts b WHERE b.session_id = a.session_id AND b.name = a.name);

-- Mark the segments of every version of one artifact name: superseded unless newest.
CREATE FUNCTION search_mark_latest(p_session_id text, p_name text) RETURNS void
LANGUAGE sql AS $$
    UPDATE search_segments s SET superseded = (a.version < m.top)
    FROM artifacts a,
         (SELECT max(version) AS top FROM artifacts WHERE session_id = p_session_id AND name = p_name) m
    WHERE a.session_id = p_session_id AND a.name = p_name
      AND s.kind = 'artifact' AND s.session_id = p_session_id AND s.doc_id = a.id
      AND s.superseded IS DISTINCT FROM (a.version < m.top);
$$;

CREATE OR REPLACE FUNCTION search_index_artifact() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM search_segments WHERE session_id = OLD.session_id AND kind = 'artifact' AND doc_id = OLD.id;
        -- A session being deleted takes its segments with it: nothing to re-mark.
        IF EXISTS (SELECT 1 FROM sessions WHERE id = OLD.session_id) THEN
            PERFORM search_mark_latest(OLD.session_id, OLD.name);
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM search_index('artifact', NEW.session_id, NEW.id, NEW.name, NEW.content,
                             NEW.created_by, NEW.created, NULL, NULL, NEW.type);
        PERFORM search_mark_latest(NEW.session_id, NEW.name);
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION search_set_config(p_config regconfig) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE search_settings SET config = p_config;
    DELETE FROM search_segments;
    DELETE FROM search_vocab_queue;
    DELETE FROM search_vocab;
    PERFORM search_index('chunk', session_id, chunk_id, NULL, content, created_by, created)
    FROM conversation_chunks;
    PERFORM search_index('memory', session_id, key, key, search_memory_text(content), created_by, created, type, tags)
    FROM memories;
    PERFORM search_index('artifact', session_id, id, name, content, created_by, created, NULL, NULL, type)
    FROM artifacts;
    UPDATE search_segments s SET superseded = true
    FROM artifacts a
    WHERE s.kind = 'artifact' AND s.session_id = a.session_id AND s.doc_id = a.id
      AND a.version < (SELECT max(b.version) FROM artifacts b WHERE b.session_id = a.session_id AND b.name = a.name);
END;
$$;

-- 3. Phrases -----------------------------------------------------------------------

-- A word or phrase as a tsquery (NULL when only stop words are left), and, when the
-- phrase has stop words, a case-insensitive pattern of its words (stop words as
-- written, other words as any word) for the text to match too. The tsquery is
-- phraseto_tsquery's without the lexemes of compound tokens (dry-run): each compound
-- still takes its position, so the distances stay those of the indexed text.
CREATE FUNCTION search_phrase(p_config regconfig, p_text text, OUT query tsquery, OUT pattern text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t record;
    pos integer := 0;
    last_pos integer;
    term tsquery;
    words text[] := '{}';
    stops boolean := false;
BEGIN
    FOR t IN SELECT alias, lexemes FROM ts_debug(p_config, p_text) LOOP
        -- Tokens no dictionary reads (spaces, punctuation) take no position.
        CONTINUE WHEN t.lexemes IS NULL;
        pos := pos + 1;
        CONTINUE WHEN t.alias IN ('asciihword', 'hword', 'numhword') OR cardinality(t.lexemes) = 0;
        SELECT string_agg(quote_literal(l), ' | ')::tsquery INTO term FROM unnest(t.lexemes) AS l;
        query := CASE WHEN query IS NULL THEN term ELSE tsquery_phrase(query, term, pos - last_pos) END;
        last_pos := pos;
    END LOOP;
    FOR t IN SELECT w FROM regexp_split_to_table(lower(p_text), '[^[:alnum:]]+') AS w WHERE w <> '' LOOP
        IF to_tsvector(p_config, t.w) = ''::tsvector THEN
            stops := true;
            words := words || t.w;
        ELSE
            words := words || '[[:alnum:]]+'::text;
        END IF;
    END LOOP;
    IF stops AND query IS NOT NULL AND cardinality(words) > 1 THEN
        pattern := '(^|[^[:alnum:]])' || array_to_string(words, '[^[:alnum:]]+') || '($|[^[:alnum:]])';
    END IF;
END;
$$;

-- The segments of the asked kinds that match p_query and the filters (as 0002's
-- search_candidates), skipping superseded artifact versions unless p_history, and
-- keeping only text that matches every one of p_patterns.
CREATE FUNCTION search_candidates_v2(
    p_query tsquery, p_cap integer, p_kinds text[], p_session_id text, p_memory_types text[],
    p_tags_any text[], p_tags_all text[], p_created_by text, p_after timestamptz, p_before timestamptz,
    p_artifact_types text[], p_history boolean, p_patterns text[]
) RETURNS SETOF search_segments
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_indexscan = off SET enable_indexonlyscan = off
AS $$
DECLARE
    common text := '';
    extra text;
    k text;
    p text;
    parts text[] := '{}';
BEGIN
    IF p_session_id IS NOT NULL THEN common := common || format(' AND s.session_id = %L', p_session_id); END IF;
    IF p_created_by IS NOT NULL THEN common := common || format(' AND s.created_by = %L', p_created_by); END IF;
    IF p_after IS NOT NULL THEN common := common || format(' AND s.created >= %L::timestamptz', p_after); END IF;
    IF p_before IS NOT NULL THEN common := common || format(' AND s.created < %L::timestamptz', p_before); END IF;
    FOREACH p IN ARRAY coalesce(p_patterns, '{}') LOOP
        common := common || format(' AND s.body ~* %L', p);
    END LOOP;
    FOREACH k IN ARRAY ARRAY['chunk', 'memory', 'artifact'] LOOP
        CONTINUE WHEN NOT k = ANY (p_kinds);
        extra := '';
        IF k = 'memory' THEN
            IF p_memory_types IS NOT NULL THEN
                extra := extra || format(' AND s.memory_type = ANY (%L::text[])', p_memory_types);
            END IF;
            IF p_tags_any IS NOT NULL THEN extra := extra || format(' AND s.tags && %L::text[]', p_tags_any); END IF;
            IF p_tags_all IS NOT NULL THEN extra := extra || format(' AND s.tags @> %L::text[]', p_tags_all); END IF;
        ELSIF k = 'artifact' THEN
            IF p_artifact_types IS NOT NULL THEN
                extra := format(' AND s.artifact_type = ANY (%L::text[])', p_artifact_types);
            END IF;
            IF NOT p_history THEN extra := extra || ' AND NOT s.superseded'; END IF;
        END IF;
        parts := parts || format('(SELECT s.* FROM search_segments s WHERE s.kind = %L AND s.tsv @@ %L::tsquery%s%s LIMIT %s)',
                                 k, p_query, common, extra, p_cap);
    END LOOP;
    IF cardinality(parts) > 0 THEN
        RETURN QUERY EXECUTE array_to_string(parts, ' UNION ALL ');
    END IF;
END;
$$;
DROP FUNCTION search_candidates(tsquery, integer, text[], text, text[], text[], text[], text,
                                timestamptz, timestamptz, text[]);
INSERT INTO schema_migrations (version, name, checksum) VALUES (8, 'search_hardening', 'd00bf5075e34a351338b7a9cb76a0eb2c4faeeabe1dda16c75641f760ddebde8');

-- >>> migration 0009_scale

-- 0009_scale: every listing on an index range scan, at any number of sessions.
--
-- * Activity is stored in sessions.last_activity itself (indexed), so list_sessions reads
--   its page off an index instead of computing session_last_activity() for every session
--   and sorting them (7.4 s at 1,000,000 sessions). The "no hot session row" property of
--   0001's striped session_activity table is kept another way: the triggers are deferred
--   to COMMIT, update the row at most once a second per session, and skip it (SKIP LOCKED)
--   when another transaction holds it. A writer never waits for another writer's open
--   transaction, and holds the session row only while its own COMMIT runs. The stored
--   time is at most a second behind the last write.
-- * Indexes whose order is each listing's order (see mcp_sessions/sql/*.sql), so a page
--   is a range scan from the cursor; the queries are built with only the filters given
--   (mcp_sessions.sql.build), so a generic plan never reads past what the page needs.
-- * Tasks gain indexes only on columns a claim does not change (created, agent_name, a
--   predicate on finished_at), so a claim stays a HOT update (see 0005).

-- Activity ------------------------------------------------------------------------------

UPDATE sessions s SET last_activity = a.at
FROM (SELECT session_id, max(at) AS at FROM session_activity GROUP BY session_id) a
WHERE a.session_id = s.id AND a.at > s.last_activity;

DROP TRIGGER conversation_chunks_activity ON conversation_chunks;
DROP TRIGGER memories_activity ON memories;
DROP TRIGGER artifacts_activity ON artifacts;
DROP TRIGGER tasks_activity ON tasks;
DROP TRIGGER tasks_finished_activity ON tasks;
DROP TABLE session_activity;

-- Runs at COMMIT (the triggers are deferred). Skipped without a query when this
-- connection already touched the session this second (the mark, as in 0005), and when
-- the writer asked to keep the session's stored time (an import restoring an archived
-- last_activity sets mcp_sessions.keep_activity_of for its transaction).
CREATE OR REPLACE FUNCTION touch_session_activity() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    mark text := NEW.session_id || '@' || floor(extract(epoch FROM now()))::bigint;
BEGIN
    IF current_setting('mcp_sessions.activity_mark', true) IS NOT DISTINCT FROM mark
       OR current_setting('mcp_sessions.keep_activity_of', true) IS NOT DISTINCT FROM NEW.session_id THEN
        RETURN NULL;
    END IF;
    -- SKIP LOCKED: a session row held by another writer's COMMIT (or an update_session)
    -- is left to it; that writer's time is as recent as ours, to the second.
    UPDATE sessions SET last_activity = now()
    WHERE id = (SELECT id FROM sessions
                WHERE id = NEW.session_id AND last_activity < now() - interval '1 second'
                FOR NO KEY UPDATE SKIP LOCKED);
    PERFORM set_config('mcp_sessions.activity_mark', mark, false);
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER conversation_chunks_activity AFTER INSERT OR UPDATE ON conversation_chunks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION touch_session_activity();
CREATE CONSTRAINT TRIGGER memories_activity AFTER INSERT OR UPDATE ON memories
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION touch_session_activity();
CREATE CONSTRAINT TRIGGER artifacts_activity AFTER INSERT OR UPDATE ON artifacts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION touch_session_activity();
-- A task's creation and its end (or requeue) count, not each claim or heartbeat (0006).
CREATE CONSTRAINT TRIGGER tasks_activity AFTER INSERT ON tasks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION touch_session_activity();
CREATE CONSTRAINT TRIGGER tasks_finished_activity AFTER UPDATE OF finished_at ON tasks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION touch_session_activity();

-- Kept for queries written against earlier versions: the stored time is the answer now.
CREATE OR REPLACE FUNCTION session_last_activity(p_session_id text, p_own timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$ SELECT p_own $$;

CREATE OR REPLACE VIEW active_sessions AS
SELECT s.id, s.title, s.participants, s.status, s.created,
       s.last_activity,
       (SELECT count(*) FROM conversation_chunks c WHERE c.session_id = s.id) AS chunk_count,
       (SELECT count(*) FROM memories m WHERE m.session_id = s.id) AS memory_count,
       (SELECT count(*) FROM tasks t WHERE t.session_id = s.id) AS task_count,
       (SELECT count(*) FROM artifacts a WHERE a.session_id = s.id) AS artifact_count
FROM sessions s
WHERE s.status = 'active';

-- Listing indexes ---------------------------------------------------------------------

-- list_sessions: newest activity first, read backwards; by status; by participant the
-- same walk with the containment test as a filter.
DROP INDEX sessions_last_activity;
CREATE INDEX sessions_activity ON sessions (last_activity, id);
CREATE INDEX sessions_status_activity ON sessions (status, last_activity, id);

-- list_memories: a session's memories oldest first, all of them or of one type (tags
-- filter the same walk).
DROP INDEX memories_session_type;
CREATE INDEX memories_session_created ON memories (session_id, created, key);
CREATE INDEX memories_session_type_created ON memories (session_id, type, created, key);

-- list_tasks without a session (with one: tasks_session_created), by target agent, and
-- the unfinished ones (pending, claimed, running) by themselves: a completed task leaves
-- that index, and a claim changes none of these columns.
CREATE INDEX tasks_created ON tasks (created, id);
CREATE INDEX tasks_agent_created ON tasks (agent_name, created, id) WHERE agent_name IS NOT NULL;
CREATE INDEX tasks_unfinished_created ON tasks (created, id) WHERE finished_at IS NULL;

-- list_artifacts: the latest version of each name, in name order.
CREATE INDEX artifacts_session_name_latest ON artifacts (session_id, name, version DESC);
INSERT INTO schema_migrations (version, name, checksum) VALUES (9, 'scale', 'a202a6b5de91a44f9c16ca0f389723c75c6318f6fe39ea0c46f71049f160ee53');

-- >>> migration 0010_coordination

-- 0010_coordination: messages between agents, and path reservations. Both write their
-- events through emit_event (0007) from triggers, so a row inserted in psql has its
-- event too, and a waiting read_inbox or watch is woken by it across processes.

-- Messages ------------------------------------------------------------------------------

CREATE TABLE messages (
    id           text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    session_id   text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq          bigint GENERATED ALWAYS AS IDENTITY,  -- insertion order: inboxes are newest first
    thread_id    text,      -- the first message of the thread it continues; NULL: it starts one
    created_by   text NOT NULL,
    recipients   text[],    -- NULL: everyone in the session (a broadcast)
    subject      text,
    body         text NOT NULL,
    importance   text NOT NULL DEFAULT 'normal' CHECK (importance IN ('low', 'normal', 'high', 'urgent')),
    ack_required boolean NOT NULL DEFAULT false,
    created      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_session_seq ON messages (session_id, seq);
CREATE INDEX messages_recipients ON messages USING gin (recipients);
CREATE INDEX messages_thread ON messages (thread_id) WHERE thread_id IS NOT NULL;

-- Per reader: when it read a message, when it acknowledged it.
CREATE TABLE message_receipts (
    message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    agent      text NOT NULL,
    read_at    timestamptz NOT NULL DEFAULT now(),
    acked_at   timestamptz,
    PRIMARY KEY (message_id, agent)
);

-- A message is activity in its session (at COMMIT, at most once a second: 0009).
CREATE CONSTRAINT TRIGGER messages_activity AFTER INSERT ON messages
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION touch_session_activity();

-- A direct message's event is visible only to its sender and recipients (watch over
-- HTTP filters on visible_to); its summary names the subject, never the body.
CREATE FUNCTION messages_emit_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM emit_event(
        NEW.session_id, 'message.sent', NEW.created_by,
        jsonb_build_object('message_id', NEW.id, 'thread_id', coalesce(NEW.thread_id, NEW.id),
                           'importance', NEW.importance, 'to', to_jsonb(NEW.recipients)),
        format('%s%s message from %s to %s: %s',
               CASE WHEN NEW.importance = 'normal' THEN '' ELSE NEW.importance || ' ' END,
               CASE WHEN NEW.ack_required THEN 'ack-required' ELSE '' END,
               NEW.created_by, coalesce(array_to_string(NEW.recipients, ', '), 'everyone'),
               coalesce(left(NEW.subject, 100), '(no subject)')),
        CASE WHEN NEW.recipients IS NULL THEN NULL ELSE NEW.created_by || NEW.recipients END);
    RETURN NULL;
END;
$$;
CREATE TRIGGER messages_events AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_emit_event();

-- Search: a message body is indexed like a chunk (its subject as the title); a direct
-- message's segments carry who may find it.
ALTER TABLE search_segments DROP CONSTRAINT search_segments_kind_check;
ALTER TABLE search_segments ADD CONSTRAINT search_segments_kind_check
    CHECK (kind IN ('chunk', 'memory', 'artifact', 'message'));
ALTER TABLE search_segments ADD COLUMN visible_to text[];
CREATE INDEX search_segments_message_tsv ON search_segments USING gin (tsv) WHERE kind = 'message';

CREATE FUNCTION search_index_message_row(p_message messages) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_index('message', p_message.session_id, p_message.id, p_message.subject, p_message.body,
                         p_message.created_by, p_message.created);
    IF p_message.recipients IS NOT NULL THEN
        UPDATE search_segments SET visible_to = p_message.created_by || p_message.recipients
        WHERE session_id = p_message.session_id AND kind = 'message' AND doc_id = p_message.id;
    END IF;
END;
$$;

CREATE FUNCTION search_index_message() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM search_segments WHERE session_id = OLD.session_id AND kind = 'message' AND doc_id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM search_index_message_row(NEW);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER messages_search AFTER INSERT OR DELETE OR UPDATE OF body, subject, recipients ON messages
    FOR EACH ROW EXECUTE FUNCTION search_index_message();

-- search_set_config() rebuilds the index of chunks, memories and artifacts after deleting
-- every segment; messages are rebuilt at that transaction's commit (a deferred trigger),
-- whichever version of search_set_config ran.
CREATE FUNCTION search_reindex_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.config IS DISTINCT FROM OLD.config THEN
        DELETE FROM search_segments WHERE kind = 'message';
        PERFORM search_index_message_row(m) FROM messages m;
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER search_settings_reindex_messages AFTER UPDATE ON search_settings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION search_reindex_messages();

-- The message segments matching p_query and the filters, at most p_cap; p_viewer (an
-- authenticated agent) finds broadcasts and the direct messages it sent or received,
-- NULL finds all. Built like search_candidates: only the filters given, a bitmap scan.
CREATE FUNCTION search_message_candidates(
    p_query tsquery, p_cap integer, p_session_id text, p_created_by text, p_after timestamptz,
    p_before timestamptz, p_viewer text
) RETURNS SETOF search_segments
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_indexscan = off SET enable_indexonlyscan = off
AS $$
DECLARE
    filters text := '';
BEGIN
    IF p_session_id IS NOT NULL THEN filters := filters || format(' AND s.session_id = %L', p_session_id); END IF;
    IF p_created_by IS NOT NULL THEN filters := filters || format(' AND s.created_by = %L', p_created_by); END IF;
    IF p_after IS NOT NULL THEN filters := filters || format(' AND s.created >= %L::timestamptz', p_after); END IF;
    IF p_before IS NOT NULL THEN filters := filters || format(' AND s.created < %L::timestamptz', p_before); END IF;
    IF p_viewer IS NOT NULL THEN
        filters := filters || format(' AND (s.visible_to IS NULL OR %L = ANY (s.visible_to))', p_viewer);
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT s.* FROM search_segments s WHERE s.kind = ''message'' AND s.tsv @@ %L::tsquery%s LIMIT %s',
        p_query, filters, p_cap);
END;
$$;

-- Path reservations -----------------------------------------------------------------------

-- Short-lived: not archived. A row is active until expires_at; release deletes it, and
-- expiry deletes it too (expire_reservations, run by every server's upkeep and by
-- reserve itself), each writing its event.
CREATE TABLE reservations (
    id         text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    agent      text NOT NULL,
    paths      text[] NOT NULL CHECK (cardinality(paths) > 0),
    exclusive  boolean NOT NULL DEFAULT true,
    reason     text,
    created    timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX reservations_session ON reservations (session_id, expires_at);
CREATE INDEX reservations_expires ON reservations (expires_at);

CREATE FUNCTION reservations_emit_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    gone text[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM emit_event(
            OLD.session_id, CASE WHEN OLD.expires_at <= now() THEN 'reservation.expired' ELSE 'reservation.released' END,
            OLD.agent, jsonb_build_object('reservation_id', OLD.id, 'paths', to_jsonb(OLD.paths)),
            CASE WHEN OLD.expires_at <= now()
                 THEN format('reservation of %s by %s expired', left(array_to_string(OLD.paths, ', '), 150), OLD.agent)
                 ELSE format('%s released %s', OLD.agent, left(array_to_string(OLD.paths, ', '), 150)) END);
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        gone := ARRAY(SELECT p FROM unnest(OLD.paths) p EXCEPT SELECT p FROM unnest(NEW.paths) p ORDER BY 1);
        IF cardinality(gone) > 0 THEN
            PERFORM emit_event(NEW.session_id, 'reservation.released', NEW.agent,
                               jsonb_build_object('reservation_id', NEW.id, 'paths', to_jsonb(gone)),
                               format('%s released %s', NEW.agent, left(array_to_string(gone, ', '), 150)));
            RETURN NULL;
        END IF;
        IF NEW.expires_at IS NOT DISTINCT FROM OLD.expires_at AND NEW.exclusive = OLD.exclusive THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM emit_event(
        NEW.session_id, 'reservation.granted', NEW.agent,
        jsonb_build_object('reservation_id', NEW.id, 'paths', to_jsonb(NEW.paths), 'exclusive', NEW.exclusive,
                           'expires_at', NEW.expires_at, 'renewed', TG_OP = 'UPDATE'),
        format('%s %s %s (%s, until %s)', NEW.agent, CASE WHEN TG_OP = 'UPDATE' THEN 'renewed' ELSE 'reserved' END,
               left(array_to_string(NEW.paths, ', '), 120), CASE WHEN NEW.exclusive THEN 'exclusive' ELSE 'shared' END,
               to_char(NEW.expires_at AT TIME ZONE 'UTC', 'HH24:MI:SS "UTC"')));
    RETURN NULL;
END;
$$;
CREATE TRIGGER reservations_events AFTER INSERT OR UPDATE OR DELETE ON reservations
    FOR EACH ROW EXECUTE FUNCTION reservations_emit_event();

-- Deletes reservations past their expiry (of one session, or all), at most p_limit,
-- each writing its reservation.expired event. psql: SELECT expire_reservations();
CREATE FUNCTION expire_reservations(p_session_id text DEFAULT NULL, p_limit integer DEFAULT 1000)
RETURNS integer
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM reservations
        WHERE id IN (SELECT id FROM reservations
                     WHERE expires_at <= now() AND (p_session_id IS NULL OR session_id = p_session_id)
                     ORDER BY expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
        RETURNING 1
    )
    SELECT count(*)::integer FROM gone;
$$;
INSERT INTO schema_migrations (version, name, checksum) VALUES (10, 'coordination', '7219819a0cd40461019b13c5ba7640d1e77dbef9dca3ee9a21e933f2eac1c431');

-- >>> migration 0011_orchestration

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
INSERT INTO schema_migrations (version, name, checksum) VALUES (11, 'orchestration', '2f30855239150a013dfc8a547672cd1159e0eee6240e8df1871560cec8a61e62');

-- >>> migration 0012_dashboard

-- 0012_dashboard: operator tokens for the dashboard (/ui/).
-- An operator token signs a person in to the dashboard; it is not an agent's token
-- (the MCP endpoint refuses it), and an agent's token does not sign in to the dashboard.
ALTER TABLE agent_tokens ADD COLUMN operator boolean NOT NULL DEFAULT false;
INSERT INTO schema_migrations (version, name, checksum) VALUES (12, 'dashboard', 'e4621c44e79741fd7aea0d82526747ec388d194bb2f194a0054b4f377260917e');
COMMIT;

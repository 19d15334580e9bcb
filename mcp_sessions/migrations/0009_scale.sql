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

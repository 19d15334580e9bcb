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

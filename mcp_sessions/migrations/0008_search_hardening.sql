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

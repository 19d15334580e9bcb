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

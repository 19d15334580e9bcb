-- 0002_search: full-text indexes over chunk, memory and artifact content.
-- A first cut: a stored tsvector per row (a stored column, not an expression index,
-- so the index recheck does not recompute to_tsvector).

ALTER TABLE conversation_chunks
    ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, left(content, 200000))) STORED;
CREATE INDEX conversation_chunks_tsv ON conversation_chunks USING gin (tsv);

ALTER TABLE memories
    ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, replace(key, '_', ' ')), 'A')
        || setweight(jsonb_to_tsvector('english'::regconfig, content, '["string", "numeric"]'), 'B')
    ) STORED;
CREATE INDEX memories_tsv ON memories USING gin (tsv);

ALTER TABLE artifacts
    ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, name), 'A')
        || setweight(to_tsvector('english'::regconfig, left(content, 200000)), 'B')
    ) STORED;
CREATE INDEX artifacts_tsv ON artifacts USING gin (tsv);

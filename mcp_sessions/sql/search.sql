-- name: search_render_terms
-- $1 the words and phrases of a query, in order: each as the configured text search
-- configuration reads it ('' for stop words only), ready to combine into a tsquery,
-- and for a phrase with stop words, the pattern its text must match (search_phrase).
SELECT coalesce(p.query::text, '') AS rendition, p.pattern
FROM unnest($1::text[]) WITH ORDINALITY AS t(term, n), search_settings c, LATERAL search_phrase(c.config, t.term) p
ORDER BY t.n;

-- name: search_fuzzy_terms
-- $1 query words: for each, up to 3 vocabulary terms that look like it (pg_trgm).
-- The vocabulary may hold a term twice (see 0008): DISTINCT.
SELECT w.n, v.term
FROM unnest($1::text[]) WITH ORDINALITY AS w(word, n),
     LATERAL (SELECT DISTINCT term, similarity(term, w.word) AS sim FROM search_vocab
              WHERE term % w.word
              ORDER BY sim DESC, term
              LIMIT 3) v
ORDER BY w.n, v.sim DESC;

-- name: search_config_is
SELECT config = $1::regconfig FROM search_settings;

-- name: search_set_config
SELECT search_set_config($1::regconfig);

-- name: search
-- $1 tsquery, $2 candidate cap per kind, $3 kinds, $4 session_id, $5 memory types,
-- $6 tags (any), $7 tags (all), $8 created_by, $9 created at or after, $10 created before,
-- $11 artifact types, $12/$13 cursor (rank, segment id), $14 page size.
-- Candidates (search_candidates) are ranked 0..1 so kinds compare, each document keeps
-- its best segment, and only the page's rows get a snippet.
-- $15: the query's only lexeme when it has one and no filter is set: if the planner's
-- statistics say it is in over 30 % of segments, chunks are found by scanning.
-- $16: the authenticated agent, who finds only the direct messages it sent or received
-- (NULL: all, stdio is trusted).
-- $17 true: every artifact version, each its own hit (else the latest of each name);
-- $18 patterns the segment's text must match (phrases with stop words), checked here on
-- the candidates (the caller raises $2 for such queries), not by search_candidates_v2:
-- there a rare phrase of common words would test every segment holding those words.
WITH q AS (SELECT $1::tsquery AS query, (SELECT config FROM search_settings) AS cfg),
common AS (
    SELECT coalesce((SELECT f.freq > 0.3
                     FROM pg_stats st, unnest(st.most_common_elems::text::text[], st.most_common_elem_freqs) AS f(elem, freq)
                     WHERE $15::text IS NOT NULL AND 'chunk' = ANY ($3)
                       AND st.schemaname = current_schema() AND st.tablename = 'search_segments'
                       AND st.attname = 'tsv' AND f.elem = $15::text), false) AS scan
),
cand AS (
    SELECT c.* FROM common,
        search_candidates_v2($1::tsquery, $2, CASE WHEN common.scan THEN array_remove($3, 'chunk') ELSE $3 END,
                             $4, $5, $6, $7, $8, $9, $10, $11, $17::boolean, NULL) c
    UNION ALL
    SELECT c.* FROM common, search_candidates_by_scan($1::tsquery, $2) c WHERE common.scan
    UNION ALL
    SELECT c.* FROM search_message_candidates($1::tsquery, $2, $4, $8, $9, $10, $16) c WHERE 'message' = ANY ($3)
),
-- One hit per document; for artifacts, per name (only the latest version is a candidate
-- then), or per version when searching history.
named AS (
    SELECT c.*, CASE WHEN c.kind = 'artifact' AND NOT $17::boolean
                     THEN (SELECT a.name FROM artifacts a WHERE a.id = c.doc_id) ELSE c.doc_id END AS doc
    FROM (SELECT c.*, row_number() OVER (PARTITION BY c.kind) AS nth
          FROM cand c
          WHERE $18::text[] IS NULL OR NOT EXISTS (SELECT 1 FROM unnest($18::text[]) AS p(pattern) WHERE c.body !~* p.pattern)
         ) c
    WHERE c.nth <= 200  -- the ranked candidates per kind when $2 was raised for patterns (CANDIDATES_PER_KIND)
),
best AS (
    SELECT DISTINCT ON (c.kind, c.session_id, c.doc)
           c.id, c.kind, c.session_id, c.doc_id, c.seg, c.start_char, c.created_by, c.created,
           ts_rank(c.tsv, q.query, 33)::float8 AS rank
    FROM named c, q
    ORDER BY c.kind, c.session_id, c.doc, rank DESC, c.id DESC
),
page AS (
    SELECT * FROM best
    WHERE $12::float8 IS NULL OR (best.rank, best.id) < ($12::float8, $13::bigint)
    ORDER BY rank DESC, id DESC
    LIMIT $14
)
SELECT p.kind, p.session_id, p.doc_id AS id, p.rank, p.created_by, p.created, p.id AS segment_id,
       p.start_char, s.body,
       CASE p.kind
           WHEN 'chunk' THEN (SELECT ses.title FROM sessions ses WHERE ses.id = p.session_id) || ' / ' || p.doc_id
           WHEN 'memory' THEN p.doc_id
           WHEN 'message' THEN (SELECT coalesce(m.subject, 'message from ' || m.created_by) FROM messages m
                                WHERE m.id = p.doc_id)
           ELSE (SELECT a.name || ' v' || a.version FROM artifacts a WHERE a.id = p.doc_id)
       END AS title,
       v.version, v.latest_version,
       ts_headline(q.cfg,
                   CASE WHEN p.kind = 'memory' THEN p.doc_id || E':\n' || s.body ELSE s.body END,
                   q.query,
                   'StartSel=**, StopSel=**, MaxWords=30, MinWords=10, ShortWord=2, MaxFragments=1') AS snippet
FROM page p JOIN search_segments s ON s.id = p.id CROSS JOIN q
     LEFT JOIN LATERAL (
         SELECT a.version, (SELECT max(b.version) FROM artifacts b
                            WHERE b.session_id = a.session_id AND b.name = a.name) AS latest_version
         FROM artifacts a WHERE p.kind = 'artifact' AND a.id = p.doc_id
     ) v ON true
ORDER BY p.rank DESC, p.id DESC;

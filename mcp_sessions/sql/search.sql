-- name: search
-- $1 query text (websearch syntax), $2 session_id or NULL, $3 kinds (text[]), $4 limit.
-- Ranks are normalized to 0..1 (rank / (rank + 1)) so kinds compare; snippets are made
-- only for the rows that survive the LIMIT.
WITH q AS (SELECT websearch_to_tsquery('english', $1) AS query),
hits AS (
    SELECT 'chunk' AS kind, c.session_id, c.chunk_id AS id, s.title || ' / ' || c.chunk_id AS title,
           ts_rank(c.tsv, q.query, 32) AS rank, c.created_by, c.created
    FROM conversation_chunks c JOIN sessions s ON s.id = c.session_id, q
    WHERE 'chunk' = ANY ($3) AND c.tsv @@ q.query AND ($2::text IS NULL OR c.session_id = $2)
    UNION ALL
    SELECT 'memory', m.session_id, m.key, m.key, ts_rank(m.tsv, q.query, 32), m.updated_by, m.created
    FROM memories m, q
    WHERE 'memory' = ANY ($3) AND m.tsv @@ q.query AND ($2::text IS NULL OR m.session_id = $2)
    UNION ALL
    SELECT 'artifact', a.session_id, a.id, a.name || ' v' || a.version, ts_rank(a.tsv, q.query, 32), a.created_by, a.created
    FROM artifacts a, q
    WHERE 'artifact' = ANY ($3) AND a.tsv @@ q.query AND ($2::text IS NULL OR a.session_id = $2)
),
top AS (SELECT * FROM hits ORDER BY rank DESC, created DESC, id LIMIT $4)
SELECT top.*,
       ts_headline('english',
           CASE top.kind
               WHEN 'chunk' THEN (SELECT left(content, 200000) FROM conversation_chunks c
                                  WHERE c.session_id = top.session_id AND c.chunk_id = top.id)
               WHEN 'memory' THEN (SELECT m.key || ': ' || m.content::text FROM memories m
                                   WHERE m.session_id = top.session_id AND m.key = top.id)
               ELSE (SELECT left(content, 200000) FROM artifacts a WHERE a.id = top.id)
           END,
           q.query, 'StartSel=**, StopSel=**, MaxWords=35, MinWords=15, MaxFragments=2') AS snippet
FROM top, q
ORDER BY rank DESC, created DESC, id;

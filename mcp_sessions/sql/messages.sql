-- Messages between agents (0010_coordination). A caller's inbox: direct messages naming it,
-- and the broadcasts (recipients NULL) of the session, or without a session, of the
-- sessions that list it as a participant or that it created; never its own, unless $4.

-- name: insert_message
INSERT INTO messages (id, session_id, thread_id, created_by, recipients, subject, body, importance, ack_required)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id, session_id, coalesce(thread_id, id) AS thread_id, created_by AS sender, recipients, subject, body,
          importance, ack_required, created, seq, NULL::timestamptz AS read_at, NULL::timestamptz AS acked_at;

-- name: get_message
-- $1 message id, $2 the caller: its own read and ack times.
SELECT m.id, m.session_id, coalesce(m.thread_id, m.id) AS thread_id, m.created_by AS sender, m.recipients,
       m.subject, m.body, m.importance, m.ack_required, m.created, m.seq, r.read_at, r.acked_at
FROM messages m LEFT JOIN message_receipts r ON r.message_id = m.id AND r.agent = $2
WHERE m.id = $1;

-- name: inbox
-- $1 the caller, $2 session (NULL: all), $3 unread only, $4 include what it sent,
-- $5 before this seq (the cursor), $6 page size + 1. Newest first.
SELECT m.id, m.session_id, coalesce(m.thread_id, m.id) AS thread_id, m.created_by AS sender, m.recipients,
       m.subject, m.body, m.importance, m.ack_required, m.created, m.seq, r.read_at, r.acked_at
FROM messages m
LEFT JOIN message_receipts r ON r.message_id = m.id AND r.agent = $1
WHERE ($2::text IS NULL OR m.session_id = $2)
  AND ($5::bigint IS NULL OR m.seq < $5)
  AND (NOT $3 OR (r.read_at IS NULL AND m.created_by <> $1))
  AND (
        $1 = ANY (m.recipients)
     OR ($4 AND m.created_by = $1)
     OR (m.recipients IS NULL AND m.created_by <> $1
         AND ($2::text IS NOT NULL
              OR EXISTS (SELECT 1 FROM sessions s WHERE s.id = m.session_id
                         AND (s.participants @> jsonb_build_array($1::text) OR s.created_by = $1))))
  )
ORDER BY m.seq DESC
LIMIT $6;

-- name: unread_count
-- The caller's unread messages in one session (catch_up).
SELECT count(*) FROM messages m
WHERE m.session_id = $2 AND m.created_by <> $1
  AND (m.recipients IS NULL OR $1 = ANY (m.recipients))
  AND NOT EXISTS (SELECT 1 FROM message_receipts r WHERE r.message_id = m.id AND r.agent = $1);

-- name: mark_read
-- $1 message ids, $2 the reader.
INSERT INTO message_receipts (message_id, agent)
SELECT unnest($1::text[]), $2
ON CONFLICT (message_id, agent) DO NOTHING;

-- name: ack_message
INSERT INTO message_receipts (message_id, agent, acked_at) VALUES ($1, $2, now())
ON CONFLICT (message_id, agent) DO UPDATE SET acked_at = coalesce(message_receipts.acked_at, EXCLUDED.acked_at)
RETURNING read_at, acked_at;

-- name: message_acks
-- Who acknowledged these messages, and when.
SELECT message_id, agent, acked_at FROM message_receipts
WHERE message_id = ANY ($1::text[]) AND acked_at IS NOT NULL
ORDER BY message_id, acked_at, agent;

-- name: session_participants
SELECT participants FROM sessions WHERE id = $1;

-- name: touch_agent
-- The caller was seen (catch_up's participants, list_agents' alive).
SELECT touch_agent($1);

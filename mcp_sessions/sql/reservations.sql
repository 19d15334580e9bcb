-- Path reservations (0010_coordination). Active: expires_at in the future.

-- name: lock_reservations
-- Reservations of one session are decided one at a time: a conflict check and the
-- insert it allows must not interleave with another agent's.
SELECT pg_advisory_xact_lock(hashtextextended('mcp_sessions.reservations:' || $1, 0));

-- name: expire_reservations
SELECT expire_reservations($1, $2);

-- name: active_reservations
SELECT id, session_id, agent, paths, exclusive, reason, created, expires_at
FROM reservations
WHERE session_id = $1 AND expires_at > now()
ORDER BY created, id;

-- name: insert_reservation
INSERT INTO reservations (session_id, agent, paths, exclusive, reason, expires_at)
VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
RETURNING id, session_id, agent, paths, exclusive, reason, created, expires_at;

-- name: renew_reservation
UPDATE reservations SET exclusive = $2, reason = coalesce($3, reason), expires_at = now() + make_interval(secs => $4)
WHERE id = $1
RETURNING id, session_id, agent, paths, exclusive, reason, created, expires_at;

-- name: shrink_reservation
UPDATE reservations SET paths = $2 WHERE id = $1;

-- name: delete_reservation
DELETE FROM reservations WHERE id = $1;

-- name: get_reservation
SELECT id, session_id, agent, paths, exclusive, reason, created, expires_at
FROM reservations WHERE id = $1;

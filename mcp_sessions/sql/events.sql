-- The event feed (0007_events): reading a page, registering this process's interest,
-- retention.

-- name: read_events
-- A page after a position, with the horizon, the held-back flag and the pruned mark.
SELECT read_events($1, $2, $3, $4, $5, $6);

-- name: event_now
-- The position "now": every event to come (or committed but still held back) lies after it.
SELECT event_horizon()::text;

-- name: register_event_listeners
-- This process's channel wants NOTIFYs for these sessions ('*': all) until the deadline.
INSERT INTO event_listeners (channel, session_id, expires_at)
SELECT $1, unnest($2::text[]), now() + make_interval(secs => $3)
ON CONFLICT (channel, session_id) DO UPDATE SET expires_at = EXCLUDED.expires_at;

-- name: unregister_event_listeners
DELETE FROM event_listeners WHERE channel = $1 AND session_id = ANY ($2::text[]);

-- name: sweep_event_listeners
-- Registrations of processes that stopped refreshing them (crashed, or partitioned away).
DELETE FROM event_listeners WHERE expires_at < now();

-- name: prune_events
SELECT prune_events(make_interval(days => $1), $2);

-- name: set_actor
-- Who acts in this transaction, for events whose row doesn't say (forget, update_session).
SELECT set_config('mcp_sessions.actor', $1, true);

-- name: registration_mark
-- Taken right after a waiter registered (committed): every transaction that could have
-- looked for waiters before the registration was visible has an xid below this mark.
SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint;

-- name: horizon_passed
-- Have all of this database's transactions below the mark ended?
SELECT event_horizon() >= $1;

-- name: event_position_since
-- The first event written in the last $1 seconds (the BRIN index finds the recent block
-- ranges); none: NULL.
SELECT xid, id FROM events WHERE at >= now() - make_interval(secs => $1) ORDER BY xid, id LIMIT 1;

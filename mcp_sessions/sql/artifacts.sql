-- name: lock_artifact_name
-- Serializes saves of one (session, name) only, so versions are gapless and unique.
SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0));

-- name: insert_artifact_version
INSERT INTO artifacts (session_id, name, version, type, format, content, size, content_sha256, metadata, created_by)
SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5, $6, $7, $8, $9
FROM artifacts WHERE session_id = $1 AND name = $2
RETURNING id, session_id, name, version, type, format, size, metadata, created_by, created;

-- name: get_artifact_slice_by_id
SELECT id, session_id, name, version, type, format, size, metadata, created_by, created,
       substr(content, $2 + 1, $3) AS content
FROM artifacts WHERE id = $1;

-- name: get_artifact_slice_by_name
-- $3 version, NULL for the latest.
SELECT id, session_id, name, version, type, format, size, metadata, created_by, created,
       substr(content, $4 + 1, $5) AS content
FROM artifacts
WHERE session_id = $1 AND name = $2 AND ($3::int IS NULL OR version = $3)
ORDER BY version DESC
LIMIT 1;

-- name: list_artifacts
-- The latest version of each name, or every version of one name when $3 is given.
SELECT * FROM (
    SELECT DISTINCT ON (name, CASE WHEN $3::text IS NULL THEN 0 ELSE version END)
           id, session_id, name, version, type, format, size, metadata, created_by, created
    FROM artifacts
    WHERE session_id = $1 AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR name = $3)
    ORDER BY name, CASE WHEN $3::text IS NULL THEN 0 ELSE version END, version DESC
) latest
WHERE ($4::text IS NULL OR (name, version) > ($4, $5))
ORDER BY name, version
LIMIT $6;

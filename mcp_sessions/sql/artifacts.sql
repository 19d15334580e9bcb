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
-- Built with mcp_sessions.sql.build: the latest version of each name (of that type, with
-- a type), in name order, off artifacts_session_name_latest: a page reads the versions of
-- its own names only. The cursor is the previous page's last name.
SELECT DISTINCT ON (name) id, session_id, name, version, type, format, size, metadata, created_by, created
FROM artifacts
WHERE session_id = :session_id
  AND type = :type  -- optional
  AND name > :after_name::text  -- optional
ORDER BY name, version DESC
LIMIT :limit;

-- name: list_artifact_versions
-- Built with mcp_sessions.sql.build: every version of one name, oldest first.
SELECT id, session_id, name, version, type, format, size, metadata, created_by, created
FROM artifacts
WHERE session_id = :session_id AND name = :name
  AND type = :type  -- optional
  AND version > :after_version::int  -- optional
ORDER BY version
LIMIT :limit;

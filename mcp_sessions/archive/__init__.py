"""Lossless export and import of sessions as versioned JSON Lines (see export.py for
the layout), and the migration from the old JSON-file store (json_store.py)."""

from mcp_sessions.archive.export import (
    FORMAT,
    FORMAT_VERSION,
    ExportStats,
    export_archive,
)
from mcp_sessions.archive.importer import ImportStats, import_archive, read_header
from mcp_sessions.archive.schema import ArchiveError

__all__ = [
    "FORMAT", "FORMAT_VERSION", "ArchiveError", "ExportStats", "ImportStats",
    "export_archive", "import_archive", "read_header",
]

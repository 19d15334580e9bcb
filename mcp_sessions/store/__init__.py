"""The store: one module per domain, SQL from mcp_sessions/sql, transactions owned by
the caller (every function takes an asyncpg connection)."""

"""Named SQL queries, one file per domain, loaded once.

Each `*.sql` file in this folder holds queries under `-- name: query_name` headers
(the procrastinate convention). `QUERIES["query_name"]` gives the text."""

from __future__ import annotations

import re
from importlib import resources

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def _load() -> dict[str, str]:
    queries: dict[str, str] = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        text = entry.read_text(encoding="utf-8")
        parts = _HEADER.split(text)
        # parts: [preamble, name1, body1, name2, body2, ...]
        for name, body in zip(parts[1::2], parts[2::2]):
            if name in queries:
                raise RuntimeError(f"query {name!r} is defined twice (second time in {entry.name})")
            queries[name] = body.strip()
    return queries


QUERIES: dict[str, str] = _load()

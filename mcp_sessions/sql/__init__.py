"""Named SQL queries, one file per domain, loaded once.

Each `*.sql` file in this folder holds queries under `-- name: query_name` headers
(the procrastinate convention). `QUERIES["query_name"]` gives the text."""

from __future__ import annotations

import functools
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


# Queries with optional filters are written whole, in named SQL like the others, with
# `:name` parameters; a line ending in `-- optional` is kept only when all its parameters
# are given. So each combination of filters is its own statement, and its plan (even a
# generic one) never carries a `$n IS NULL OR ...` test that an index can't serve.
_PARAM = re.compile(r"(?<![:\w]):([a-z_]\w*)")
_OPTIONAL = re.compile(r"\s*--\s*optional\s*$")


def build(name: str, /, **params: object) -> tuple[str, list[object]]:
    """The named query with only the optional lines whose parameters are not None, and
    its arguments: `:name` becomes `$n` in order of first use."""
    text, names = _built(name, frozenset(k for k, v in params.items() if v is not None))
    return text, [params[n] for n in names]


@functools.lru_cache(maxsize=512)
def _built(name: str, given: frozenset[str]) -> tuple[str, tuple[str, ...]]:
    lines = []
    for line in QUERIES[name].splitlines():
        if _OPTIONAL.search(line):
            if not set(_PARAM.findall(line)) <= given:
                continue
            line = _OPTIONAL.sub("", line)
        lines.append(line)
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in order:
            if match[1] not in given:
                raise KeyError(f"query {name!r} needs :{match[1]}")
            order.append(match[1])
        return f"${order.index(match[1]) + 1}"

    text = _PARAM.sub(number, "\n".join(line for line in lines if not line.lstrip().startswith("--")))
    return text, tuple(order)

"""Repository paths and globs for reservations, and whether two of them can name the
same file.

A pattern is a repository-relative path split at '/', whose segments may use `*` (any
characters but '/'), `?` (one character), `[...]` (one character of a set) and `**`
(any number of segments, as a whole segment). A directory is reserved with `src/queue/`
or `src/queue/**`; a plain name without an extension (`src/queue`, `Makefile`) may be a
directory, so it covers what is under it too. Overlap is decided
conservatively, so that two agents never hold the same file by mistake: character
sets count as any character, and letters compare without case (a case-insensitive
file system holds README.md and readme.md as one file). When in doubt, it overlaps."""

from __future__ import annotations

from functools import lru_cache

from mcp_sessions.errors import InvalidInput

ANY = ""  # a token that matches any one character
STAR = None  # a token that matches any run of characters


def normalize(path: str) -> str:
    """The canonical form of a pattern, or InvalidInput saying what is wrong with it."""
    original = path
    path = path.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    if path.endswith("/"):
        path = path.rstrip("/") + "/**"
    segments = [s for s in path.split("/") if s not in ("", ".")]
    if not segments:
        raise InvalidInput(f"path {original!r} names no file: give a repository-relative path or glob like 'src/**'")
    if path.startswith("/") or (len(segments[0]) == 2 and segments[0][1] == ":"):
        raise InvalidInput(f"path {original!r} is absolute: give it relative to the repository root, like 'src/app.py'")
    if ".." in segments:
        raise InvalidInput(f"path {original!r} leaves the repository ('..'): give it relative to the repository root")
    return "/".join(segments)


def _tokens(segment: str, literal: bool) -> tuple:
    """A segment as tokens: STAR, ANY, or a lowercased character."""
    if literal:
        return tuple(segment.lower())
    out: list = []
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            if not out or out[-1] is not STAR:
                out.append(STAR)
        elif c == "?":
            out.append(ANY)
        elif c == "[" and segment.find("]", i + 2) > 0:
            # A set ([ab], [!a], []a]) counts as any character: conservative.
            out.append(ANY)
            i = segment.find("]", i + 2)
        else:
            out.append(c.lower())
        i += 1
    return tuple(out)


@lru_cache(maxsize=4096)
def _segments_overlap(a: tuple, b: tuple) -> bool:
    """Whether some segment text matches both token lists (a product of the two
    automatons, explored breadth first: at most (len(a)+1) * (len(b)+1) states)."""
    seen = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(a) and j == len(b):
            return True
        # A star may match nothing.
        if i < len(a) and a[i] is STAR:
            todo.append((i + 1, j))
        if j < len(b) and b[j] is STAR:
            todo.append((i, j + 1))
        # Both consume one character they can agree on.
        if i < len(a) and j < len(b):
            x, y = a[i], b[j]
            if x is STAR or y is STAR or x == ANY or y == ANY or x == y:
                todo.append((i if x is STAR else i + 1, j if y is STAR else j + 1))
    return False


def _maybe_directory(segment: str) -> bool:
    return not any(c in segment for c in "*?[.")


def _split(pattern: str, literal: bool) -> tuple:
    segments = pattern.split("/")
    parts = tuple(("**" if s == "**" and not literal else _tokens(s, literal)) for s in segments)
    # A pattern whose last part has no wildcard and no extension may name a directory:
    # it covers what is under it too. A file being checked (literal) is only itself.
    return parts + ("**",) if not literal and _maybe_directory(segments[-1]) else parts


@lru_cache(maxsize=4096)
def _overlap(a: tuple, b: tuple) -> bool:
    if not a or not b:
        return all(s == "**" for s in a + b)
    if a[0] == "**" and (_overlap(a[1:], b) or _overlap(a, b[1:])):
        return True
    if b[0] == "**" and (_overlap(a, b[1:]) or _overlap(a[1:], b)):
        return True
    if a[0] == "**" or b[0] == "**":
        return False
    return _segments_overlap(a[0], b[0]) and _overlap(a[1:], b[1:])


def overlaps(a: str, b: str) -> bool:
    """Whether patterns a and b (normalized) can name a common file."""
    return _overlap(_split(a, False), _split(b, False))


def covers(pattern: str, path: str) -> bool:
    """Whether the file at `path` (a plain path, not a glob) is reserved by pattern."""
    return _overlap(_split(pattern, False), _split(path, True))

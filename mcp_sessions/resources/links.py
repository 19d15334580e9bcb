"""Resource links in tool results: a client can open what a tool wrote or found
(save_artifact, add_chunk, create_task, search hits) without another tool call."""

from __future__ import annotations

from typing import Any

from mcp.types import ResourceLink

from mcp_sessions.resources import uris

MAX_LINKS = 20


def _link(uri: str, name: str, mime: str, size: int | None = None) -> ResourceLink:
    return ResourceLink(type="resource_link", uri=uri, name=name, mime_type=mime, size=size)


def links_for(result: Any) -> list[ResourceLink]:
    from mcp_sessions.models import Artifact, Chunk, SearchResults, Task

    if isinstance(result, Artifact):
        return [_link(uris.artifact(result.session_id, result.name, result.version), result.name, "text/plain",
                      result.size)]
    if isinstance(result, Chunk):
        return [_link(uris.chunk(result.session_id, result.chunk_id), result.chunk_id, "text/plain", result.size)]
    if isinstance(result, Task):
        return [_link(uris.task(result.session_id, result.id), result.title or result.id, "application/json")]
    if isinstance(result, SearchResults):
        out = []
        for hit in result.hits[:MAX_LINKS]:
            if hit.kind == "chunk":
                out.append(_link(uris.chunk(hit.session_id, hit.id), hit.id, "text/plain"))
            elif hit.kind == "memory":
                out.append(_link(uris.memory(hit.session_id, hit.id), hit.id, "application/json"))
            elif hit.kind == "artifact" and hit.version is not None:
                name = hit.title.removesuffix(f" v{hit.version}")  # the title is "<name> v<version>"
                out.append(_link(uris.artifact(hit.session_id, name, hit.version), hit.title, "text/plain"))
        return out
    return []

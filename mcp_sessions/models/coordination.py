"""Results of the coordination tools: messages, reservations, catch_up."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Importance = Literal["low", "normal", "high", "urgent"]


class Ack(BaseModel):
    agent: str
    at: datetime


class Message(BaseModel):
    id: str
    session_id: str
    thread_id: str = Field(description="Pass as thread_id to reply in this thread.")
    sender: str
    to: list[str] | None = Field(description="Recipients; null: everyone in the session.")
    subject: str | None
    body: str
    importance: Importance
    ack_required: bool
    created: datetime
    read_at: datetime | None = Field(default=None, description="When you first read it.")
    acked_at: datetime | None = Field(default=None, description="When you acknowledged it.")
    acked_by: list[Ack] | None = Field(default=None, description="ack_required only: who acknowledged.")
    awaiting_ack: list[str] | None = Field(
        default=None, description="ack_required only: recipients (or session participants) yet to acknowledge."
    )


class Acked(BaseModel):
    id: str
    acked_at: datetime
    acked_by: list[Ack]
    awaiting_ack: list[str]


class Inbox(BaseModel):
    messages: list[Message] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Older messages: pass back as cursor=.")


class Reservation(BaseModel):
    id: str
    session_id: str
    agent: str = Field(description="Who holds it.")
    paths: list[str]
    exclusive: bool
    reason: str | None
    created: datetime
    expires_at: datetime


class Reserved(BaseModel):
    reservation: Reservation
    renewed: bool = Field(description="True when you already held exactly these paths: their expiry moved.")
    shared_with: list[Reservation] = Field(description="Others' shared reservations that overlap yours.")


class Released(BaseModel):
    released: list[str] = Field(description="Ids of reservations released entirely.")
    narrowed: list[Reservation] = Field(description="Reservations that keep their other paths.")


# catch_up ------------------------------------------------------------------------------------


class Participant(BaseModel):
    name: str
    alive: bool = Field(description="Seen in the last few minutes, or holding a live task lease.")
    last_seen: datetime | None


class ParticipantDigest(BaseModel):
    items: list[Participant] = Field(description="Most recently seen first.")
    more: int
    rest: str


class OpenTask(BaseModel):
    id: str
    title: str | None
    status: str
    holder: str | None = Field(description="Who claimed it.")
    agent_name: str | None = Field(description="Meant for.")
    blocked_by: int


class TaskDigest(BaseModel):
    counts: dict[str, int] = Field(description="By status.")
    open: list[OpenTask] = Field(description="Pending, claimed and running; highest priority first.")
    more: int = Field(description="Open tasks not listed.")
    rest: str = Field(description="How to get the rest.")


class MemoryPreview(BaseModel):
    key: str
    type: str
    version: int
    preview: str = Field(description="The first 200 characters.")


class MemoryDigest(BaseModel):
    items: list[MemoryPreview] = Field(description="Decisions, action items, risks, questions first; newest first.")
    more: int
    rest: str


class ArtifactLine(BaseModel):
    name: str
    version: int
    type: str
    size: int
    created_by: str


class ArtifactDigest(BaseModel):
    items: list[ArtifactLine] = Field(description="The latest version of each, newest first.")
    more: int
    rest: str


class ChunkLine(BaseModel):
    chunk_id: str
    format: str
    size: int
    first_line: str


class ChunkDigest(BaseModel):
    items: list[ChunkLine] = Field(description="The newest, newest first.")
    more: int
    rest: str


class MessageLine(BaseModel):
    id: str
    sender: str
    subject: str | None
    importance: Importance


class InboxDigest(BaseModel):
    unread: int
    latest: list[MessageLine] = Field(description="Your latest unread messages (not marked read).")
    rest: str


class ReservationDigest(BaseModel):
    items: list[Reservation]
    more: int
    rest: str


class SessionDigest(BaseModel):
    id: str
    title: str
    status: str
    created_by: str
    created: datetime
    last_activity: datetime


class CatchUp(BaseModel):
    """A late joiner's picture of a session, at most 8 KB."""

    session: SessionDigest
    participants: ParticipantDigest
    tasks: TaskDigest
    memories: MemoryDigest
    artifacts: ArtifactDigest
    chunks: ChunkDigest
    inbox: InboxDigest
    reservations: ReservationDigest
    cursor: str = Field(description="Continue with watch(session_id, after=cursor): what happens from here on.")

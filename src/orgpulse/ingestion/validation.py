"""Validate and normalize Segment-spec messages. Pure functions: no I/O.

A message either becomes a ``Message`` (normalized, with its corrected event time) or a
``Rejection`` naming the reason. Nothing raises for bad client input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from orgpulse.core.ids import uuid7
from orgpulse.ingestion.risk_events import risk_event_problem

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_NAME_LENGTH = 200
MAX_ID_LENGTH = 255
SUPPORTED_TYPES = ("track", "identify", "group", "page", "screen")
ACTIVITY_TYPES = frozenset({"track", "page", "screen"})
# Stored event names of the non-track calls (reserved: a track event may not use them).
RESERVED_NAMES = {"identify": "$identify", "group": "$group", "page": "$page", "screen": "$screen"}


@dataclass(frozen=True)
class Limits:
    """Time window an event must fall in, relative to when it was received."""

    retention_days: int = 400
    max_future_skew_seconds: int = 86_400


@dataclass
class Message:
    """A valid message, normalized; ``event_time`` is skew-corrected UTC."""

    index: int
    type: str
    message_id: str
    name: str
    event_time: datetime
    user_id: str | None
    anonymous_id: str | None
    group_id: str | None  # groupId of a group call, else context.groupId
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    event_id: Any = None

    @property
    def is_activity(self) -> bool:
        return self.type in ACTIVITY_TYPES

    def to_json(self) -> dict[str, Any]:
        """Serialize for the holding table (unattributed messages)."""
        return {
            "type": self.type,
            "messageId": self.message_id,
            "name": self.name,
            "eventTime": self.event_time.isoformat(),
            "userId": self.user_id,
            "anonymousId": self.anonymous_id,
            "groupId": self.group_id,
            "properties": self.properties,
            "traits": self.traits,
            "context": self.context,
            "eventId": str(self.event_id),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, index: int) -> Message:
        import uuid

        return cls(
            index=index,
            type=data["type"],
            message_id=data["messageId"],
            name=data["name"],
            event_time=datetime.fromisoformat(data["eventTime"]),
            user_id=data["userId"],
            anonymous_id=data["anonymousId"],
            group_id=data["groupId"],
            properties=data["properties"],
            traits=data["traits"],
            context=data["context"],
            event_id=uuid.UUID(data["eventId"]),
        )


@dataclass(frozen=True)
class Rejection:
    index: int
    message_id: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "messageId": self.message_id, "reason": self.reason}


class _Invalid(Exception):
    pass


def parse_timestamp(value: Any, field_name: str) -> datetime:
    """Parse an ISO 8601 timestamp; naive values are taken as UTC."""
    if not isinstance(value, str):
        raise _Invalid(f"{field_name} must be an ISO 8601 string")
    raw = value.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(raw)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: e.g. year 1 with a positive offset
        raise _Invalid(f"{field_name} is not an ISO 8601 timestamp: {value[:40]!r}") from None


def _find_nul(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            if "\x00" in k:
                return f"{path}.<key>"
            hit = _find_nul(v, f"{path}.{k}")
            if hit:
                return hit
    elif isinstance(value, list):
        for i, v in enumerate(value):
            hit = _find_nul(v, f"{path}[{i}]")
            if hit:
                return hit
    return None


def _identifier(msg: dict[str, Any], key: str) -> str | None:
    value = msg.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Invalid(f"{key} must be a string")
    text = str(value)
    if len(text) > MAX_ID_LENGTH:
        raise _Invalid(f"{key} is longer than {MAX_ID_LENGTH} characters")
    return text


def _object(msg: dict[str, Any], key: str) -> dict[str, Any]:
    value = msg.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(f"{key} must be a JSON object")
    return value


def validate_message(
    raw: Any,
    *,
    index: int,
    received_at: datetime,
    batch_sent_at: datetime | None = None,
    implied_type: str | None = None,
    limits: Limits = Limits(),
) -> Message | Rejection:
    """Validate one Segment message; return it normalized or the reason it is refused."""
    message_id = None
    try:
        if not isinstance(raw, dict):
            raise _Invalid("message must be a JSON object")
        if isinstance(raw.get("messageId"), str):
            message_id = raw["messageId"][:MAX_ID_LENGTH]
        try:
            encoded = orjson.dumps(raw)
        except orjson.JSONEncodeError as exc:  # nested too deeply, integer out of range, …
            raise _Invalid(f"message cannot be stored as JSON: {exc}") from None
        if len(encoded) > MAX_EVENT_BYTES:
            raise _Invalid(
                f"message is {len(encoded)} bytes; the limit is {MAX_EVENT_BYTES} (32 KB)"
            )
        # Cheap test first (it also matches an escaped backslash followed by "u0000", which is
        # harmless); walk the tree only to confirm and to name the field.
        if b"\\u0000" in encoded and (nul := _find_nul(raw, "$")):
            raise _Invalid(f"{nul} contains a NUL character (\\u0000), which cannot be stored")
        msg_type = raw.get("type", implied_type)
        if implied_type is not None and msg_type != implied_type:
            raise _Invalid(f"type {msg_type!r} sent to the /v1/{implied_type} endpoint")
        if not isinstance(msg_type, str) or msg_type not in SUPPORTED_TYPES:
            raise _Invalid(
                f"unknown type {msg_type!r}; expected one of {', '.join(SUPPORTED_TYPES)}"
            )
        # A missing messageId is generated once the message is known to be valid, so a
        # rejection only ever names an id the client sent.
        raw_mid = raw.get("messageId")
        if raw_mid is not None:
            if not isinstance(raw_mid, str) or not raw_mid or len(raw_mid) > MAX_ID_LENGTH:
                raise _Invalid(f"messageId must be a non-empty string of at most {MAX_ID_LENGTH}")
            message_id = raw_mid
        user_id = _identifier(raw, "userId")
        anonymous_id = _identifier(raw, "anonymousId")
        if user_id is None and anonymous_id is None and msg_type != "group":
            raise _Invalid("userId or anonymousId is required")
        context = _object(raw, "context")
        properties = _object(raw, "properties")
        traits = _object(raw, "traits")
        if msg_type == "identify" and not traits:
            traits = _object(context, "traits")

        if msg_type == "track":
            name = raw.get("event")
            if not isinstance(name, str) or not name.strip():
                raise _Invalid("track requires a non-empty event name")
            name = name.strip()
            if len(name) > MAX_NAME_LENGTH:
                raise _Invalid(f"event name is longer than {MAX_NAME_LENGTH} characters")
            if name.startswith("$"):
                raise _Invalid("event names starting with '$' are reserved")
            if problem := risk_event_problem(name, properties, user_id=user_id):
                raise _Invalid(problem)
        else:
            name = RESERVED_NAMES[msg_type]

        if msg_type == "group":
            group_id = _identifier(raw, "groupId")
            if group_id is None:
                raise _Invalid("group requires groupId")
        else:
            group_id = _identifier(context, "groupId")

        received = received_at.astimezone(UTC)
        timestamp = (
            parse_timestamp(raw["timestamp"], "timestamp")
            if raw.get("timestamp") is not None
            else None
        )
        sent_at = (
            parse_timestamp(raw["sentAt"], "sentAt")
            if raw.get("sentAt") is not None
            else batch_sent_at
        )
        if timestamp is None:
            event_time = received
        elif sent_at is None:
            event_time = timestamp
        else:
            # Segment's clock-skew correction: trust the server's clock for "when it was sent".
            try:
                event_time = received - (sent_at - timestamp)
            except OverflowError:
                raise _Invalid(
                    "timestamp and sentAt are too far apart to correct the clock skew"
                ) from None
        if event_time > received + timedelta(seconds=limits.max_future_skew_seconds):
            raise _Invalid(f"timestamp {event_time.isoformat()} is too far in the future")
        if event_time < received - timedelta(days=limits.retention_days):
            raise _Invalid(
                f"timestamp {event_time.isoformat()} is older than the retention horizon "
                f"({limits.retention_days} days)"
            )
        return Message(
            index=index,
            type=msg_type,
            message_id=message_id if message_id is not None else str(uuid7()),
            name=name,
            event_time=event_time,
            user_id=user_id,
            anonymous_id=anonymous_id,
            group_id=group_id,
            properties=properties,
            traits=traits,
            context=context,
            event_id=uuid7(int(event_time.timestamp() * 1000)),
        )
    except _Invalid as exc:
        return Rejection(index=index, message_id=message_id, reason=str(exc))


def validate_batch(
    body: Any,
    *,
    received_at: datetime,
    limits: Limits = Limits(),
    implied_type: str | None = None,
) -> tuple[list[Message], list[Rejection], int]:
    """Validate a decoded request body (a batch, or one message when ``implied_type`` is set).

    Returns the valid messages (first occurrence of each messageId), the rejections and the
    number of in-batch duplicates dropped.
    """
    if implied_type is not None:
        items: list[Any] = [body]
        batch_sent_at = None
    else:
        if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
            raise ValueError('body must be a JSON object with a "batch" array')
        items = body["batch"]
        batch_sent_at = None
        if body.get("sentAt") is not None:
            try:
                batch_sent_at = parse_timestamp(body["sentAt"], "sentAt")
            except _Invalid as exc:
                raise ValueError(str(exc)) from None
    messages: list[Message] = []
    rejections: list[Rejection] = []
    seen: set[str] = set()
    duplicates = 0
    for i, raw in enumerate(items):
        result = validate_message(
            raw,
            index=i,
            received_at=received_at,
            batch_sent_at=batch_sent_at,
            implied_type=implied_type,
            limits=limits,
        )
        if isinstance(result, Rejection):
            rejections.append(result)
        elif result.message_id in seen:
            duplicates += 1
        else:
            seen.add(result.message_id)
            messages.append(result)
    return messages, rejections, duplicates

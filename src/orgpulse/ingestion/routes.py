"""Segment HTTP Tracking API: /v1/batch, /v1/track, /v1/identify, /v1/group, /v1/page."""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from orgpulse.auth import write_key_id
from orgpulse.core.errors import InvalidInput, NotAuthenticated, PayloadTooLarge
from orgpulse.core.tenancy import unscoped
from orgpulse.ingestion.service import ingest
from orgpulse.ingestion.validation import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
)
from orgpulse.web.deps import engine, settings
from orgpulse.web.errors import error_responses


class RejectedMessage(BaseModel):
    index: int
    messageId: str | None  # noqa: N815 (Segment's spelling)
    reason: str


class IngestOutcome(BaseModel):
    """Where every message of the request went: each one lands in exactly one count."""

    success: bool
    accepted: int
    duplicates: int
    unattributed: int
    reattributed: int
    rejected: int
    rejections: list[RejectedMessage]


# The bodies are read by hand (size limits, gzip), so FastAPI cannot infer them: declare them.
_MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A Segment-spec message (https://segment.com/docs/connections/spec/)",
    "properties": {
        "type": {"type": "string", "enum": ["track", "identify", "group", "page", "screen"]},
        "messageId": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
        "userId": {"type": "string", "maxLength": MAX_ID_LENGTH},
        "anonymousId": {"type": "string", "maxLength": MAX_ID_LENGTH},
        "groupId": {"type": "string", "maxLength": MAX_ID_LENGTH},
        "event": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH},
        "name": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "sentAt": {"type": "string", "format": "date-time"},
        "properties": {"type": "object"},
        "traits": {"type": "object"},
        "context": {"type": "object"},
    },
}
_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "items": _MESSAGE_SCHEMA},
        "sentAt": {"type": "string", "format": "date-time"},
        "writeKey": {"type": "string"},
    },
}


def _documented(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi_extra": {
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}}
        },
        "responses": {
            200: {"model": IngestOutcome, "description": "Committed; per-message outcome"},
            **error_responses(401, 413, 422, 503),
        },
    }


router = APIRouter(prefix="/v1", tags=["ingestion"])


def _write_key(request: Request, body: Any) -> str:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise NotAuthenticated("malformed Basic authorization header") from None
        return decoded.split(":", 1)[0]
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if isinstance(body, dict) and isinstance(body.get("writeKey"), str):
        return str(body["writeKey"])
    raise NotAuthenticated("send your write key as the Basic-auth username")


def _gunzip(raw: bytes, limit: int) -> bytes:
    """Decompress a gzip body (Segment clients may send one), enforcing the limit decompressed."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(raw, limit + 1)
    except zlib.error:
        raise InvalidInput("request body is not valid gzip") from None
    if len(out) > limit:
        raise PayloadTooLarge(f"decompressed request body exceeds the limit of {limit} bytes")
    return out


async def _read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        raw = _gunzip(raw, limit)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}") from None


async def _handle(request: Request, implied_type: str | None) -> JSONResponse:
    limit = MAX_BATCH_BYTES if implied_type is None else MAX_EVENT_BYTES
    body = await _read_json(request, limit)
    key = _write_key(request, body)

    def work() -> dict[str, Any]:
        with unscoped(engine(request)) as conn:
            key_id = write_key_id(conn, key=key)
        if key_id is None:
            raise NotAuthenticated("unknown or revoked write key")
        result = ingest(
            engine=engine(request),
            settings=settings(request),
            body=body,
            source=f"http:key{key_id}",
            implied_type=implied_type,
        )
        return result.as_dict()

    outcome = await run_in_threadpool(work)
    if implied_type is not None and outcome["rejected"]:
        raise InvalidInput(
            outcome["rejections"][0]["reason"],
            details=outcome["rejections"],
        )
    return JSONResponse({"success": True, **outcome})


@router.post("/batch", summary="Send up to 500 KB of Segment messages",
             **_documented(_BATCH_SCHEMA))
async def batch(request: Request) -> JSONResponse:
    return await _handle(request, None)


@router.post("/track", summary="Send one track message",
             **_documented(_MESSAGE_SCHEMA))
async def track(request: Request) -> JSONResponse:
    return await _handle(request, "track")


@router.post("/identify", summary="Send one identify message",
             **_documented(_MESSAGE_SCHEMA))
async def identify(request: Request) -> JSONResponse:
    return await _handle(request, "identify")


@router.post("/group", summary="Send one group message",
             **_documented(_MESSAGE_SCHEMA))
async def group(request: Request) -> JSONResponse:
    return await _handle(request, "group")


@router.post("/page", summary="Send one page message",
             **_documented(_MESSAGE_SCHEMA))
async def page(request: Request) -> JSONResponse:
    return await _handle(request, "page")

"""Segment HTTP Tracking API: /v1/batch, /v1/track, /v1/identify, /v1/group, /v1/page."""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from orgpulse.auth import write_key_id
from orgpulse.core.errors import InvalidInput, NotAuthenticated, PayloadTooLarge
from orgpulse.core.tenancy import unscoped
from orgpulse.ingestion.service import ingest
from orgpulse.ingestion.validation import MAX_BATCH_BYTES, MAX_EVENT_BYTES
from orgpulse.web.deps import engine, settings

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


@router.post("/batch", summary="Send up to 500 KB of Segment messages")
async def batch(request: Request) -> JSONResponse:
    return await _handle(request, None)


@router.post("/track", summary="Send one track message")
async def track(request: Request) -> JSONResponse:
    return await _handle(request, "track")


@router.post("/identify", summary="Send one identify message")
async def identify(request: Request) -> JSONResponse:
    return await _handle(request, "identify")


@router.post("/group", summary="Send one group message")
async def group(request: Request) -> JSONResponse:
    return await _handle(request, "group")


@router.post("/page", summary="Send one page message")
async def page(request: Request) -> JSONResponse:
    return await _handle(request, "page")

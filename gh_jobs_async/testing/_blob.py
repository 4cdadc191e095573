"""The blob service: signed log downloads, Azure Blob Storage style.

Checks, in Azure's order: an ``Authorization`` header is refused outright (and counted,
even next to a valid signature), then the signature, then the expiry, then whether the blob
exists (404 ``BlobNotFound`` when the job's log state is not "ok"). Bodies are streamed with
``Content-Length`` in ``chunk_size`` pieces.

Ranges as Azure Blob answers them: a single ``Range: bytes=a-b`` or ``a-`` gives 206 with
``Content-Range: bytes a-b/SIZE`` and exactly that many bytes, but ``bytes=0-`` (the whole
blob) gives 200; a start past the end gives 416 with ``Content-Range: bytes */SIZE``. Every
answer carries an ``ETag`` (new when the log is replaced); ``If-Match`` with another one
gives 412 ``ConditionNotMet``. Suffix ranges (``bytes=-n``) are served but counted: Azure
does not document them. With ``blob_ignore_ranges`` every request gets the whole body.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
import uuid
from typing import Literal

from aiohttp import web

from gh_jobs_async.testing._context import ServerContext
from gh_jobs_async.testing._data import JobRecord
from gh_jobs_async.testing._faults import Fault
from gh_jobs_async.testing._http import azure_error, azure_time
from gh_jobs_async.testing._logs import iter_log

__all__ = ["BlobHandler", "parse_range", "stream_log", "wait_flushed"]

logger = logging.getLogger(__name__)

_BLOB_RE = re.compile(r"^/actions-results/([0-9a-f-]{36})/logs/job/job-logs\.txt$")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
_AUTH_FAILED = (
    "Server failed to authenticate the request. Make sure the value of Authorization header "
    "is formed correctly including the signature."
)
_AZURE_CODES = {403: "AuthenticationFailed", 404: "BlobNotFound", 503: "ServerBusy"}


def _azure_headers() -> dict[str, str]:
    return {
        "Server": "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0",
        "x-ms-request-id": str(uuid.uuid4()),
        "x-ms-version": "2021-12-02",
    }


def _xml(status: int, code: str, message: str, detail: str | None = None) -> web.Response:
    headers = _azure_headers()
    headers["x-ms-error-code"] = code
    body = azure_error(code, message, detail)
    return web.Response(status=status, body=body, headers=headers, content_type="application/xml")


async def wait_flushed(request: web.BaseRequest) -> None:
    """Best effort (up to 1 s): wait until the bytes written so far have left the process."""
    for _ in range(200):
        transport = request.transport
        if transport is None or transport.get_write_buffer_size() == 0:
            return
        await asyncio.sleep(0.005)


async def _write_range(
    resp: web.StreamResponse, ctx: ServerContext, rec: JobRecord, start: int, end: int
) -> None:
    for piece in iter_log(rec.log, start, end, ctx.config.chunk_size):
        await resp.write(piece)
        ctx.stats.blob_bytes_sent += len(piece)
        ctx.stats.blob_bytes_by_job[int(rec.job["id"])] += len(piece)


async def stream_log(
    request: web.BaseRequest,
    ctx: ServerContext,
    rec: JobRecord,
    *,
    headers: dict[str, str],
    fault: Fault | None,
    byte_range: tuple[int, int] | None = None,
) -> web.StreamResponse:
    """Send bytes ``[start, end)`` of ``rec``'s log (all of it without a range).

    A "reset", "truncate" or "stall" ``fault`` strikes after ``partial_bytes`` (default
    half) of the body. ``log_downloads`` grows only when the last byte of the log was sent.
    """
    start, end = byte_range if byte_range else (0, rec.log.size)
    resp = web.StreamResponse(status=206 if byte_range else 200, headers=headers)
    resp.content_type = "text/plain"  # no charset, as Azure answers
    resp.content_length = end - start
    if byte_range:
        resp.headers["Content-Range"] = f"bytes {start}-{end - 1}/{rec.log.size}"
    kind = fault.kind if fault is not None else None
    cut = end
    if fault is not None and kind in ("reset", "truncate", "stall"):
        partial = fault.partial_bytes if fault.partial_bytes is not None else (end - start) // 2
        cut = start + min(partial, end - start)
    try:
        await resp.prepare(request)
        await _write_range(resp, ctx, rec, start, cut)
        if kind in ("reset", "truncate"):
            await wait_flushed(request)
            if request.transport is not None:
                if kind == "reset":
                    request.transport.abort()
                else:
                    request.transport.close()
            return resp
        if kind == "stall" and fault is not None:
            await asyncio.sleep(fault.stall_seconds)
        await _write_range(resp, ctx, rec, cut, end)
        await resp.write_eof()
    except ConnectionError:
        logger.debug("client went away during log %s", rec.job["id"])
        return resp
    if end == rec.log.size:
        ctx.stats.log_downloads[int(rec.job["id"])] += 1
    return resp


def parse_range(value: str | None, size: int) -> tuple[int, int] | Literal[False] | None:
    """(start, end) for a satisfiable single range, None to ignore, False if unsatisfiable."""
    if value is None:
        return None
    match = _RANGE_RE.match(value.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        start, end = max(0, size - int(last)), size
    else:
        start = int(first)
        end = size if last == "" else min(size, int(last) + 1)
    if start >= size or start >= end:
        return False
    return start, end


def _etag(rec: JobRecord) -> str:
    """The blob's ETag, Azure-shaped; it changes when the log is replaced."""
    digest = hashlib.sha256(f"{rec.blob_id}:{rec.generation}".encode()).hexdigest()
    return f'"0x{digest[:15].upper()}"'


class BlobHandler:
    """aiohttp handler for the blob origin and for signed paths on the API origin."""

    def __init__(self, ctx: ServerContext) -> None:
        """Serve from ``ctx``."""
        self.ctx = ctx

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point: bookkeeping and ``blob_latency`` around `_serve`."""
        arrived = self.ctx.arrive(request, "blob")
        status = 0
        try:
            if self.ctx.config.blob_latency:
                await asyncio.sleep(self.ctx.config.blob_latency)
            resp = await self._serve(request)
            status = resp.status
            return resp
        finally:
            self.ctx.leave(request, "blob", arrived, status)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        ctx = self.ctx
        if "Authorization" in request.headers:
            ctx.stats.blob_authorization_headers += 1
            return _xml(403, "AuthenticationFailed", _AUTH_FAILED)
        match = _BLOB_RE.match(request.path)
        if match is None:
            return _xml(404, "ResourceNotFound", "The specified resource does not exist.")
        if request.method != "GET":
            return _xml(
                405, "UnsupportedHttpVerb", "The resource doesn't support specified Http Verb."
            )
        verdict, expiry = ctx.signer.verify(request.path, request.query)
        if verdict == "bad_signature":
            detail = "Signature did not match. String to sign used was r"
            return _xml(403, "AuthenticationFailed", _AUTH_FAILED, detail)
        if verdict == "expired":
            detail = (
                f"Signed expiry time [{azure_time(expiry)}] must be after signed start time "
                f"[{azure_time(time.time())}]"
            )
            return _xml(403, "AuthenticationFailed", _AUTH_FAILED, detail)
        rec = ctx.store.job_for_blob(match.group(1))
        if rec is None or rec.log_state != "ok":
            return _xml(404, "BlobNotFound", "The specified blob does not exist.")
        job_id = int(rec.job["id"])
        fault = ctx.faults.take("blob", job_id, request.path_qs, has_body=True)
        if fault is not None and fault.kind == "status":
            code = _AZURE_CODES.get(fault.status, "InternalError")
            return _xml(
                fault.status, code, "Operation could not be completed within the specified time."
            )
        etag = _etag(rec)
        if_match = request.headers.get("If-Match")
        if if_match is not None and if_match.strip() not in ("*", etag):
            resp = _xml(
                412,
                "ConditionNotMet",
                "The condition specified using HTTP conditional header(s) is not met.",
            )
            resp.headers["ETag"] = etag
            return resp
        range_header = None if ctx.config.blob_ignore_ranges else request.headers.get("Range")
        if range_header is not None and range_header.strip().startswith("bytes=-"):
            ctx.stats.blob_suffix_ranges += 1
        byte_range = parse_range(range_header, rec.log.size)
        if range_header is not None and range_header.strip() == "bytes=0-":
            byte_range = None  # Azure: the whole blob is a plain 200
        if byte_range is False:
            resp = _xml(
                416,
                "InvalidRange",
                "The range specified is invalid for the current size of the resource.",
            )
            resp.headers["Content-Range"] = f"bytes */{rec.log.size}"
            return resp
        headers = _azure_headers()
        headers.update(
            {
                "Accept-Ranges": "bytes",
                "ETag": etag,
                "x-ms-blob-type": "BlockBlob",
            }
        )
        return await stream_log(
            request, ctx, rec, headers=headers, fault=fault, byte_range=byte_range
        )

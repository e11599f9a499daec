"""The web app: the page, its assets and the JSON API under /api/, on Starlette (ASGI).

    GET  /                 the page                      GET  /static/NAME   its scripts and styles
    GET  /api/info         the run                       POST /api/generate  a stream of server-sent events
    POST /api/score        surprise per token            POST /api/activations, /api/units, /api/excerpt

The model's work runs in worker threads (``anyio.to_thread``), so the event loop keeps answering while
a request computes. Each request has its own recurrent state. The one thing requests share is the
count of requests computing, read and written on the event loop only: past ``Limits.max_busy`` a
request gets 503. Errors are JSON, ``{"error": ..., "field": ..., "limit": ...}``, always 4xx for what a
client sent. The assets are read into memory at start: a URL picks one of them by name and can reach no
other file. Requests must carry a Host header naming a loopback address when the server listens on one
(so a web page elsewhere cannot rebind its name to this server) and JSON bodies must say
``Content-Type: application/json`` (so another site's page cannot post to it without asking first).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import DeeprnnError
from .requests import (RequestError, activations_spec, check_fields, excerpt_spec, generate_spec, parse_json,
                       text_spec, units_spec)
from .service import ServedRun

STATIC = Path(__file__).with_name("static")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
SECURITY = {  # nothing outside this server: no CDN, no fonts, no frames
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
STREAM_SLICE = 0.02  # seconds of sampling gathered into one streamed event at most


def load_assets(folder: Path = STATIC) -> dict[str, tuple[bytes, str]]:
    """{file name: (bytes, content type)} for every asset of the page."""
    return {p.name: (p.read_bytes(), TYPES[p.suffix]) for p in sorted(folder.iterdir()) if p.suffix in TYPES}


class Busy:
    """How many requests are computing; used on the event loop only, so it needs no lock."""

    def __init__(self, limit: int):
        self.limit, self.count = limit, 0

    def take(self) -> None:
        if self.count >= self.limit:
            raise RequestError(f"the server is busy: {self.count} of {self.limit} requests running (the limit); "
                               "try again in a moment", status=503, limit=self.limit)
        self.count += 1

    def give(self) -> None:
        self.count -= 1


class EventStream(StreamingResponse):
    """Server-sent events. When the stream ends, fails or the client goes away, ``on_close`` runs and
    the generator is closed at once, so a disconnected client's sampling stops after the current slice."""

    media_type = "text/event-stream"

    def __init__(self, events, on_close):
        super().__init__(events, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **SECURITY})
        self.on_close = on_close

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        except ClientDisconnect:
            pass
        finally:
            self.on_close()
            await self.body_iterator.aclose()


def sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _next_slice(pieces) -> list[str]:
    """Sample for up to STREAM_SLICE seconds (at least one piece); [] when the stream is over."""
    out, t0 = [], time.perf_counter()
    for piece in pieces:
        out.append(piece)
        if time.perf_counter() - t0 >= STREAM_SLICE:
            break
    return out


def create_app(served: ServedRun, loopback: bool = True) -> Starlette:
    """The app for one run. ``loopback``: the server listens on a loopback address only (check Host)."""
    limits, busy, assets = served.limits, Busy(served.limits.max_busy), load_assets()
    hidden, layers = served.model.hidden_size, served.model.num_layers
    specs = {"score": text_spec(limits), "units": units_spec(limits), "excerpt": excerpt_spec(limits),
             "activations": activations_spec(limits, layers, served.states, hidden),
             "generate": generate_spec(limits, len(served.vocab))}

    async def body(request: Request, name: str) -> dict:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise RequestError("expected Content-Type: application/json, got " + (repr(kind) if kind else "none"),
                               status=415)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise RequestError(f"expected a request body of at most {limits.max_body_bytes} bytes (the limit), "
                               f"got {int(declared)}", status=413, limit=limits.max_body_bytes)
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limits.max_body_bytes:
                break  # parse_json names the limit
        return check_fields(parse_json(bytes(raw), limits), specs[name])

    async def compute(fn, req: dict) -> JSONResponse:
        busy.take()
        try:
            return JSONResponse(await anyio.to_thread.run_sync(fn, req), headers=SECURITY)
        finally:
            busy.give()

    def endpoint(name: str, fn):
        async def handle(request: Request):
            return await compute(fn, await body(request, name))

        return handle

    async def generate(request: Request):
        req = await body(request, "generate")
        busy.take()
        try:
            start, pieces = served.start_generation(req)
        except BaseException:
            busy.give()
            raise
        return EventStream(_events(start, pieces), busy.give)

    async def info(request: Request):
        return JSONResponse(served.info(), headers=SECURITY)

    async def index(request: Request):
        return Response(assets["index.html"][0], media_type=assets["index.html"][1], headers=SECURITY)

    async def static(request: Request):
        name = request.path_params["name"]
        if name not in assets:
            raise HTTPException(404, f"no such asset {name!r}")
        data, kind = assets[name]
        return Response(data, media_type=kind, headers={"Cache-Control": "no-cache", **SECURITY})

    routes = [Route("/", index), Route("/static/{name}", static), Route("/api/info", info),
              Route("/api/generate", generate, methods=["POST"])]
    routes += [Route(f"/api/{name}", endpoint(name, getattr(served, name)), methods=["POST"])
               for name in ("score", "activations", "units", "excerpt")]
    handlers = {RequestError: _request_error, HTTPException: _http_error, DeeprnnError: _user_error,
                Exception: _bug}
    app = Starlette(routes=routes, exception_handlers=handlers)
    return HostCheck(app) if loopback else app


async def _events(start: dict, pieces):
    yield sse("start", start)
    count, t0 = 0, time.perf_counter()
    try:
        while chunk := await anyio.to_thread.run_sync(_next_slice, pieces):
            count += len(chunk)
            yield sse("text", {"text": "".join(chunk)})
    except Exception:  # a bug: tell the page, keep the traceback on the console
        traceback.print_exc(file=sys.stderr)
        yield sse("error", {"error": "internal error while sampling; see the server's console"})
        return
    yield sse("done", {"tokens": count, "seconds": round(time.perf_counter() - t0, 4)})


async def _request_error(request, e: RequestError):
    return JSONResponse(e.as_dict(), status_code=e.status, headers=SECURITY)


async def _http_error(request, e: HTTPException):
    headers = {**SECURITY, **(e.headers or {})}
    return JSONResponse({"error": f"{e.status_code}: {e.detail} ({request.method} {request.url.path})"},
                        status_code=e.status_code, headers=headers)


async def _user_error(request, e: DeeprnnError):
    return JSONResponse({"error": str(e)}, status_code=422, headers=SECURITY)


async def _bug(request, e: Exception):
    return JSONResponse({"error": f"internal error ({type(e).__name__}); see the server's console"},
                        status_code=500, headers=SECURITY)


class HostCheck:
    """Answer only requests whose Host names a loopback address (DNS rebinding protection)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name.lower() not in LOOPBACK_NAMES:
                msg = {"error": f"expected a Host header naming this machine ({', '.join(LOOPBACK_NAMES)}), "
                                f"got {host!r}"}
                await JSONResponse(msg, status_code=400, headers=SECURITY)(scope, receive, send)
                return
        await self.app(scope, receive, send)

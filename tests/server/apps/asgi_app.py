"""ASGI conformance app for tests/server (each path is one behaviour)."""

import asyncio
import hashlib
import json
import os
import time
from urllib.parse import parse_qs

SEEN = {"disconnects": 0, "cancelled": 0}


def _scope_json(scope):
    out = {}
    for key, value in scope.items():
        if key == "headers":
            value = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in value]
        elif key == "state":
            value = sorted(value)
        elif isinstance(value, bytes):
            value = value.decode("latin-1")
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


async def _read_body(receive):
    body = bytearray()
    messages = 0
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        body += message.get("body", b"")
        messages += 1
        if not message.get("more_body", False):
            return bytes(body), messages


async def _send_json(send, data, status=200, headers=()):
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), *headers]})
    await send({"type": "http.response.body", "body": body})


async def lifespan(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["booted_at"] = time.time()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            marker = os.environ.get("SHUTDOWN_MARKER")
            if marker:
                with open(marker, "w") as f:
                    f.write("shutdown ran")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    assert scope["type"] == "http"
    path = scope["path"]
    query = parse_qs(scope["query_string"].decode("latin-1"))
    arg = lambda name, default: query.get(name, [default])[0]  # noqa: E731

    if path == "/echo" or path.startswith("/echo/"):
        body, messages = await _read_body(receive)
        await _send_json(send, {"scope": _scope_json(scope), "body_len": len(body), "sha256": hashlib.sha256(body).hexdigest(), "messages": messages})
    elif path.startswith("/status/"):
        status = int(path.rsplit("/", 1)[1])
        await send({"type": "http.response.start", "status": status, "headers": [(b"x-status", str(status).encode())]})
        await send({"type": "http.response.body", "body": b"" if status in (204, 304) else f"status {status}".encode()})
    elif path == "/headers":
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2"), (b"X-Mixed-Case", b"Value \xe9"), (b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
    elif path == "/stream":
        n, size = int(arg("n", "4")), int(arg("size", "10"))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
        for i in range(n):
            await send({"type": "http.response.body", "body": bytes([65 + i % 26]) * size, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif path == "/sleep":
        await asyncio.sleep(float(arg("s", "0.1")))
        await _send_json(send, {"id": arg("id", ""), "slept": float(arg("s", "0.1"))})
    elif path == "/raise":
        raise RuntimeError("boom before start")
    elif path == "/raise-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("boom after start")
    elif path == "/no-response":
        return
    elif path == "/cl-mismatch":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"short"})
    elif path == "/abort":
        os.abort()
    elif path == "/loop":
        while True:
            pass
    elif path == "/wait-disconnect":
        try:
            message = await receive()
            while message["type"] == "http.request" and message.get("more_body"):
                message = await receive()
            message = await receive()
            if message["type"] == "http.disconnect":
                SEEN["disconnects"] += 1
        except asyncio.CancelledError:
            SEEN["cancelled"] += 1
            raise
    elif path == "/seen":
        await _send_json(send, SEEN)
    else:
        await _send_json(send, {"error": "not found"}, status=404)

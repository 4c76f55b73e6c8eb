"""Time one request to bench/apps/http_app.py's Starlette app called directly, with no
server: `app_cost.py PATH N` prints {"us": microseconds per request} (median of 5 loops of
N calls, after one warm-up loop). Used by `npm run bench -- http` for the ceiling rows: the
same file runs in a greenwasm runtime and on native CPython."""

import asyncio
import json
import sys
import time

import http_app

HEADERS = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]


def scope(path):
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": list(HEADERS), "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000), "state": {},
    }


async def main(path, n):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message["type"])

    app = http_app.app
    loops = []
    for i in range(6):
        sent.clear()
        t0 = time.perf_counter()
        for _ in range(n):
            await app(scope(path), receive, send)
        if i:
            loops.append((time.perf_counter() - t0) / n * 1e6)
        if sent.count("http.response.body") != n:
            raise SystemExit(f"{path}: {sent.count('http.response.body')} responses for {n} calls")
    loops.sort()
    print(json.dumps({"us": loops[len(loops) // 2]}))


asyncio.run(main(sys.argv[1], int(sys.argv[2])))

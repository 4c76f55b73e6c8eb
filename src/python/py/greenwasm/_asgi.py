"""ASGI 3 (http + lifespan) adapter driven by greenwasm's HTTP host.

Each request is one asyncio task on the server's ServerLoop, started eagerly
(it runs until its first real suspension right away). New requests arrive in
batches with the pump (`accept()`, see _serve_common for the format), so the
common case costs one crossing into Python per batch and one `hooks.respond()`
per response (status, headers and the whole body of a response sent as a
single `http.response.body` message). Streaming responses use `hooks.start()`
and `hooks.write()`, which returns False when the socket buffer is full; the
host then calls `drained(id)` and `send()` resumes.

Request bodies: the host passes the first bytes with the request; when
`more` is true, `receive()` asks for the next one with `hooks.want(id)` and the
host answers with `feed(id, chunk, more)`, so at most one chunk per request is
buffered here (backpressure by construction).
"""

import asyncio

from ._serve_common import (
    BODY_LEN, HEADERS, ID, IP, METHOD, MORE, PORT, TARGET, VERSION,
    BadResponse, as_text, decode_path, encode_headers, log_exception, records, split_target,
)

_ASGI = {"version": "3.0", "spec_version": "2.3"}
_ERROR = 40
_STATUS_TIMEOUT = 504


class Exchange:
    __slots__ = (
        "id", "server", "scope", "body", "more", "waiter", "closed", "started",
        "sent", "complete", "status", "headers", "task", "drain",
    )

    def __init__(self, server, id, scope, body, more):
        self.id = id
        self.server = server
        self.scope = scope
        self.body = body
        self.more = more
        self.waiter = None
        self.closed = False  # the host no longer wants output (disconnect, timeout)
        self.started = False
        self.sent = False
        self.complete = False
        self.status = 200
        self.headers = None
        self.task = None
        self.drain = None

    async def receive(self):
        body = self.body
        if body is not None:
            self.body = None
            return {"type": "http.request", "body": body, "more_body": self.more}
        if not self.closed and not self.complete:
            fut = self.waiter = self.server.loop.create_future()
            if self.more:
                self.server.want(self.id)
            await fut
            body = self.body
            if body is not None and not self.closed:
                self.body = None
                return {"type": "http.request", "body": body, "more_body": self.more}
        return {"type": "http.disconnect"}

    def _wake(self):
        fut = self.waiter
        if fut is not None:
            self.waiter = None
            if not fut.done():
                fut.set_result(None)
        fut = self.drain
        if fut is not None:
            self.drain = None
            if not fut.done():
                fut.set_result(None)

    async def send(self, message):
        kind = message["type"]
        if self.closed:
            return
        if not self.started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got {kind!r}.")
            self.started = True
            self.status = int(message["status"])
            self.headers = message.get("headers")
            return
        if self.complete:
            raise RuntimeError(f"Unexpected ASGI message {kind!r} sent, after response already completed.")
        if kind != "http.response.body":
            raise RuntimeError(f"Expected ASGI message 'http.response.body', but got {kind!r}.")
        body = message.get("body", b"")
        body = body.decode("latin-1") if type(body) is bytes else as_text(body)
        more = message.get("more_body", False)
        server = self.server
        if not self.sent:
            headers = encode_headers(self.headers)
            self.sent = True
            if not more:
                # The common case: the whole response in one crossing.
                self.complete = True
                server.respond(self.id, self.status, headers, body)
                if self.waiter is not None:
                    self._wake()
                return
            server.start(self.id, self.status, headers)
        if not more:
            self.complete = True
        if not server.write(self.id, body, more):
            if not more:
                self._wake()
                return
            fut = self.drain = server.loop.create_future()
            await fut
        elif not more:
            self._wake()

    async def run(self, app):
        server = self.server
        try:
            await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            timeout = isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError))
            if isinstance(exc, KeyboardInterrupt):
                server.interrupted()
            elif not timeout:
                log_exception(server.log, "Exception in ASGI application", exc)
            if not self.closed:
                if self.sent:
                    server.abort(self.id)
                else:
                    server.fail(self.id, _STATUS_TIMEOUT if timeout else 500)
            if not isinstance(exc, Exception) and not timeout:
                raise
        else:
            if not self.closed and not self.complete:
                if not self.sent:
                    server.log(_ERROR, "ASGI callable returned without starting response.")
                    server.fail(self.id, 500)
                else:
                    server.log(_ERROR, "ASGI callable returned without completing response.")
                    server.abort(self.id)
        finally:
            server.exchanges.pop(self.id, None)


class AsgiServer:
    """The Python half of an ASGI host; one per runtime."""

    def __init__(self, app, loop, hooks, config):
        self.app = app
        self.loop = loop
        self.exchanges = {}
        self.respond = hooks.respond
        self.start = hooks.start
        self.write = hooks.write
        self.want = hooks.want
        self.fail = hooks.fail
        self.abort = hooks.abort
        self.log = hooks.log
        self.interrupted = hooks.interrupted
        self.root_path = config.get("rootPath", "")
        self.server = (config.get("host", "127.0.0.1"), int(config.get("port", 0)))
        self.state = {}

    def accept(self, heads, bodies):
        """Start a batch of new requests (in a pump: tasks start eagerly)."""
        pos = 0
        state = self.state
        for rec in heads.split("\0"):
            p = rec.split("\n", HEADERS)
            id = int(p[ID])
            try:
                n = int(p[BODY_LEN])
                body = bodies[pos : pos + n].encode("latin-1") if n else b""
                pos += n
                target = p[TARGET]
                q = target.find("?")
                if q < 0:
                    raw, query = target, b""
                else:
                    raw, query = target[:q], target[q + 1 :].encode("latin-1")
                if raw[:1] != "/" or "#" in raw:
                    raw_bytes, query = split_target(target.encode("latin-1"))
                    raw = raw_bytes.decode("latin-1")
                it = iter(p[HEADERS].encode("latin-1").split(b"\n")) if len(p) > HEADERS else iter(())
                scope = {
                    "type": "http",
                    "asgi": _ASGI,
                    "http_version": p[VERSION],
                    "server": self.server,
                    "client": (p[IP], int(p[PORT] or 0)),
                    "scheme": "http",
                    "method": p[METHOD],
                    "root_path": self.root_path,
                    "path": decode_path(raw) if "%" in raw else raw,
                    "raw_path": raw.encode("latin-1"),
                    "query_string": query,
                    "headers": list(zip(it, it)),
                }
                if state:
                    scope["state"] = state.copy()
                ex = Exchange(self, id, scope, body, p[MORE] == "1")
                self.exchanges[id] = ex
                ex.task = asyncio.Task(ex.run(self.app), loop=self.loop, eager_start=True)
            except Exception as exc:
                log_exception(self.log, "cannot start request", exc)
                self.fail(id, 500)

    def feed(self, id, chunk, more):
        ex = self.exchanges.get(id)
        if ex is None:
            return
        data = chunk.encode("latin-1")
        ex.body = ex.body + data if ex.body else data
        ex.more = bool(more)
        ex._wake()

    def drained(self, id):
        ex = self.exchanges.get(id)
        if ex is not None:
            ex._wake()

    def close(self, id, cancel):
        """The host is done with a request (client gone, or timed out when `cancel`)."""
        ex = self.exchanges.get(id)
        if ex is None:
            return
        ex.closed = True
        ex._wake()
        if cancel and ex.task is not None:
            ex.task.cancel()


class Lifespan:
    """ASGI lifespan protocol, as uvicorn's `--lifespan auto`: an app that fails
    before startup completes is taken not to support it."""

    def __init__(self, server, mode, done):
        self.server = server
        self.mode = mode  # "auto" | "on" | "off"
        self.done = done  # JS: done(phase, ok, message)
        self.queue = asyncio.Queue()
        self.supported = True
        self.task = None
        self.phase = "startup"

    def startup(self):
        if self.mode == "off":
            self.done("startup", True, "")
            return
        self.queue.put_nowait({"type": "lifespan.startup"})
        self.task = self.server.loop.create_task(self.main())

    def shutdown(self):
        if self.mode == "off" or not self.supported or self.task is None or self.task.done():
            self.done("shutdown", True, "")
            return
        self.phase = "shutdown"
        self.queue.put_nowait({"type": "lifespan.shutdown"})

    async def main(self):
        scope = {"type": "lifespan", "asgi": _ASGI, "state": self.server.state}
        try:
            await self.server.app(scope, self.queue.get, self.send)
        except BaseException as exc:
            if self.phase == "startup" and self.mode == "auto":
                self.supported = False
                self.server.log(20, "ASGI 'lifespan' protocol appears unsupported.")
                self.done("startup", True, "")
            else:
                log_exception(self.server.log, "Exception in 'lifespan' protocol", exc)
                self.done(self.phase, False, f"{type(exc).__name__}: {exc}")
            if not isinstance(exc, Exception):
                raise
        else:
            # The app returned: whatever phase was waiting is over.
            self.done(self.phase, True, "")

    async def send(self, message):
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self.done("startup", True, "")
        elif kind == "lifespan.startup.failed":
            self.done("startup", False, str(message.get("message", "")))
        elif kind == "lifespan.shutdown.complete":
            self.done("shutdown", True, "")
        elif kind == "lifespan.shutdown.failed":
            self.done("shutdown", False, str(message.get("message", "")))
        else:
            raise RuntimeError(f"unexpected ASGI lifespan message {kind!r}")


__all__ = ["AsgiServer", "Lifespan", "BadResponse"]

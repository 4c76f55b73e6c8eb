"""WSGI (PEP 3333) adapter driven by greenwasm's HTTP host.

The host calls `WsgiServer.handle(id, head, body, more)` as a new greenlet
thread per request (its own JSPI stack), so a handler that blocks
(`time.sleep`, a database call, reading a slow request body) suspends only
its own stack. Blocking waits on the host use `run_sync` on a JS promise:
- `hooks.read(id)` resolves to the next body chunk (Latin-1 string) or null
  at the end of the body;
- `hooks.drain(id)` resolves once the socket buffer has room again (after
  `hooks.write()` returned False).

Output: a response whose body is complete in its first chunk (a one-element
list/tuple, or a first chunk as long as its Content-Length) goes out in one
`hooks.respond()` call; anything else streams through `hooks.start()` and
`hooks.write()` without delaying any block (PEP 3333).
"""

import io
import sys

from ._serve_common import (
    HEADERS, ID, IP, METHOD, MORE, PORT, TARGET, VERSION,
    BadResponse, as_text, decode_path, log_exception, records, split_target,
)

try:  # the fast path from greenwasm's runtime, when present
    from greenwasm import run_sync as _run_sync  # type: ignore[attr-defined]
except ImportError:
    from pyodide.ffi import run_sync as _run_sync

_STATUS_TIMEOUT = 504


class _BodyReader(io.RawIOBase):
    """wsgi.input for a body that is still arriving."""

    def __init__(self, read, id, first):
        super().__init__()
        self._read = read
        self._id = id
        self._buf = first
        self._eof = False

    def readable(self):
        return True

    def readinto(self, b):
        while not self._buf:
            if self._eof:
                return 0
            chunk = _run_sync(self._read(self._id))
            if chunk is None:
                self._eof = True
            else:
                self._buf = chunk.encode("latin-1")
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class _Response:
    __slots__ = ("status", "headers", "sent", "cl")

    def __init__(self):
        self.status = None
        self.headers = None
        self.sent = False
        self.cl = -1


def _encode_status(status):
    if not isinstance(status, str):
        raise BadResponse("WSGI status must be a str")
    code = status.split(" ", 1)[0]
    if len(code) != 3 or not code.isdigit():
        raise BadResponse(f"invalid WSGI status {status!r}")
    return int(code)


class WsgiServer:
    def __init__(self, app, hooks, config):
        self.app = app
        self.respond = hooks.respond
        self.start = hooks.start
        self.write = hooks.write
        self.read = hooks.read
        self.drain = hooks.drain
        self.fail = hooks.fail
        self.abort = hooks.abort
        self.log = hooks.log
        self.interrupted = hooks.interrupted
        self.root_path = config.get("rootPath", "")
        self.server_name = str(config.get("host", "127.0.0.1"))
        self.server_port = str(config.get("port", 0))
        self.multiprocess = int(config.get("workers", 1)) > 1

    def environ(self, p, body):
        raw, query = split_target(p[TARGET])
        path = decode_path(raw).encode("utf-8", "surrogateescape").decode("latin-1")
        root = self.root_path
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root) :]
        first = body.encode("latin-1") if body else b""
        more = p[MORE] == b"1"
        env = {
            "REQUEST_METHOD": p[METHOD].decode("latin-1"),
            "SCRIPT_NAME": root,
            "PATH_INFO": path,
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_NAME": self.server_name,
            "SERVER_PORT": self.server_port,
            "SERVER_PROTOCOL": "HTTP/" + p[VERSION].decode("latin-1"),
            "REMOTE_ADDR": p[IP].decode("latin-1"),
            "REMOTE_PORT": p[PORT].decode("latin-1"),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BufferedReader(_BodyReader(self.read, int(p[ID]), first)) if more else io.BytesIO(first),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": self.multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        hs = p[HEADERS:]
        for i in range(0, len(hs) - 1, 2):
            name = hs[i].decode("latin-1").upper().replace("-", "_")
            key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name
            value = hs[i + 1].decode("latin-1")
            old = env.get(key)
            if old is not None:
                value = old + ("; " if key == "HTTP_COOKIE" else ",") + value
            env[key] = value
        return env

    def handle(self, head, body):
        """Run one request to completion (called on its own greenlet thread)."""
        p = records(head)[0]
        id = int(p[ID])
        resp = _Response()
        try:
            self._run(id, p, body, resp)
        except BaseException as exc:
            timeout = isinstance(exc, KeyboardInterrupt)
            if timeout:
                self.interrupted()
            else:
                log_exception(self.log, "Exception in WSGI application", exc)
            if resp.sent:
                self.abort(id)
            else:
                self.fail(id, _STATUS_TIMEOUT if timeout else 500)
            if not isinstance(exc, Exception) and not timeout:
                raise

    def _run(self, id, p, body, resp):
        def start_response(status, headers, exc_info=None):
            if exc_info:
                try:
                    if resp.sent:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif resp.status is not None:
                raise AssertionError("start_response called a second time without exc_info")
            resp.status = _encode_status(status)
            flat = []
            for name, value in headers:
                if name.lower() == "content-length":
                    try:
                        resp.cl = int(value)
                    except ValueError:
                        raise BadResponse(f"invalid Content-Length {value!r}") from None
                flat.append(name)
                flat.append(value)
            text = "\n".join(flat)
            if text.count("\n") != max(0, len(flat) - 1) or "\r" in text:
                raise BadResponse("invalid character in an HTTP response header")
            resp.headers = text
            return write

        def write(data):
            if resp.status is None:
                raise AssertionError("write() before start_response()")
            if not resp.sent:
                resp.sent = True
                self.start(id, resp.status, resp.headers)
            if data and not self.write(id, as_text(data), True):
                _run_sync(self.drain(id))

        result = self.app(self.environ(p, body), start_response)
        try:
            it = iter(result)
            first = b""
            for chunk in it:
                if chunk:
                    first = chunk
                    break
            else:
                it = None
            if resp.status is None:
                raise AssertionError("the WSGI application did not call start_response()")
            if not resp.sent and (
                it is None
                or (type(result) in (list, tuple) and len(result) == 1)
                or (resp.cl >= 0 and len(first) >= resp.cl)
            ):
                resp.sent = True
                self.respond(id, resp.status, resp.headers, as_text(first))
                if it is not None:
                    for chunk in it:
                        if chunk:
                            self.log(30, "WSGI application produced data past its Content-Length; dropped")
                            break
                return
            write(first)
            if it is not None:
                for chunk in it:
                    if chunk:
                        write(chunk)
            self.write(id, "", False)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

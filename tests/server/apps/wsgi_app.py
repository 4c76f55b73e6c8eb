"""WSGI conformance app for tests/server (each path is one behaviour)."""

import hashlib
import json
import time
from urllib.parse import parse_qs


def _json(start_response, data, status="200 OK", headers=()):
    body = json.dumps(data).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers])
    return [body]


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = parse_qs(environ["QUERY_STRING"])
    arg = lambda name, default: query.get(name, [default])[0]  # noqa: E731

    if path.startswith("/environ"):
        body = environ["wsgi.input"].read()
        env = {k: v for k, v in environ.items() if isinstance(v, (str, int, bool, tuple))}
        return _json(start_response, {"environ": env, "body_len": len(body), "sha256": hashlib.sha256(body).hexdigest()})
    if path == "/readline":
        stream = environ["wsgi.input"]
        lines = []
        while True:
            line = stream.readline()
            if not line:
                break
            lines.append(len(line))
        return _json(start_response, {"lines": lines})
    if path.startswith("/status/"):
        code = int(path.rsplit("/", 1)[1])
        reason = {200: "OK", 201: "Created", 204: "No Content", 404: "Not Found", 503: "Service Unavailable"}.get(code, "Whatever")
        start_response(f"{code} {reason}", [("X-Status", str(code))])
        return [] if code == 204 else [f"status {code}".encode()]
    if path == "/headers":
        start_response("200 OK", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Mixed-Case", "yes")])
        return [b"ok"]
    if path == "/generator":
        n = int(arg("n", "5"))
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            for i in range(n):
                yield f"line {i}\n".encode()
                time.sleep(0.01)

        return gen()
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"legacy ")
        write(b"write ")
        return [b"callable"]
    if path == "/sleep":
        seconds = float(arg("s", "0.1"))
        time.sleep(seconds)
        return _json(start_response, {"id": arg("id", ""), "slept": seconds})
    if path == "/raise":
        raise ValueError("wsgi boom")
    if path == "/loop":
        while True:
            pass
    if path == "/close":
        class Body:
            closed = False

            def __iter__(self):
                yield b"closing body"

            def close(self):
                CLOSED.append(True)

        start_response("200 OK", [])
        return Body()
    if path == "/closed":
        return _json(start_response, {"closed": len(CLOSED)})
    return _json(start_response, {"error": "not found"}, status="404 Not Found")


CLOSED = []

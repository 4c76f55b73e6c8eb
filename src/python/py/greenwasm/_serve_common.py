"""Pieces shared by the ASGI and WSGI adapters of greenwasm's HTTP server.

Wire format from the host (src/server/exchange.ts `encodeHead`): one record
per request, fields separated by "\\n" (HTTP forbids LF and NUL inside a
request line or header), header names already lower-cased:

    ID \\n BODY-LENGTH \\n MORE \\n METHOD \\n TARGET \\n HTTP-VERSION \\n
    CLIENT-IP \\n CLIENT-PORT [\\n NAME \\n VALUE]...

Several records travel in one string, separated by "\\0"; their first body
bytes follow in a second string, BODY-LENGTH characters each, in order.
Every character is one byte of the wire (the host decoded it as Latin-1), so
`.encode("latin-1")` restores the bytes. Response headers go back as one
Latin-1 string "name\\nvalue\\nname\\nvalue".
"""

import sys
import traceback
from urllib.parse import unquote

# Field positions in a record.
ID, BODY_LEN, MORE, METHOD, TARGET, VERSION, IP, PORT, HEADERS = range(9)


class BadResponse(RuntimeError):
    pass


def split_target(target):
    """(raw_path, query) of a request target (bytes); absolute-form loses scheme and authority."""
    if target[:1] != b"/":
        if target.startswith((b"http://", b"https://")):
            slash = target.find(b"/", target.find(b"//") + 2)
            target = target[slash:] if slash >= 0 else b"/"
    q = target.find(b"?")
    if q < 0:
        raw, query = target, b""
    else:
        raw, query = target[:q], target[q + 1 :]
    h = raw.find(b"#")
    if h >= 0:
        raw = raw[:h]
    return raw, query


def decode_path(raw):
    """ASGI `path` of a raw path (Latin-1 str or bytes): percent-decoded as UTF-8 text."""
    if type(raw) is bytes:
        raw = raw.decode("latin-1")
    if "%" in raw:
        return unquote(raw, encoding="utf-8", errors="surrogateescape")
    return raw


def records(heads):
    """The records of a batch, each as a list of bytes fields."""
    return [r.split(b"\n") for r in heads.encode("latin-1").split(b"\0")]


def encode_headers(headers):
    """ASGI header pairs -> the host's "name\\nvalue\\n..." Latin-1 string.
    A LF inside a name or value would shift the pairs, so the LF count is checked."""
    if not headers:
        return ""
    flat = []
    append = flat.append
    try:
        for name, value in headers:
            append(name)
            append(value)
        joined = b"\n".join(flat)
    except (TypeError, ValueError):
        raise BadResponse("ASGI response headers must be (name, value) pairs of bytes") from None
    if joined.count(b"\n") != len(flat) - 1:
        raise BadResponse("invalid HTTP response header (a name or value contains LF, or a pair is malformed)")
    return joined.decode("latin-1")


def as_text(body):
    """A body chunk (bytes-like) as the host's Latin-1 string."""
    if type(body) is not bytes:
        try:
            body = bytes(body)
        except TypeError:
            raise BadResponse(f"response body must be bytes, not {type(body).__name__}") from None
    return body.decode("latin-1")


def log_exception(log, message, exc):
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        log(40, f"{message}\n{text.rstrip()}")
    except Exception:
        print(message, text, file=sys.stderr)


def load_app(spec):
    """Import "module:attribute" (attribute may be dotted) and return the object."""
    import importlib

    module_name, sep, attrs = spec.partition(":")
    if not sep or not module_name or not attrs:
        raise ImportError(f'app must look like "module:attribute", got {spec!r}')
    module = importlib.import_module(module_name)
    obj = module
    for part in attrs.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError(f'attribute "{attrs}" not found in module "{module_name}"') from None
    return obj


def detect_interface(app):
    import inspect

    if inspect.iscoroutinefunction(app):
        return "asgi"
    call = getattr(type(app), "__call__", None) if not inspect.isfunction(app) else None
    if call is not None and inspect.iscoroutinefunction(call):
        return "asgi"
    return "wsgi"

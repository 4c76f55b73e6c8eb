"""PostgreSQL frontend/backend protocol v3.0: message encoding, a buffered
message reader, and opening the socket (TCP or Unix, optional TLS).

Every frontend message is built as complete bytes so a whole pipeline goes
out in one ``sendall``. Backend messages are returned as (type byte as int,
payload bytes); the reader raises ``errors.lost`` when the socket fails or
the server closes it.
"""
import socket
import struct

from .errors import OperationalError, lost
from .params import TLS_AVAILABLE

I32 = struct.Struct("!i")
I16 = struct.Struct("!h")
I32_PAIR = struct.Struct("!ii")

PROTOCOL_3_0 = 196608
SSL_REQUEST = I32_PAIR.pack(8, 80877103)
SYNC = b"S\0\0\0\4"
FLUSH = b"H\0\0\0\4"
TERMINATE = b"X\0\0\0\4"
EXECUTE_ALL = b"E\0\0\0\11\0\0\0\0\0"  # unnamed portal, no row limit
NULL_VALUE = b"\xff\xff\xff\xff"
_AF_UNIX = getattr(socket, "AF_UNIX", None)  # absent under Emscripten


def message(code, payload):
    return code + I32.pack(len(payload) + 4) + payload


def startup(params):
    body = I32.pack(PROTOCOL_3_0) + b"".join(
        k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items() if v is not None
    ) + b"\0"
    return I32.pack(len(body) + 4) + body


def cancel_request(pid, secret):
    return I32.pack(16) + I32.pack(80877102) + I32_PAIR.pack(pid, secret)


def password(data):
    return message(b"p", data + b"\0")


def sasl_initial(mechanism, data):
    return message(b"p", mechanism.encode() + b"\0" + I32.pack(len(data)) + data)


def sasl_response(data):
    return message(b"p", data)


def query(sql):
    return message(b"Q", sql.encode("utf-8") + b"\0")


def parse(name, sql, oids):
    return message(
        b"P",
        name + b"\0" + sql.encode("utf-8") + b"\0" + I16.pack(len(oids)) + b"".join(I32.pack(o) for o in oids),
    )


def describe_statement(name):
    return message(b"D", b"S" + name + b"\0")


def close_statement(name):
    return message(b"C", b"S" + name + b"\0")


def bind(statement, formats, values, portal=b""):
    parts = [portal, b"\0", statement, b"\0"]
    n = len(values)
    if 1 in formats:
        parts.append(I16.pack(n))
        parts.extend(I16.pack(f) for f in formats)
    else:
        parts.append(b"\0\0")  # every parameter in text format
    parts.append(I16.pack(n))
    for v in values:
        if v is None:
            parts.append(NULL_VALUE)
        else:
            parts.append(I32.pack(len(v)))
            parts.append(v)
    parts.append(b"\0\0")  # every result column in text format
    return message(b"B", b"".join(parts))


def execute(portal=b"", max_rows=0):
    return message(b"E", portal + b"\0" + I32.pack(max_rows))


def cstrings(payload):
    """The NUL-terminated strings of a payload (ErrorResponse fields, ParameterStatus)."""
    return payload.split(b"\0")


def error_fields(payload):
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


class Stream:
    """Buffered reader of backend messages over a connected socket."""

    __slots__ = ("sock", "_buf", "_pos")

    def __init__(self, sock):
        self.sock = sock
        self._buf = b""
        self._pos = 0

    def send(self, data):
        try:
            self.sock.sendall(data)
        except socket.timeout as e:
            raise lost("timed out sending to the server", e) from e
        except OSError as e:
            raise lost("could not send data to server", e) from e

    def read(self):
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < 5:
            buf, pos = self._fill(5)
        end = pos + 1 + I32.unpack_from(buf, pos + 1)[0]
        if end > len(buf):
            buf, pos = self._fill(end - pos)
            end = pos + 1 + I32.unpack_from(buf, pos + 1)[0]
        self._pos = end
        return buf[pos], buf[pos + 5:end]

    def take_data_rows(self, out):
        """Append the payloads of the DataRow messages that come next and are complete in the
        buffer (the bulk of a result set) without a read() call per row."""
        buf = self._buf
        pos = self._pos
        n = len(buf)
        unpack = I32.unpack_from
        append = out.append
        while pos + 5 <= n and buf[pos] == 0x44:
            end = pos + 1 + unpack(buf, pos + 1)[0]
            if end > n:
                break
            append(buf[pos + 5:end])
            pos = end
        self._pos = pos

    def _fill(self, need):
        chunks = [self._buf[self._pos:]]
        have = len(chunks[0])
        recv = self.sock.recv
        while have < need:
            try:
                data = recv(max(65536, need - have))
            except socket.timeout as e:
                raise lost("timed out waiting for the server", e) from e
            except OSError as e:
                raise lost("could not receive data from server", e) from e
            if not data:
                raise lost("server closed the connection unexpectedly")
            chunks.append(data)
            have += len(data)
        self._buf = b"".join(chunks)
        self._pos = 0
        return self._buf, 0


def where(p):
    return 'socket "%s"' % p.host if p.host.startswith("/") else 'server at "%s", port %s' % (p.host, p.port)


def open_socket(p):
    """Connect to the server of Params ``p`` (TLS negotiated per sslmode); returns the socket."""
    timeout = p.connect_timeout
    try:
        if p.host.startswith("/"):
            if _AF_UNIX is None:
                raise OperationalError("connection to %s failed: no Unix-domain sockets here" % where(p))
            sock = socket.socket(_AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect("%s/.s.PGSQL.%d" % (p.host, p.port))
        else:
            sock = socket.create_connection((p.host, p.port), timeout=timeout)
    except socket.gaierror as e:
        raise OperationalError('could not translate host name "%s" to address: %s' % (p.host, e)) from e
    except socket.timeout as e:
        raise OperationalError("connection to %s failed: timeout expired" % where(p)) from e
    except OSError as e:
        raise OperationalError("connection to %s failed: %s" % (where(p), e.strerror or e)) from e
    if sock.family != _AF_UNIX:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        except OSError:
            pass  # best effort (not every socket layer has them)
    try:
        return _negotiate_tls(sock, p)
    except BaseException:
        sock.close()
        raise


def _negotiate_tls(sock, p):
    wants = p.sslmode in ("require", "verify-ca", "verify-full") or p.ssl_context is not None
    if sock.family == _AF_UNIX or p.sslmode in ("disable", "allow") and p.ssl_context is None:
        return sock
    if not TLS_AVAILABLE:
        if wants:
            raise OperationalError("sslmode=%s: TLS is not available in this Python (plain Pyodide's ssl module is a stub)" % p.sslmode)
        return sock  # prefer: plain
    try:
        sock.sendall(SSL_REQUEST)
        answer = sock.recv(1)
    except OSError as e:
        raise OperationalError("connection to %s failed during SSL negotiation: %s" % (where(p), e)) from e
    if answer == b"N":
        if wants:
            raise OperationalError("server at %s does not support SSL, but SSL was required" % where(p))
        return sock
    if answer != b"S":
        raise OperationalError("unexpected answer %r to SSLRequest" % answer)
    import ssl

    ctx = p.ssl_context
    if ctx is None:
        ctx = ssl.create_default_context(cafile=p.sslrootcert if p.sslmode.startswith("verify") else None)
        if p.sslmode != "verify-full":
            ctx.check_hostname = False
        if not p.sslmode.startswith("verify"):
            ctx.verify_mode = ssl.CERT_NONE
        if p.sslcert:
            ctx.load_cert_chain(p.sslcert, p.sslkey)
    try:
        return ctx.wrap_socket(sock, server_hostname=None if p.host.startswith("/") else p.host)
    except (ssl.SSLError, OSError) as e:
        raise OperationalError("SSL connection to %s failed: %s" % (where(p), e)) from e

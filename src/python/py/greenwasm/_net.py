"""Guest half of greenwasm's sockets; the host half is src/python/net.ts.

Contract with the host object `_nodeSock` (installed by net.ts as
`pyodide_js._api._nodeSock`):
- `explain(fd)` is `None` or `[kind, message]` for the last failed connect or
  TLS start on `fd`; kind is "denied" (allowlist), "dns" (the host could not
  resolve the name) or "tls" (handshake failed; message starts with Node's
  error code).
- `startTls(fd, servername, verify, ca, check_hostname)` resolves to 0 or a
  negative errno.
- `connect`, `recv`, `send` (asyncio's WebLoop calls them) reject with a JS
  Error whose `errno` is set and whose message explains a refusal.

What this module changes, once, at boot:
- `socket.socket.connect`: a refusal keeps its `PermissionError` but names
  host:port and the flag that grants it; a name the host cannot resolve raises
  `socket.gaierror`, as `getaddrinfo` would have natively (here `getaddrinfo`
  returns placeholder addresses and names are resolved at connect time).
- `select.select` (and `selectors.SelectSelector`): rebuilt on `select.poll`.
  Emscripten's select() is poll() underneath anyway, but it loses errno on
  EINTR, which the host's poll returns after every wait (see net.ts).
- asyncio (Pyodide's WebLoop `sock_connect`/`sock_recv`/`sock_sendall`, used
  by `open_connection`): those JS errors become `OSError` subclasses again.
- `ssl.SSLSocket.do_handshake` (Pyodide's ssl is a stub whose handshake runs
  in Node's TLS): passes the server name, verify_mode, check_hostname and the
  context's CA data to Node, and raises `ssl.SSLCertVerificationError` / `ssl.SSLError` with
  Node's reason; `SSLSocket` keeps the wrapped socket's timeout.
"""

import errno
import math
import os
import select as _select_module
import selectors
import socket
import ssl

# Node's codes for certificate verification failures (tls.TLSSocket authorizationError).
_VERIFY_CODES = {
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "UNABLE_TO_GET_ISSUER_CERT",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "CERT_HAS_EXPIRED",
    "CERT_NOT_YET_VALID",
    "CERT_REVOKED",
    "CERT_UNTRUSTED",
    "CERT_REJECTED",
    "INVALID_CA",
    "ERR_TLS_CERT_ALTNAME_INVALID",
    "HOSTNAME_MISMATCH",
}


def _detail(host, sock):
    try:
        fd = sock.fileno()
    except OSError:
        return None
    if fd < 0:
        return None
    d = host.explain(fd)
    return None if d is None else (str(d[0]), str(d[1]))


def _fd(obj):
    if isinstance(obj, int):
        fd = obj
    else:
        try:
            fileno = obj.fileno
        except AttributeError:
            raise TypeError("argument must be an int, or have a fileno() method.") from None
        fd = fileno()
        if not isinstance(fd, int):
            raise TypeError("fileno() returned a non-integer")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


def select(rlist, wlist, xlist, timeout=None, /):
    """select(rlist, wlist, xlist[, timeout]) -> (rlist, wlist, xlist): greenwasm's, on poll()."""
    if timeout is None:
        ms = None
    else:
        try:
            seconds = float(timeout)
        except (TypeError, ValueError):
            raise TypeError("timeout must be a float or None") from None
        if seconds < 0:
            raise ValueError("timeout must be non-negative")
        ms = math.ceil(seconds * 1000)
    lists = (list(rlist), list(wlist), list(xlist))
    bits = (_select_module.POLLIN, _select_module.POLLOUT, _select_module.POLLPRI)
    wanted = {}
    for objs, bit in zip(lists, bits):
        for obj in objs:
            fd = _fd(obj)
            wanted[fd] = wanted.get(fd, 0) | bit
    poller = _select_module.poll()
    for fd, events in wanted.items():
        poller.register(fd, events)
    got = dict(poller.poll(ms))
    if any(ev & _select_module.POLLNVAL for ev in got.values()):
        raise OSError(errno.EBADF, "Bad file descriptor")
    hup_err = _select_module.POLLHUP | _select_module.POLLERR
    masks = (_select_module.POLLIN | hup_err, _select_module.POLLOUT | _select_module.POLLERR, _select_module.POLLPRI)
    return tuple([obj for obj in objs if got.get(_fd(obj), 0) & m] for objs, m in zip(lists, masks))


def install(host):
    _select_module.select = select
    selectors.SelectSelector._select = staticmethod(select)

    plain_connect = socket.socket.connect

    def connect(self, address):
        try:
            return plain_connect(self, address)
        except OSError as exc:
            d = _detail(host, self) if exc.errno in (errno.EACCES, errno.EHOSTUNREACH) else None
            if d is None:
                raise
            kind, message = d
            if kind == "denied":
                exc.strerror = message
                exc.args = (exc.errno, message)
                raise
            if kind == "dns":
                raise socket.gaierror(socket.EAI_NONAME, f"Name or service not known ({message})") from None
            raise

    connect.__doc__ = plain_connect.__doc__
    socket.socket.connect = connect

    from pyodide.ffi import run_sync

    def do_handshake(self, block=False):
        ctx = self.context
        verify = ctx is None or ctx.verify_mode != ssl.CERT_NONE
        check_hostname = ctx is None or ctx.check_hostname
        ca = getattr(ctx, "_ca_data", None) or None
        result = run_sync(host.startTls(self.fileno(), self.server_hostname or "", verify, ca, check_hostname))
        if result >= 0:
            return
        d = _detail(host, self)
        message = d[1] if d else f"TLS handshake failed (errno={-result})"
        code = message.split(":", 1)[0]
        if code in _VERIFY_CODES:
            raise ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}")
        raise ssl.SSLError(1, message)

    ssl.SSLSocket.do_handshake = do_handshake

    # The stub's SSLSocket re-wraps the fd without the socket's timeout (so a
    # socket made with a timeout, hence non-blocking, turns into a "blocking"
    # one whose reads fail with EAGAIN): carry the timeout over.
    plain_create = ssl.SSLSocket._create.__func__

    def _create(cls, sock, *args, **kwargs):
        timeout = sock.gettimeout()
        ssl_sock = plain_create(cls, sock, *args, **kwargs)
        ssl_sock.settimeout(timeout)
        return ssl_sock

    ssl.SSLSocket._create = classmethod(_create)

    _install_webloop()


def _as_oserror(exc):
    code = getattr(exc, "errno", None)
    if not isinstance(code, int):
        return exc
    message = str(getattr(exc, "message", ""))
    if not message or message == errno.errorcode.get(code):
        message = os.strerror(code)
    return OSError(code, message)


def _install_webloop():
    from pyodide.ffi import JsException
    from pyodide.webloop import WebLoop

    def translating(method):
        async def wrapper(self, *args):
            try:
                return await method(self, *args)
            except JsException as exc:
                converted = _as_oserror(exc)
                if converted is exc:
                    raise
                raise converted from None

        wrapper.__name__ = method.__name__
        wrapper.__doc__ = method.__doc__
        return wrapper

    for name in ("sock_connect", "sock_recv", "sock_sendall"):
        setattr(WebLoop, name, translating(getattr(WebLoop, name)))

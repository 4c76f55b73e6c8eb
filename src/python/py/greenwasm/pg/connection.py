"""The DB-API connection: startup, authentication, and query execution over
the simple and extended query protocols.

Invariants:
- Every exchange ends at ReadyForQuery, which sets ``_status`` ('I' idle,
  'T' in a transaction, 'E' in a failed transaction); a pipeline sent with
  Flush (executemany chunks) ends once all its executes completed.
- Any failure that leaves the protocol state unknown (socket error, timeout,
  interrupt, FATAL error) closes the connection; the error raised then has
  ``connection_lost = True``.
- A connection serves one operation at a time; a second one started while the
  first is suspended (another green thread) raises InterfaceError.
"""
import collections
import json

from . import auth, types, wire
from .errors import DatabaseError, DataError, InterfaceError, NotSupportedError, OperationalError, lost, server_error
from .params import resolve
from .results import Result, Statement, decode_rows, describe, rowcount

_SIMPLE = object()  # marks a simple Query in the execute queue (popped at its ReadyForQuery)
_BEGIN = wire.query("BEGIN")
_NOTICES_KEPT = 50
_DDL = ("CREATE", "DROP", "ALTER")


class _Exchange:
    """Bookkeeping of one pipeline while its responses are read."""

    __slots__ = ("describes", "execs", "ready_needed", "rows", "desc", "result", "total", "error", "copy", "returned")

    def __init__(self):
        self.describes = collections.deque()
        self.execs = collections.deque()
        self.ready_needed = 0
        self.rows = []
        self.desc = None  # (description, decoders) of the running simple query
        self.result = None
        self.total = -1  # executemany: summed rowcount (else -1)
        self.error = None
        self.copy = False
        self.returned = []  # executemany: the rows of every execute (RETURNING)


class Connection:
    def __init__(self, dsn=None, **kwargs):
        self._params = p = resolve(dsn, **kwargs)
        self._closed = True
        self._busy = False
        self._status = "I"
        self._autocommit = False
        self._cache = collections.OrderedDict()
        self._to_close = []
        self._counter = 0
        self.json_loads = json.loads
        self._decoders = types.make_decoders(self.json_loads)
        self.parameters = {}
        self.notices = []
        self.notifies = []
        self.backend_pid = None
        self._secret = None
        sock = wire.open_socket(p)
        self._stream = wire.Stream(sock)
        self._closed = False
        try:
            self._startup()
            sock.settimeout(p.timeout)
        except OperationalError as e:
            self._close_socket()
            if isinstance(e.__cause__, TimeoutError):  # socket.timeout: connect_timeout expired
                raise lost("connection to %s failed: timeout expired (connect_timeout=%s)"
                           % (wire.where(p), p.connect_timeout)) from e
            raise
        except BaseException:
            self._close_socket()
            raise

    # ------------------------------------------------------------ startup
    def _startup(self):
        p = self._params
        s = self._stream
        s.send(wire.startup({
            "user": p.user, "database": p.dbname, "client_encoding": "UTF8", "DateStyle": "ISO",
            "IntervalStyle": "postgres", "extra_float_digits": "3", "bytea_output": "hex",
            "application_name": p.application_name, "options": p.options,
        }))
        scram = None
        while True:
            code, payload = s.read()
            if code == 0x52:  # R: authentication request
                kind = wire.I32.unpack_from(payload, 0)[0]
                if kind == 0:
                    if scram is not None and not scram.verified:
                        raise InterfaceError("SCRAM: the server accepted without proving it knows the password")
                    continue
                if kind in (3, 5, 10) and p.password is None:
                    raise OperationalError('password authentication failed for user "%s": no password supplied' % p.user)
                if kind == 3:
                    s.send(wire.password(p.password.encode("utf-8")))
                elif kind == 5:
                    s.send(wire.password(auth.md5_password(p.user, p.password, payload[4:8])))
                elif kind == 10:
                    mechanisms = [m.decode() for m in payload[4:].split(b"\0") if m]
                    if auth.MECHANISM not in mechanisms:
                        raise NotSupportedError("server offers SASL mechanisms %s; only %s is supported" % (mechanisms, auth.MECHANISM))
                    scram = auth.ScramClient(p.password)
                    s.send(wire.sasl_initial(auth.MECHANISM, scram.first()))
                elif kind == 11:
                    s.send(wire.sasl_response(scram.final(payload[4:])))
                elif kind == 12:
                    scram.verify(payload[4:])
                else:
                    raise NotSupportedError("authentication method %d is not supported (use scram-sha-256, md5 or password)" % kind)
            elif code == 0x45:  # E
                raise server_error(wire.error_fields(payload), connecting=True)
            elif code == 0x53:  # S: ParameterStatus
                self._param_status(payload)
            elif code == 0x4B:  # K: BackendKeyData
                self.backend_pid, self._secret = wire.I32_PAIR.unpack_from(payload, 0)
            elif code == 0x5A:  # Z
                self._status = chr(payload[0])
                return
            elif code == 0x4E:  # N
                self._notice(payload)
            # 'v' NegotiateProtocolVersion (unsupported protocol extensions) needs no answer.

    def _param_status(self, payload):
        parts = payload.split(b"\0")
        self.parameters[parts[0].decode()] = parts[1].decode("utf-8", "replace")

    def _notice(self, payload):
        f = wire.error_fields(payload)
        self.notices.append("%s:  %s\n" % (f.get("S", "NOTICE"), f.get("M", "")))
        del self.notices[:-_NOTICES_KEPT]

    # ------------------------------------------------------------ DB-API
    @property
    def closed(self):
        return self._closed

    @property
    def autocommit(self):
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value):
        self._check()
        if self._status != "I" and bool(value) != self._autocommit:
            from .errors import ProgrammingError

            raise ProgrammingError("autocommit cannot be changed inside a transaction")
        self._autocommit = bool(value)

    @property
    def server_version(self):
        v = self.parameters.get("server_version", "0").split()[0].split(".")
        return int(v[0]) * 10000 + (int(v[1]) if len(v) > 1 and int(v[0]) >= 10 else 0)

    @property
    def transaction_status(self):
        """'I' idle, 'T' in a transaction, 'E' in a failed transaction (as of the last exchange)."""
        return self._status

    def cursor(self, name=None):
        from .cursor import Cursor

        self._check()
        return Cursor(self, name)

    def commit(self):
        self._check()
        if self._status != "I":
            self.run_simple("COMMIT")

    def rollback(self):
        self._check()
        if self._status != "I":
            self.run_simple("ROLLBACK")

    def close(self):
        if self._closed:
            return
        try:
            self._stream.sock.settimeout(1)
            self._stream.sock.sendall(wire.TERMINATE)
        except Exception:
            pass
        self._close_socket()

    def cancel(self):
        """Ask the server to cancel the statement running on this connection (a new socket)."""
        if self.backend_pid is None:
            return
        sock = wire.open_socket(_plain(self._params))
        try:
            sock.sendall(wire.cancel_request(self.backend_pid, self._secret))
            sock.recv(1)
        finally:
            sock.close()

    def set_json_loads(self, loads):
        self.json_loads = loads
        self._decoders = types.make_decoders(loads)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self._closed:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()

    # ------------------------------------------------------------ execution
    def _check(self):
        if self._closed:
            raise InterfaceError("connection already closed")

    def _close_socket(self):
        self._closed = True
        try:
            self._stream.sock.close()
        except Exception:
            pass

    def run_simple(self, sql):
        """Run SQL (possibly several statements) with a simple Query; the last statement's result."""
        ex = _Exchange()
        out = []
        if not self._autocommit and self._status == "I" and not _is_txn_control(sql):
            out.append(_BEGIN)
            ex.execs.append(_SIMPLE)
            ex.ready_needed += 1
        out.append(wire.query(sql))
        ex.execs.append(_SIMPLE)
        ex.ready_needed += 1
        return self._exchange(b"".join(out), ex)

    def run(self, sql, param_rows, cache=True, want_total=False):
        """Extended protocol: Parse (unless cached)/Bind/Execute per parameter row, one Sync.

        Large batches go out in chunks ended by Flush, so neither side's socket buffer fills
        up while the other is still writing; only the last chunk carries the Sync.

        A cached statement whose result columns changed (DDL since it was prepared: SQLSTATE
        0A000 "cached plan must not change result type") is re-prepared and the call retried
        once, when nothing else is lost by it: autocommit, or the transaction began with it.
        """
        began = not self._autocommit and self._status == "I"
        try:
            return self._run(sql, param_rows, cache, want_total)
        except DatabaseError as e:
            retry = (e.sqlstate == "0A000" and "cached plan" in str(e) and isinstance(param_rows, (list, tuple))
                     and (self._autocommit or began) and not self._closed)
            if not retry:
                raise
        if self._status != "I":
            self.run_simple("ROLLBACK")
        return self._run(sql, param_rows, cache, want_total)

    def _run(self, sql, param_rows, cache, want_total):
        cache = cache and self._params.statement_cache_size > 0
        ex = _Exchange()
        ex.total = 0 if want_total else -1
        out = []
        if not self._autocommit and self._status == "I":
            out.append(_BEGIN)
            ex.execs.append(_SIMPLE)
            ex.ready_needed += 1
        for name in self._to_close:
            out.append(wire.close_statement(name))
        self._to_close = []
        pending = {}
        chunk = 0
        sent = False
        rows = iter(param_rows)
        for params in rows:
            try:
                oids, formats, values = types.encode_params(params)
            except Exception:
                if sent:  # earlier chunks went out (and were read): end their batch
                    ex.ready_needed += 1
                    self._exchange(wire.SYNC, ex)
                raise
            key = (sql, oids)
            st = self._cache.get(key) if cache else None
            if st is not None:
                self._cache.move_to_end(key)
            else:
                st = pending.get(key)
            if st is None:
                if cache:
                    self._counter += 1
                    name = b"gw%d" % self._counter
                else:
                    name = b""
                    pending.clear()  # a new unnamed statement replaces the previous one
                st = Statement(name, key)
                pending[key] = st
                out.append(wire.parse(name, sql, oids))
                out.append(wire.describe_statement(name))
                ex.describes.append(st)
            out.append(wire.bind(st.name, formats, values))
            out.append(wire.EXECUTE_ALL)
            ex.execs.append(st)
            chunk += 1
            if chunk == 500:
                out.append(wire.FLUSH)
                self._exchange(b"".join(out), ex, flush=True)
                sent = True
                out = []
                chunk = 0
        out.append(wire.SYNC)
        ex.ready_needed += 1
        return self._exchange(b"".join(out), ex)

    def _exchange(self, data, ex, flush=False):
        if self._busy:
            raise InterfaceError("another operation is in progress on this connection")
        self._check()
        self._busy = True
        try:
            self._stream.send(data)
            self._pump(ex, flush)
        except BaseException:
            # Mid-exchange the protocol state is unknown: the connection cannot be reused.
            self._close_socket()
            raise
        finally:
            self._busy = False
        if ex.error is not None:
            err = ex.error
            if err.sqlstate == "0A000" and "cached plan" in str(err):
                self._forget_statements()
            raise err
        if ex.copy:
            raise NotSupportedError("COPY is not supported by this driver")
        if ex.total >= 0 and ex.result is not None:
            ex.result.rowcount = ex.total
            if ex.result.rows is not None:
                ex.result.rows = ex.returned
        return ex.result

    def _forget_statements(self):
        self._to_close.extend(st.name for st in self._cache.values())
        self._cache.clear()

    def _pump(self, ex, flush):
        read = self._stream.read
        take_rows = self._stream.take_data_rows
        execs = ex.execs
        while True:
            if flush:
                if ex.error is not None:  # the server skips to Sync: send it and finish there
                    self._stream.send(wire.SYNC)
                    ex.ready_needed += 1
                    flush = False
                elif not execs:
                    return
            code, payload = read()
            if code == 0x44:  # D
                ex.rows.append(payload)
                take_rows(ex.rows)
            elif code == 0x43:  # C: CommandComplete
                tag = payload[:-1].decode("ascii", "replace")
                head = execs[0] if execs else _SIMPLE
                if head is _SIMPLE:
                    desc, decs = ex.desc or (None, None)
                    ex.desc = None
                else:
                    execs.popleft()
                    desc, decs = head.description, head.decoders
                try:
                    rows = decode_rows(ex.rows, decs) if desc is not None else None
                except Exception as e:  # keep reading: the exchange must still end at ReadyForQuery
                    if ex.error is None:
                        ex.error = DataError("cannot decode a result value: %r" % e)
                        ex.error.__cause__ = e
                    rows = []
                ex.rows = []
                n = len(rows) if rows is not None else rowcount(tag)
                if tag.startswith(_DDL) and self._cache:
                    # A cached statement keeps the parameter types the server inferred when it
                    # was prepared; after DDL they may no longer fit (psycopg 3 does the same).
                    self._forget_statements()
                ex.result = Result(desc, rows, n, tag)
                if ex.total >= 0:
                    if n > 0:
                        ex.total += n
                    if rows:
                        ex.returned.extend(rows)
            elif code == 0x32 or code == 0x31 or code == 0x33 or code == 0x74:  # 2 1 3 t
                pass
            elif code == 0x54:  # T: RowDescription
                if execs and execs[0] is _SIMPLE:
                    ex.desc = describe(payload, self._decoders)
                else:
                    self._described(ex.describes.popleft(), describe(payload, self._decoders))
            elif code == 0x6E:  # n: NoData
                self._described(ex.describes.popleft(), (None, None))
            elif code == 0x5A:  # Z
                self._status = chr(payload[0])
                if execs and execs[0] is _SIMPLE:
                    execs.popleft()
                else:
                    execs.clear()  # the rest of an aborted pipeline
                ex.rows = []
                ex.ready_needed -= 1
                if ex.ready_needed == 0 and not flush:
                    return
            elif code == 0x45:  # E
                err = server_error(wire.error_fields(payload))
                if err.connection_lost:
                    raise err
                if ex.error is None:
                    ex.error = err
                if execs and execs[0] is not _SIMPLE:
                    execs.clear()
                ex.describes.clear()
            elif code == 0x49:  # I: EmptyQueryResponse
                if execs and execs[0] is not _SIMPLE:
                    execs.popleft()
                ex.result = Result()
            elif code == 0x4E:  # N
                self._notice(payload)
            elif code == 0x41:  # A: NotificationResponse
                pid = wire.I32.unpack_from(payload, 0)[0]
                channel, extra = payload[4:].split(b"\0")[:2]
                self.notifies.append((pid, channel.decode(), extra.decode("utf-8", "replace")))
            elif code == 0x53:  # S
                self._param_status(payload)
            elif code == 0x47:  # G: CopyInResponse: refuse, the server answers with an error
                self._stream.send(wire.message(b"f", b"COPY FROM STDIN is not supported by this driver\0"))
            elif code in (0x48, 0x64, 0x63, 0x57):  # H d c W: COPY TO STDOUT output is dropped
                ex.copy = True
            elif code == 0x73:  # s: PortalSuspended (not requested)
                execs.popleft()
            else:
                raise lost("protocol violation: unexpected message %r" % chr(code))

    def _described(self, st, desc_decs):
        st.description, st.decoders = desc_decs
        if st.name:
            cache = self._cache
            cache[st.key] = st
            if len(cache) > self._params.statement_cache_size:
                _, old = cache.popitem(last=False)
                self._to_close.append(old.name)


def _is_txn_control(sql):
    word = sql.lstrip()[:9].upper()
    return word.startswith(("BEGIN", "START", "COMMIT", "ROLLBACK", "END", "ABORT"))


def _plain(p):
    import copy

    q = copy.copy(p)
    q.sslmode = "disable"
    q.ssl_context = None
    return q

"""DB-API cursors, and the pyformat/format → $n placeholder rewrite.

Placeholders: ``%s`` with a sequence of parameters, ``%(name)s`` with a
mapping, ``%%`` for a literal percent sign, as psycopg2 (so SQLAlchemy's
``format``/``pyformat`` compilers work unchanged). ``execute(sql)`` without
parameters sends the SQL as is (``%`` untouched, several statements allowed)
with the simple query protocol; with parameters it uses the extended
protocol and a prepared statement (cached per connection).

A cursor created with a name is a server-side cursor: ``DECLARE name NO
SCROLL CURSOR WITHOUT HOLD FOR ...`` inside the transaction, then ``FETCH
FORWARD itersize`` as rows are consumed (the first batch comes in the same
round trip as the DECLARE, so ``description`` is set after ``execute``).
"""
import re
from collections.abc import Mapping

from .errors import InterfaceError, ProgrammingError

_PLACEHOLDER = re.compile(r"%(?:\(([^)]*)\))?(.)", re.S)
_converted = {}


def convert(sql, params):
    """(sql with $n placeholders, ordered parameter values) for pyformat/format parameters."""
    named = isinstance(params, Mapping)
    entry = _converted.get((sql, named))
    if entry is None:
        names = []
        index = {}

        def sub(m):
            name, kind = m.group(1), m.group(2)
            if kind == "%" and name is None:
                return "%"
            if kind != "s":
                raise ProgrammingError("unsupported format character %r in query (use %%s or %%(name)s; %%%% for %%)" % kind)
            if (name is None) == named:
                raise ProgrammingError(
                    "query uses %s placeholders but parameters are a %s"
                    % ("%(name)s" if name is not None else "%s", "mapping" if named else "sequence")
                )
            if name is None:
                names.append(None)
                return "$%d" % len(names)
            if name not in index:
                names.append(name)
                index[name] = len(names)
            return "$%d" % index[name]

        text = _PLACEHOLDER.sub(sub, sql)
        entry = (text, tuple(names))
        if len(_converted) > 512:
            _converted.clear()
        _converted[(sql, named)] = entry
    text, names = entry
    if named:
        try:
            return text, [params[n] for n in names]
        except KeyError as e:
            raise ProgrammingError("query parameter %s missing from the mapping" % e) from None
    if len(params) != len(names):
        raise ProgrammingError("query has %d placeholders but %d parameters were given" % (len(names), len(params)))
    return text, list(params)


class Cursor:
    arraysize = 1
    itersize = 2000

    def __init__(self, connection, name=None):
        self.connection = connection
        self.name = name
        self.description = None
        self.rowcount = -1
        self.rownumber = None
        self.lastrowid = None
        self.query = None
        self.statusmessage = None
        self._rows = []
        self._pos = 0
        self._declared = False
        self._exhausted = True
        self._closed = False

    # ------------------------------------------------------------ execution
    def _conn(self):
        if self._closed:
            raise InterfaceError("cursor already closed")
        self.connection._check()
        return self.connection

    def _set(self, result):
        self._rows = result.rows if result is not None and result.rows is not None else []
        self._pos = 0
        self.description = result.description if result is not None else None
        self.rowcount = result.rowcount if result is not None else -1
        self.statusmessage = result.status if result is not None else None
        self.rownumber = 0 if self.description is not None else None

    def execute(self, operation, parameters=None):
        conn = self._conn()
        self.query = operation
        if self.name is not None:
            return self._declare(conn, operation, parameters)
        if parameters is None:
            self._set(conn.run_simple(operation))
        else:
            sql, values = convert(operation, parameters)
            self._set(conn.run(sql, (values,)))
        return self

    def executemany(self, operation, seq_of_parameters):
        conn = self._conn()
        if self.name is not None:
            raise ProgrammingError("executemany() cannot be used on a server-side cursor")
        self.query = operation
        rows = (convert(operation, p) for p in seq_of_parameters)
        first = next(rows, None)
        if first is None:
            self._set(None)
            return self
        sql = first[0]

        def values():
            yield first[1]
            for text, v in rows:
                yield v

        # Statements that return rows (INSERT ... RETURNING) leave the rows of every
        # parameter set to fetch, in order; SQLAlchemy's ORM relies on it for batch inserts.
        self._set(conn.run(sql, values(), want_total=True))
        return self

    def callproc(self, procname, parameters=()):
        placeholders = ",".join(["%s"] * len(parameters))
        self.execute("SELECT * FROM %s(%s)" % (procname, placeholders), tuple(parameters))
        return parameters

    # ------------------------------------------------------------ server-side
    def _declare(self, conn, operation, parameters):
        if self._declared:
            raise ProgrammingError("a server-side cursor can be executed only once")
        if conn.autocommit:
            raise ProgrammingError("a server-side cursor needs a transaction (autocommit is on)")
        ident = '"%s"' % self.name.replace('"', '""')
        declare = "DECLARE %s NO SCROLL CURSOR WITHOUT HOLD FOR %s" % (ident, operation)
        if parameters is None:
            declare = declare.replace("%", "%%")
            parameters = ()
        sql, values = convert(declare, parameters)
        conn.run(sql, (values,), cache=False)
        self._declared = True
        self._exhausted = False
        self._fetch_batch()
        return self

    def _fetch_batch(self):
        ident = '"%s"' % self.name.replace('"', '""')
        result = self.connection.run("FETCH FORWARD %d FROM %s" % (self.itersize, ident), ((),), cache=False)
        self.description = result.description
        self._rows = result.rows or []
        self._pos = 0
        if len(self._rows) < self.itersize:
            self._exhausted = True
        if self.rownumber is None:
            self.rownumber = 0

    def _ensure_rows(self):
        if self._pos >= len(self._rows) and self.name is not None and not self._exhausted:
            self._fetch_batch()

    # ------------------------------------------------------------ fetching
    def _check_result(self):
        if self._closed:
            raise InterfaceError("cursor already closed")
        if self.description is None:
            raise ProgrammingError("no results to fetch")

    def fetchone(self):
        self._check_result()
        self._ensure_rows()
        if self._pos >= len(self._rows):
            return None
        row = self._rows[self._pos]
        self._pos += 1
        self.rownumber += 1
        return row

    def fetchmany(self, size=None):
        self._check_result()
        size = self.arraysize if size is None else size
        out = []
        while len(out) < size:
            self._ensure_rows()
            if self._pos >= len(self._rows):
                break
            take = self._rows[self._pos:self._pos + size - len(out)]
            self._pos += len(take)
            out.extend(take)
        self.rownumber += len(out)
        return out

    def fetchall(self):
        self._check_result()
        out = []
        while True:
            self._ensure_rows()
            if self._pos >= len(self._rows):
                break
            out.extend(self._rows[self._pos:])
            self._pos = len(self._rows)
        self.rownumber += len(out)
        return out

    def __iter__(self):
        while True:
            row = self.fetchone()
            if row is None:
                return
            yield row

    def close(self):
        if self._closed:
            return
        self._closed = True
        conn = self.connection
        if self._declared and not conn.closed and conn.transaction_status == "T":
            try:
                conn.run_simple('CLOSE "%s"' % self.name.replace('"', '""'))
            except Exception:
                pass
        self._rows = []

    def setinputsizes(self, *sizes, **named):
        pass

    def setoutputsize(self, size, column=None):
        pass

    def nextset(self):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return self._closed

"""greenwasm.pg: a pure-Python PostgreSQL driver (DB-API 2.0) over the
standard ``socket`` module, speaking the v3 wire protocol.

    import greenwasm.pg
    conn = greenwasm.pg.connect("postgresql://user:secret@db.example:5432/app")
    cur = conn.cursor()
    cur.execute("SELECT %s + 1", (41,))

Importing the package also registers the SQLAlchemy dialects
``postgresql+greenwasm://`` and ``postgresql+greenwasm_async://`` (when
SQLAlchemy is importable). See docs/databases.md for what is supported.

Inside greenwasm, a blocking socket call suspends only the calling wasm
stack (JSPI), so this sync driver also serves asyncio and green threads.
"""
import datetime as _dt
import time as _time

from . import types as _types
from .connection import Connection
from .cursor import Cursor
from .errors import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    QueryCanceledError,
    TransactionRollbackError,
    Warning,
)
from .types import Json

__version__ = "0.1.0"
apilevel = "2.0"
threadsafety = 1  # threads may share the module, not connections
paramstyle = "pyformat"  # and "format": %s with a sequence, %(name)s with a mapping


def connect(dsn=None, **kwargs):
    """Open a connection.

    ``dsn``: a ``postgresql://user:password@host:port/dbname?sslmode=...`` URL or a
    libpq keyword string (``"host=... dbname=..."``). Keywords (override the dsn):
    host (a directory path means a Unix socket; Default: PGHOST or "localhost"),
    port (Default: 5432), user, password, dbname/database (Default: the user name),
    sslmode (disable/allow/prefer/require/verify-ca/verify-full; Default: "prefer";
    inside greenwasm TLS runs in Node's TLS, in plain Pyodide there is none), sslrootcert, sslcert,
    sslkey, ssl_context (an ssl.SSLContext; implies TLS), connect_timeout (seconds for
    the whole connection setup; Default: no limit), timeout (socket timeout in seconds
    for every later operation; Default: none), application_name, options,
    statement_cache_size (prepared statements kept per connection; Default: 128).
    Unset keywords fall back to libpq's PG* environment variables.
    """
    return Connection(dsn, **kwargs)


class _TypeSet(frozenset):
    def __eq__(self, other):
        return other in self if isinstance(other, int) else frozenset.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = frozenset.__hash__


STRING = _TypeSet({_types.TEXT, _types.VARCHAR, _types.BPCHAR, _types.NAME, _types.CHAR, 0, _types.UNKNOWN})
BINARY = _TypeSet({_types.BYTEA})
NUMBER = _TypeSet({_types.INT2, _types.INT4, _types.INT8, _types.FLOAT4, _types.FLOAT8, _types.NUMERIC, _types.OID})
DATETIME = _TypeSet({_types.DATE, _types.TIME, _types.TIMETZ, _types.TIMESTAMP, _types.TIMESTAMPTZ, _types.INTERVAL})
ROWID = _TypeSet({_types.OID, _types.TID})

Date = _dt.date
Time = _dt.time
Timestamp = _dt.datetime
Binary = bytes


def DateFromTicks(ticks):
    return Date(*_time.localtime(ticks)[:3])


def TimeFromTicks(ticks):
    return Time(*_time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks):
    return Timestamp(*_time.localtime(ticks)[:6])


def _register_sqlalchemy():
    import importlib.util

    try:
        if importlib.util.find_spec("sqlalchemy") is None:
            return
        from sqlalchemy.dialects import registry
    except Exception:  # a broken or incompatible SQLAlchemy must not break the driver
        return
    registry.register("postgresql.greenwasm", "greenwasm.pg.sa", "PGDialect_greenwasm")
    registry.register("postgresql.greenwasm_async", "greenwasm.pg.sa_async", "PGDialect_greenwasm_async")


_register_sqlalchemy()

__all__ = [
    "connect", "Connection", "Cursor", "Json", "apilevel", "threadsafety", "paramstyle",
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    "QueryCanceledError", "TransactionRollbackError",
    "STRING", "BINARY", "NUMBER", "DATETIME", "ROWID",
    "Date", "Time", "Timestamp", "Binary", "DateFromTicks", "TimeFromTicks", "TimestampFromTicks",
]

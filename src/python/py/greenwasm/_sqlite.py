"""SQLite's busy waits, made cooperative.

SQLite waits for a lock held by another connection in its busy handler,
which sleeps in C: under green threads the holder could never run, so every
contended write failed with "database is locked" after the whole timeout.
Here connections are opened with SQLite's own timeout at 0, and a statement
or commit that finds the database busy is retried after a `time.sleep` that
suspends only this thread, until the connection's timeout (default 5 s, as
in `sqlite3.connect`) has passed. A statement that failed with SQLITE_BUSY
did nothing, so retrying it is safe.
"""

import functools
import sqlite3
import time

_BUSY = ("database is locked", "database table is locked", "database schema is locked")
_real_connect = sqlite3.connect


def _busy(exc):
    return isinstance(exc, sqlite3.OperationalError) and str(exc) in _BUSY


def _retrying(call, timeout):
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


class _Cursor(sqlite3.Cursor):
    def execute(self, *args):
        return _retrying(lambda: super(_Cursor, self).execute(*args), self.connection._greenwasm_timeout)

    def executemany(self, *args):
        return _retrying(lambda: super(_Cursor, self).executemany(*args), self.connection._greenwasm_timeout)

    def executescript(self, *args):
        return _retrying(lambda: super(_Cursor, self).executescript(*args), self.connection._greenwasm_timeout)


def _connection_class(base):
    class Connection(base):
        _greenwasm_timeout = 5.0

        def cursor(self, factory=_Cursor):
            return super().cursor(factory)

        def execute(self, *args):
            return self.cursor().execute(*args)

        def executemany(self, *args):
            return self.cursor().executemany(*args)

        def executescript(self, *args):
            return self.cursor().executescript(*args)

        def commit(self):
            return _retrying(super().commit, self._greenwasm_timeout)

    Connection.__name__ = Connection.__qualname__ = base.__name__
    Connection.__module__ = base.__module__
    return Connection


_classes = {}


@functools.wraps(_real_connect)
def connect(database, timeout=5.0, *args, factory=sqlite3.Connection, **kwargs):
    cls = _classes.get(factory)
    if cls is None:
        cls = _classes[factory] = _connection_class(factory)
    conn = _real_connect(database, 0.0, *args, factory=cls, **kwargs)
    conn._greenwasm_timeout = float(timeout)
    return conn


def install():
    sqlite3.connect = connect
    sqlite3.dbapi2.connect = connect

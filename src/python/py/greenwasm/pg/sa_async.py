"""SQLAlchemy 1.4 dialect ``postgresql+greenwasm_async://`` for create_async_engine.

    import greenwasm.pg  # registers the dialects
    engine = create_async_engine("postgresql+greenwasm_async://user:secret@host/db")

The driver underneath is the same blocking greenwasm.pg. SQLAlchemy's
asyncio layer runs every driver call inside ``greenlet_spawn``; inside
greenwasm a blocking socket call suspends only that greenlet's wasm stack
(JSPI) while the event loop runs other tasks, so sessions on separate
connections proceed concurrently without ``await``-ing anything in the
driver. Waiting for a pooled connection still goes through asyncio
(AsyncAdaptedQueuePool). Under native CPython the same code works but each
driver call blocks the event loop for its duration.
"""
from sqlalchemy import pool, util
from sqlalchemy.engine import AdaptedConnection
from sqlalchemy.util.concurrency import await_fallback, await_only

from .cursor import Cursor
from .sa import PGDialect_greenwasm


async def _noop():
    return None


class AsyncAdapt_greenwasm_cursor(Cursor):
    """greenwasm.pg's cursor, plus one no-op ``await`` per execute.

    AsyncConnection.execute()/stream() insist (``_require_await``) that the driver
    awaited something, to catch sync drivers used by mistake. The no-op coroutine
    completes without yielding to the event loop: it costs two greenlet switches.
    """

    def __init__(self, connection, name, await_):
        super().__init__(connection, name)
        self._await = await_

    def execute(self, operation, parameters=None):
        super().execute(operation, parameters)
        self._await(_noop())
        return self

    def executemany(self, operation, seq_of_parameters):
        super().executemany(operation, seq_of_parameters)
        self._await(_noop())
        return self


class AsyncAdapt_greenwasm_connection(AdaptedConnection):
    """The DB-API connection SQLAlchemy sees: greenwasm.pg's own, forwarded."""

    __slots__ = ("dbapi",)
    await_ = staticmethod(await_only)

    def __init__(self, dbapi, connection):
        self.dbapi = dbapi
        self._connection = connection

    def __getattr__(self, name):
        return getattr(self._connection, name)

    @property
    def autocommit(self):
        return self._connection.autocommit

    @autocommit.setter
    def autocommit(self, value):
        self._connection.autocommit = value

    def cursor(self, name=None):
        self._connection._check()
        return AsyncAdapt_greenwasm_cursor(self._connection, name, self.await_)

    def commit(self):
        self._connection.commit()

    def rollback(self):
        self._connection.rollback()

    def close(self):
        self._connection.close()

    def terminate(self):
        self._connection._close_socket()

    def run_async(self, fn):
        """Run fn(driver connection); its result is awaited if it is awaitable."""
        result = fn(self._connection)
        return self.await_(result) if hasattr(result, "__await__") else result


class AsyncAdaptFallback_greenwasm_connection(AsyncAdapt_greenwasm_connection):
    __slots__ = ()
    await_ = staticmethod(await_fallback)


class AsyncAdapt_greenwasm_dbapi:
    """greenwasm.pg's module attributes, with connect() returning the adapted connection."""

    def __init__(self, module):
        self._module = module
        self.paramstyle = module.paramstyle

    def __getattr__(self, name):
        return getattr(self._module, name)

    def connect(self, *args, **kwargs):
        fallback = util.asbool(kwargs.pop("async_fallback", False))
        conn = self._module.connect(*args, **kwargs)
        cls = AsyncAdaptFallback_greenwasm_connection if fallback else AsyncAdapt_greenwasm_connection
        return cls(self, conn)


class PGDialect_greenwasm_async(PGDialect_greenwasm):
    driver = "greenwasm_async"
    is_async = True
    has_terminate = True
    supports_statement_cache = True

    @classmethod
    def dbapi(cls):
        import greenwasm.pg

        return AsyncAdapt_greenwasm_dbapi(greenwasm.pg)

    @classmethod
    def get_pool_class(cls, url):
        if util.asbool(url.query.get("async_fallback", False)):
            return pool.FallbackAsyncAdaptedQueuePool
        return pool.AsyncAdaptedQueuePool

    def do_terminate(self, dbapi_connection):
        dbapi_connection.terminate()

    def get_driver_connection(self, connection):
        return connection._connection


dialect = PGDialect_greenwasm_async

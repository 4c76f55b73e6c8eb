"""The server restarts mid-test: in-flight work fails promptly with OperationalError,
nothing hangs, SQLAlchemy's pool recovers and later work succeeds.

Protocol with the host (tests/integration/pg-native.test.ts natively, and
pg-wasm.test.ts through the runtime's stdin): the script prints 'FAULT-READY <n>' and then starts a long
query; the host waits until that query is running, restarts the server
(pg_ctl restart -m fast) and writes one line to the script's stdin once the
server accepts connections again. The script runs the sync phase, then the
asyncio phase (when greenlet is importable).
"""
import asyncio
import sys
import time
import unittest

import greenwasm.pg as pg
from pgtest import conninfo, have_greenlet, main, url
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc

LONG = "SELECT pg_sleep(60)"
PROMPT = 10.0  # seconds: far below the 60 s the query would run


def restart_now(n):
    sys.stdout.write("\nFAULT-READY %d\n" % n)  # own line (unittest leaves the test name open)
    sys.stdout.flush()


def wait_for_restart():
    line = sys.stdin.readline()
    if not line:
        raise RuntimeError("stdin closed: the host did not report the restart")


class Fault(unittest.TestCase):
    def test_1_sync_engine_and_dbapi(self):
        engine = create_engine(url(), future=True, pool_size=3)
        idle_raw = pg.connect(**conninfo())
        with engine.connect() as a, engine.connect() as b:  # two pooled connections, both idle now
            a.execute(text("SELECT 1"))
            b.execute(text("SELECT 1"))
        restart_now(1)
        t0 = time.monotonic()
        with self.assertRaises(sa_exc.OperationalError) as cm:
            with engine.connect() as c:
                c.execute(text(LONG))
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, PROMPT)
        self.assertTrue(cm.exception.connection_invalidated)
        self.assertIsInstance(cm.exception.orig, pg.OperationalError)
        wait_for_restart()

        # A raw connection that was idle across the restart: a clear OperationalError, then closed.
        with self.assertRaises(pg.OperationalError) as raw:
            idle_raw.cursor().execute("SELECT 1")
        self.assertTrue(raw.exception.connection_lost)
        self.assertTrue(idle_raw.closed)

        # The disconnect invalidated the whole pool: the next checkouts reconnect.
        for _ in range(5):
            with engine.connect() as c:
                self.assertEqual(c.execute(text("SELECT 41 + 1")).scalar(), 42)
        engine.dispose()

    def test_2_async_engine(self):
        if not have_greenlet():
            self.skipTest("greenlet is not importable")
        from sqlalchemy.ext.asyncio import create_async_engine

        async def body():
            engine = create_async_engine(url("greenwasm_async"), pool_size=3)
            async with engine.connect() as c:
                await c.execute(text("SELECT 1"))
            restart_now(2)
            t0 = time.monotonic()
            with self.assertRaises(sa_exc.OperationalError) as cm:
                async with engine.connect() as c:
                    await c.execute(text(LONG))
            self.assertLess(time.monotonic() - t0, PROMPT)
            self.assertTrue(cm.exception.connection_invalidated)
            wait_for_restart()
            for _ in range(3):
                async with engine.connect() as c:
                    self.assertEqual((await c.execute(text("SELECT 42"))).scalar(), 42)
            await engine.dispose()

        asyncio.run(body())


if __name__ == "__main__":
    main()

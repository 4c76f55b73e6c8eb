"""SQLAlchemy 1.4 asyncio on postgresql+greenwasm_async://: AsyncSession CRUD,
selectinload, rollback, IntegrityError, streaming, and 50 AsyncSessions in
flight at once, each on its own connection, each verifying its own rows.

Inside greenwasm the sessions' socket waits overlap; under native CPython the
driver blocks the event loop, so the same script runs them one call at a time
(still a full functional check). GREENWASM_PG_EXPECT_OVERLAP=1 additionally
asserts that the sessions overlapped: at least 10 inside pg_sleep at the same
moment, and well under the serial time.
"""
import asyncio
import os
import time
import unittest

import greenwasm.pg  # noqa: F401  (registers the dialects)
from pgtest import have_greenlet, main, url

if not have_greenlet():
    raise SystemExit("SKIP: SQLAlchemy's asyncio layer needs greenlet, which is not importable here")

from sqlalchemy import Column, ForeignKey, Integer, String, func, select, text  # noqa: E402
from sqlalchemy import exc as sa_exc  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine  # noqa: E402
from sqlalchemy.orm import declarative_base, relationship, selectinload, sessionmaker  # noqa: E402

Base = declarative_base()
SESSIONS = 50


class Owner(Base):
    __tablename__ = "gw_async_owner"
    id = Column(Integer, primary_key=True)
    name = Column(String(50), unique=True, nullable=False)
    items = relationship("Item", back_populates="owner", order_by="Item.id")


class Item(Base):
    __tablename__ = "gw_async_item"
    id = Column(Integer, primary_key=True)
    label = Column(String(50), nullable=False)
    owner_id = Column(ForeignKey("gw_async_owner.id"), nullable=False)
    owner = relationship("Owner", back_populates="items")


class Async(unittest.TestCase):
    def run_async(self, coro_fn):
        async def wrapper():
            engine = create_async_engine(url("greenwasm_async"), pool_size=10, max_overflow=SESSIONS)
            try:
                async with engine.begin() as c:
                    await c.run_sync(Base.metadata.drop_all)
                    await c.run_sync(Base.metadata.create_all)
                return await coro_fn(engine)
            finally:
                async with engine.begin() as c:
                    await c.run_sync(Base.metadata.drop_all)
                await engine.dispose()

        return asyncio.run(wrapper())

    def test_crud_selectinload_rollback(self):
        async def body(engine):
            Session = sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
            async with Session() as s:
                s.add(Owner(name="o", items=[Item(label="i%d" % i) for i in range(3)]))
                await s.commit()
            async with Session() as s:
                owner = (await s.execute(select(Owner).options(selectinload(Owner.items)))).scalar_one()
                self.assertEqual([i.label for i in owner.items], ["i0", "i1", "i2"])
                owner.name = "renamed"
                await s.commit()
            async with Session() as s:
                s.add(Item(label="temp", owner_id=owner.id))
                await s.flush()
                await s.rollback()
                self.assertEqual((await s.execute(select(func.count(Item.id)))).scalar(), 3)
                self.assertEqual((await s.execute(select(Owner.name))).scalar(), "renamed")
                s.add(Owner(name="renamed"))
                with self.assertRaises(sa_exc.IntegrityError) as cm:
                    await s.commit()
                self.assertEqual(cm.exception.orig.pgcode, "23505")
                await s.rollback()
            async with engine.connect() as c:
                result = await c.stream(text("SELECT g FROM generate_series(1, 5000) g"))
                total = 0
                async for row in result:
                    total += row[0]
                self.assertEqual(total, 5000 * 5001 // 2)

        self.run_async(body)

    def test_fifty_sessions_in_flight(self):
        async def one(Session, n):
            async with Session() as s:
                owner = Owner(name="owner-%d" % n, items=[Item(label="%d-%d" % (n, i)) for i in range(n % 7 + 1)])
                s.add(owner)
                await s.flush()
                pid = (await s.execute(text("SELECT pg_backend_pid()"))).scalar()  # this transaction's connection
                state["inflight"] += 1
                state["peak"] = max(state["peak"], state["inflight"])
                await s.execute(text("SELECT pg_sleep(0.1)"))  # hold the connection while the others run
                state["inflight"] -= 1
                await s.commit()
                got = (await s.execute(
                    select(Owner).where(Owner.name == "owner-%d" % n).options(selectinload(Owner.items))
                )).scalar_one()
                return n, [i.label for i in got.items], pid

        state = {"inflight": 0, "peak": 0}

        async def body(engine):
            Session = sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
            t0 = time.monotonic()
            results = await asyncio.gather(*(one(Session, n) for n in range(SESSIONS)))
            elapsed = time.monotonic() - t0
            for n, labels, _pid in results:
                self.assertEqual(labels, ["%d-%d" % (n, i) for i in range(n % 7 + 1)])
            async with Session() as s:
                self.assertEqual((await s.execute(select(func.count(Owner.id)))).scalar(), SESSIONS)
            pids = len({pid for _, _, pid in results})
            print("50 sessions: %.2f s, at most %d inside pg_sleep at once, %d connections"
                  % (elapsed, state["peak"], pids))
            # Sessions inside pg_sleep at the same moment each hold their own connection.
            self.assertGreaterEqual(pids, state["peak"])
            if os.environ.get("GREENWASM_PG_EXPECT_OVERLAP") == "1":
                self.assertGreaterEqual(state["peak"], 10, "sessions did not overlap")
                # 50 × 0.1 s of server-side sleep: serial would take ≥ 5 s.
                self.assertLess(elapsed, 4, "sessions did not overlap: %.1f s" % elapsed)

        self.run_async(body)


if __name__ == "__main__":
    main()

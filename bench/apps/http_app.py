"""The Starlette app of `npm run bench -- http`, served unchanged by greenwasm and by
native uvicorn: plain text, a 20-item JSON list, and a database read (20 rows through
SQLAlchemy asyncio + aiosqlite from a SQLite file seeded by the bench)."""

import os

from sqlalchemy import Boolean, Column, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import declarative_base, sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

ITEMS = [{"id": i, "title": f"item {i}", "done": i % 2 == 0} for i in range(20)]

Base = declarative_base()


class Item(Base):
    __tablename__ = "items"
    id = Column(Integer, primary_key=True)
    title = Column(String(100), nullable=False)
    done = Column(Boolean, nullable=False)


engine = create_async_engine(os.environ["BENCH_DB_URL"], poolclass=AsyncAdaptedQueuePool, pool_size=4, max_overflow=0)
Session = sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def plain(request):
    return PlainTextResponse("Hello, world!")


async def items(request):
    return JSONResponse(ITEMS)


async def db(request):
    async with Session() as session:
        rows = (await session.execute(select(Item).order_by(Item.id).limit(20))).scalars().all()
    return JSONResponse([{"id": r.id, "title": r.title, "done": r.done} for r in rows])


app = Starlette(routes=[Route("/plain", plain), Route("/json", items), Route("/db", db)])

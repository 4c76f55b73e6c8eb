"""Concurrency app: asyncio sleeps and SQLAlchemy asyncio (aiosqlite) round trips."""

import asyncio
import json
import os
from urllib.parse import parse_qs

from sqlalchemy import Column, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import declarative_base, sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool

Base = declarative_base()


class Row(Base):
    __tablename__ = "rows"
    id = Column(Integer, primary_key=True)
    tag = Column(String(40), nullable=False)


# One connection: SQLite has one writer at a time, so sessions queue in asyncio
# instead of retrying on the write lock.
engine = create_async_engine(os.environ.get("DB_URL", "sqlite+aiosqlite:////data/test.db"), poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0)
Session = sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def reply(send, data):
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                async with engine.begin() as conn:
                    await conn.run_sync(Base.metadata.create_all)
                await send({"type": "lifespan.startup.complete"})
            else:
                await engine.dispose()
                await send({"type": "lifespan.shutdown.complete"})
                return
    query = parse_qs(scope["query_string"].decode())
    rid = query["id"][0]
    if scope["path"] == "/sleep":
        await asyncio.sleep(float(query.get("s", ["0"])[0]))
        await reply(send, {"id": rid})
    elif scope["path"] == "/db":
        async with Session() as session:
            session.add(Row(tag=f"req-{rid}"))
            await session.commit()
            found = (await session.execute(select(Row.tag).where(Row.tag == f"req-{rid}"))).scalars().all()
        await reply(send, {"id": found[0].removeprefix("req-"), "rows": len(found)})

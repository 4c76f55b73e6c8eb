"""A todo list: Starlette + SQLAlchemy asyncio (aiosqlite) on a SQLite file.

Run it with `npm start` (http://127.0.0.1:8000), or:

    greenwasm serve app:app --app-dir examples/todo --path .cache/site-packages \
        --mount examples/todo/data:/data:rw

The database lives in /data (a writable mount of examples/todo/data), so it
survives restarts. TODO_DATABASE_URL overrides it (any SQLAlchemy async URL).

JSON API:
    GET    /api/todos            list, oldest first
    POST   /api/todos            {"title": "..."} -> 201 and the new item
    PATCH  /api/todos/{id}       {"title"?: "...", "done"?: true|false}
    DELETE /api/todos/{id}       204
"""

import contextlib
import os
from pathlib import Path

from sqlalchemy import Boolean, Column, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import declarative_base, sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

DATABASE_URL = os.environ.get("TODO_DATABASE_URL", "sqlite+aiosqlite:////data/todo.db")
MAX_TITLE = 200

Base = declarative_base()


class Todo(Base):
    __tablename__ = "todos"
    id = Column(Integer, primary_key=True)
    title = Column(String(MAX_TITLE), nullable=False)
    done = Column(Boolean, nullable=False, default=False)

    def as_dict(self):
        return {"id": self.id, "title": self.title, "done": self.done}


# SQLite takes one writer at a time: one pooled connection queues sessions in asyncio
# instead of retrying on the write lock. Serve with one worker: runtimes have no file
# locks between them (docs/server.md).
engine = create_async_engine(DATABASE_URL, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0) if DATABASE_URL.startswith("sqlite") else create_async_engine(DATABASE_URL)
Session = sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
PAGE = (Path(__file__).parent / "index.html").read_text(encoding="utf-8")


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


def _title(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise HTTPException(422, "title must be a non-empty string")
    if len(value) > MAX_TITLE:
        raise HTTPException(422, f"title must be at most {MAX_TITLE} characters")
    return value.strip()


async def _json_body(request: Request) -> dict:
    try:
        data = await request.json()
    except ValueError:
        raise HTTPException(400, "body must be JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "body must be a JSON object")
    return data


async def list_todos(request: Request) -> Response:
    async with Session() as session:
        rows = (await session.execute(select(Todo).order_by(Todo.id))).scalars().all()
    return JSONResponse([t.as_dict() for t in rows])


async def create_todo(request: Request) -> Response:
    data = await _json_body(request)
    todo = Todo(title=_title(data.get("title")), done=False)
    async with Session() as session:
        session.add(todo)
        await session.commit()
    return JSONResponse(todo.as_dict(), status_code=201)


async def update_todo(request: Request) -> Response:
    data = await _json_body(request)
    async with Session() as session:
        todo = await session.get(Todo, request.path_params["id"])
        if todo is None:
            raise HTTPException(404, "no such todo")
        if "title" in data:
            todo.title = _title(data["title"])
        if "done" in data:
            if not isinstance(data["done"], bool):
                raise HTTPException(422, "done must be true or false")
            todo.done = data["done"]
        await session.commit()
    return JSONResponse(todo.as_dict())


async def delete_todo(request: Request) -> Response:
    async with Session() as session:
        todo = await session.get(Todo, request.path_params["id"])
        if todo is None:
            raise HTTPException(404, "no such todo")
        await session.delete(todo)
        await session.commit()
    return Response(status_code=204)


@contextlib.asynccontextmanager
async def lifespan(app):
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield
    await engine.dispose()


app = Starlette(
    routes=[
        Route("/", page),
        Route("/api/todos", list_todos, methods=["GET"]),
        Route("/api/todos", create_todo, methods=["POST"]),
        Route("/api/todos/{id:int}", update_todo, methods=["PATCH"]),
        Route("/api/todos/{id:int}", delete_todo, methods=["DELETE"]),
    ],
    lifespan=lifespan,
)

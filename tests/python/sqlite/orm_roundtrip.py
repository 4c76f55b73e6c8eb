"""SQLAlchemy 1.4 on the embedded SQLite, sync and asyncio (aiosqlite on green threads).

Usage: orm_roundtrip.py write DB_PATH | orm_roundtrip.py read DB_PATH
`write` runs the ORM checks and leaves rows behind; `read` (a later runtime)
checks they persisted. Prints one `RESULT <json>` line.
"""
import asyncio
import datetime as dt
import decimal
import json
import sys

from sqlalchemy import (
    JSON, Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, Numeric, String, Text,
    create_engine, func, select,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session, declarative_base, relationship, selectinload

Base = declarative_base()


class Author(Base):
    __tablename__ = "author"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), unique=True, nullable=False)
    books = relationship("Book", back_populates="author", cascade="all, delete-orphan", order_by="Book.id")


class Book(Base):
    __tablename__ = "book"
    id = Column(Integer, primary_key=True)
    title = Column(Text, nullable=False)
    author_id = Column(ForeignKey("author.id"), nullable=False)
    author = relationship("Author", back_populates="books")


class Everything(Base):
    __tablename__ = "everything"
    id = Column(Integer, primary_key=True)
    n = Column(Integer)
    f = Column(Float)
    dec = Column(Numeric(12, 4))
    t = Column(Text)
    b = Column(LargeBinary)
    flag = Column(Boolean)
    day = Column(Date)
    at = Column(DateTime(timezone=True))
    doc = Column(JSON)


VALUES = dict(
    n=-(2**40), f=1.5, dec=decimal.Decimal("1234.5678"), t="héllo ✓", b=b"\x00\xffbytes", flag=True,
    day=dt.date(2026, 11, 22), at=dt.datetime(2026, 11, 22, 7, 30, 15, 123456), doc={"a": [1, 2, {"b": None}]},
)


def sync_part(path):
    engine = create_engine(f"sqlite:///{path}", future=True)
    Base.metadata.create_all(engine)
    out = {}
    with Session(engine) as s:
        a = Author(name="Ursula", books=[Book(title="A Wizard of Earthsea"), Book(title="The Lathe of Heaven")])
        s.add_all([a, Author(name="Italo", books=[Book(title="Invisible Cities")])])
        s.add(Everything(**VALUES))
        s.add(Everything())  # every column NULL
        s.commit()
        authors = s.execute(select(Author).options(selectinload(Author.books)).order_by(Author.name)).scalars().all()
        out["books"] = {x.name: [b.title for b in x.books] for x in authors}
        row = s.execute(select(Everything).order_by(Everything.id)).scalars().all()
        out["types_equal"] = all(getattr(row[0], k) == v for k, v in VALUES.items())
        out["nulls"] = all(getattr(row[1], k) is None for k in VALUES)
        s.add(Book(title="rolled back", author=authors[0]))
        s.flush()
        s.rollback()
        out["after_rollback"] = s.scalar(select(func.count()).select_from(Book))
        s.add(Author(name="Ursula"))
        try:
            s.commit()
        except sa_exc.IntegrityError as e:
            out["integrity"] = type(e.orig).__name__
            s.rollback()
    engine.dispose()
    return out


async def async_part(path):
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    out = {}

    async def add_books(i):
        async with AsyncSession(engine) as s:
            author = (await s.execute(select(Author).where(Author.name == "Italo"))).scalar_one()
            s.add(Book(title=f"async {i}", author_id=author.id))
            await s.commit()

    await asyncio.gather(*(add_books(i) for i in range(10)))
    async with AsyncSession(engine) as s:
        italo = (await s.execute(select(Author).options(selectinload(Author.books)).where(Author.name == "Italo"))).scalar_one()
        out["async_books"] = sorted(b.title for b in italo.books)
        s.add(Author(name="Italo"))
        try:
            await s.commit()
        except sa_exc.IntegrityError:
            out["async_integrity"] = True
    await engine.dispose()
    return out


def read_part(path):
    engine = create_engine(f"sqlite:///{path}", future=True)
    with Session(engine) as s:
        n_books = s.scalar(select(func.count()).select_from(Book))
        first = s.execute(select(Everything).order_by(Everything.id)).scalars().first()
        ok = all(getattr(first, k) == v for k, v in VALUES.items())
    engine.dispose()
    return {"books": n_books, "types_equal": ok}


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        result = sync_part(path)
        result.update(asyncio.run(async_part(path)))
    else:
        result = read_part(path)
    print("RESULT " + json.dumps(result))

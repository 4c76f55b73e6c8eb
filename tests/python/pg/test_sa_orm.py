"""SQLAlchemy 1.4 (sync) on postgresql+greenwasm://: ORM CRUD, relationships with
selectinload, transactions and savepoints, IntegrityError, every type through
ORM columns, executemany, streaming, isolation levels, reflection, pooling."""
import datetime as dt
import decimal
import enum
import time
import unittest
import uuid

import greenwasm.pg  # noqa: F401  (registers the dialects)
from pgtest import main, url
from sqlalchemy import (
    BigInteger, Boolean, Column, Date, DateTime, Enum, Float, ForeignKey, Integer, Interval, LargeBinary,
    Numeric, SmallInteger, String, Text, Time, create_engine, event, func, inspect, select, text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB, UUID
from sqlalchemy.orm import Session, declarative_base, relationship, selectinload

Base = declarative_base()
UTC = dt.timezone.utc


class Mood(enum.Enum):
    happy = "happy"
    sad = "sad"


class Author(Base):
    __tablename__ = "gw_author"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), unique=True, nullable=False)
    books = relationship("Book", back_populates="author", cascade="all, delete-orphan", order_by="Book.id")


class Book(Base):
    __tablename__ = "gw_book"
    id = Column(Integer, primary_key=True)
    title = Column(Text, nullable=False)
    author_id = Column(ForeignKey("gw_author.id"), nullable=False)
    author = relationship("Author", back_populates="books")


class Everything(Base):
    __tablename__ = "gw_everything"
    id = Column(Integer, primary_key=True)
    small = Column(SmallInteger)
    big = Column(BigInteger)
    dec = Column(Numeric(20, 6))
    dec_float = Column(Numeric(10, 2, asdecimal=False))
    flt = Column(Float)
    s = Column(String(50))
    txt = Column(Text)
    blob = Column(LargeBinary)
    flag = Column(Boolean)
    day = Column(Date)
    at = Column(Time)
    naive = Column(DateTime)
    aware = Column(DateTime(timezone=True))
    span = Column(Interval)
    js = Column(JSON)
    jsb = Column(JSONB)
    uid = Column(UUID(as_uuid=True))
    uid_str = Column(UUID(as_uuid=False))
    ints = Column(ARRAY(Integer))
    strs = Column(ARRAY(String))
    mood = Column(Enum(Mood, name="gw_mood"))


SAMPLE = dict(
    small=-7, big=2**62, dec=decimal.Decimal("12345.678901"), dec_float=3.25, flt=0.1, s="ünïcödé ✓",
    txt="x" * 10000, blob=bytes(range(256)) * 4, flag=False, day=dt.date(2024, 2, 29), at=dt.time(23, 59, 59, 1),
    naive=dt.datetime(2024, 1, 1, 12, 0, 0, 5), aware=dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    span=dt.timedelta(days=2, seconds=3, microseconds=4), js={"a": [1, None, "x"]}, jsb={"k": {"n": 1.5}},
    uid=uuid.UUID(int=12345), uid_str="00000000-0000-0000-0000-00000000abcd", ints=[1, 2, 3], strs=["a", "b c", ""],
    mood=Mood.sad,
)


class ORM(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.engine = create_engine(url(), future=True, pool_size=5)
        Base.metadata.drop_all(cls.engine)
        Base.metadata.create_all(cls.engine)

    @classmethod
    def tearDownClass(cls):
        Base.metadata.drop_all(cls.engine)
        cls.engine.dispose()

    def setUp(self):
        with Session(self.engine) as s, s.begin():
            s.query(Book).delete()
            s.query(Author).delete()

    def test_crud(self):
        with Session(self.engine) as s:
            a = Author(name="Ann")
            s.add(a)
            s.commit()
            self.assertIsInstance(a.id, int)
            a.name = "Anne"
            s.commit()
        with Session(self.engine) as s:
            self.assertEqual(s.execute(select(Author.name)).scalars().all(), ["Anne"])
            s.delete(s.execute(select(Author)).scalar_one())
            s.commit()
            self.assertEqual(s.execute(select(func.count(Author.id))).scalar(), 0)

    def test_relationships_with_selectinload(self):
        with Session(self.engine) as s:
            for i in range(5):
                s.add(Author(name="a%d" % i, books=[Book(title="b%d-%d" % (i, j)) for j in range(i)]))
            s.commit()
        statements = []

        def record(conn, cursor, statement, *rest):
            statements.append(statement)

        event.listen(self.engine, "before_cursor_execute", record)
        try:
            with Session(self.engine) as s:
                authors = s.execute(select(Author).options(selectinload(Author.books)).order_by(Author.name)).scalars().all()
                titles = {a.name: [b.title for b in a.books] for a in authors}
        finally:
            event.remove(self.engine, "before_cursor_execute", record)
        self.assertEqual(titles["a3"], ["b3-0", "b3-1", "b3-2"])
        self.assertEqual(sum(len(v) for v in titles.values()), 10)
        self.assertEqual(len(statements), 2, statements)  # one for authors, one IN-load for books

    def test_batch_insert_with_server_keys_is_one_executemany(self):
        calls = []

        def record(conn, cursor, statement, parameters, context, executemany):
            calls.append((statement.split()[0], executemany))

        event.listen(self.engine, "before_cursor_execute", record)
        try:
            with Session(self.engine) as s:
                authors = [Author(name="batch%d" % i) for i in range(50)]
                s.add_all(authors)
                s.commit()
                ids = [a.id for a in authors]
        finally:
            event.remove(self.engine, "before_cursor_execute", record)
        self.assertEqual([c for c in calls if c[0] == "INSERT"], [("INSERT", True)])
        self.assertEqual(len(set(ids)), 50)
        self.assertEqual(ids, sorted(ids))

    def test_rollback_and_savepoints(self):
        with Session(self.engine) as s:
            s.add(Author(name="kept"))
            s.flush()
            nested = s.begin_nested()
            s.add(Author(name="dropped"))
            s.flush()
            nested.rollback()
            s.commit()
            self.assertEqual(s.execute(select(Author.name)).scalars().all(), ["kept"])
            s.add(Author(name="never"))
            s.flush()
            s.rollback()
            self.assertEqual(s.execute(select(func.count(Author.id))).scalar(), 1)

    def test_unique_violation_is_integrity_error(self):
        with Session(self.engine) as s:
            s.add(Author(name="dup"))
            s.commit()
            s.add(Author(name="dup"))
            with self.assertRaises(sa_exc.IntegrityError) as cm:
                s.commit()
            self.assertEqual(cm.exception.orig.pgcode, "23505")
            s.rollback()
            self.assertEqual(s.execute(select(func.count(Author.id))).scalar(), 1)

    def test_every_type(self):
        with Session(self.engine) as s:
            s.add(Everything(id=1, **SAMPLE))
            s.add(Everything(id=2))  # every column NULL
            s.commit()
        with Session(self.engine) as s:
            row = s.get(Everything, 1)
            for key, value in SAMPLE.items():
                with self.subTest(column=key):
                    self.assertEqual(getattr(row, key), value)
                    self.assertIs(type(getattr(row, key)), type(value))
            empty = s.get(Everything, 2)
            self.assertEqual([getattr(empty, k) for k in SAMPLE], [None] * len(SAMPLE))
            self.assertEqual(s.execute(select(Everything.id).where(Everything.jsb["k"]["n"].as_float() == 1.5)).scalar(), 1)
            self.assertEqual(s.execute(select(Everything.id).where(Everything.strs.contains(["b c"]))).scalar(), 1)
            self.assertEqual(s.execute(select(Everything.id).where(Everything.ints.any(2))).scalar(), 1)
            self.assertEqual(s.execute(select(Everything.id).where(Everything.mood == Mood.sad)).scalar(), 1)
            s.query(Everything).delete()
            s.commit()

    def test_core_executemany_and_text(self):
        table = Author.__table__
        with self.engine.begin() as c:
            result = c.execute(table.insert(), [{"name": "bulk%04d" % i} for i in range(1000)])
            self.assertEqual(result.rowcount, 1000)
            n = c.execute(text("SELECT count(*) FROM gw_author WHERE name LIKE 'bulk%' AND length(name) = :n"), {"n": 8})
            self.assertEqual(n.scalar(), 1000)
            self.assertEqual(c.execute(text("SELECT 7 % 3")).scalar(), 1)
            upd = c.execute(table.update().where(table.c.name.like("bulk00%")).values(name=table.c.name + "!"))
            self.assertEqual(upd.rowcount, 100)

    def test_stream_results_uses_a_server_side_cursor(self):
        with self.engine.connect() as c:
            declared = text("SELECT count(*) FROM pg_cursors WHERE statement LIKE 'DECLARE%'")
            result = c.execute(text("SELECT g FROM generate_series(1, 10000) g").execution_options(
                stream_results=True, max_row_buffer=100))
            first = next(result)
            self.assertEqual(c.execute(declared).scalar(), 1)
            self.assertEqual(first[0] + sum(r[0] for r in result), 10000 * 10001 // 2)
            self.assertEqual(c.execute(declared).scalar(), 0)  # closed once consumed

    def test_isolation_levels(self):
        for level in ("SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED"):
            with self.engine.connect().execution_options(isolation_level=level) as c:
                self.assertEqual(c.get_isolation_level(), level)
                self.assertEqual(c.execute(text("SHOW transaction_isolation")).scalar().upper(), level)
        auto = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        with auto.connect() as c:
            c.execute(text("CREATE TEMP TABLE ac (v int)"))
            c.execute(text("INSERT INTO ac VALUES (1)"))
            self.assertEqual(c.connection.dbapi_connection.transaction_status, "I")

    def test_reflection(self):
        insp = inspect(self.engine)
        self.assertTrue(insp.has_table("gw_everything"))
        columns = {c["name"]: c for c in insp.get_columns("gw_everything")}
        self.assertEqual(str(columns["dec"]["type"]), "NUMERIC(20, 6)")
        self.assertIsInstance(columns["ints"]["type"], ARRAY)
        self.assertEqual(insp.get_foreign_keys("gw_book")[0]["referred_table"], "gw_author")
        self.assertIn("gw_mood", [e["name"] for e in insp.get_enums()])

    def test_pool_reuses_connections(self):
        pids = set()
        for _ in range(20):
            with self.engine.connect() as c:
                pids.add(c.execute(text("SELECT pg_backend_pid()")).scalar())
        self.assertEqual(len(pids), 1)
        self.engine.dispose()

    def test_pool_pre_ping_replaces_a_killed_connection(self):
        engine = create_engine(url(), future=True, pool_pre_ping=True, pool_size=1)
        with engine.connect() as c:
            pid = c.execute(text("SELECT pg_backend_pid()")).scalar()
        with self.engine.connect() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        time.sleep(0.2)
        with engine.connect() as c:
            self.assertNotEqual(c.execute(text("SELECT pg_backend_pid()")).scalar(), pid)
        engine.dispose()


if __name__ == "__main__":
    main()

"""Workloads of bench/db.bench.ts and bench/db-transport.bench.ts.

    python3 workload.py '<json spec>'    prints one line: {"metric": [samples...], ...}

The same functions run under native CPython and inside greenwasm (call
run(spec) there). The server comes from PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGDATABASE. Timing is perf_counter inside Python, so process and
interpreter start-up are excluded; every metric gets `warmup` unrecorded and
`runs` recorded samples.

spec fields:
  kind     "dbapi" | "orm" | "orm_async" | "npm_pg" (inside greenwasm with allowJs only)
  driver   dbapi: an importable DB-API module ("greenwasm.pg", "psycopg2")
           orm/orm_async: the SQLAlchemy driver name ("greenwasm", "psycopg2",
           "greenwasm_async", "asyncpg")
  runs, warmup
"""
import json
import os
import sys
import time

LATENCY_N = 500  # queries per latency sample
ROWS = 1000  # rows per throughput sample
CONNECT_N = 10  # connections per connect sample

# %% because the query has parameters (pyformat/format drivers).
SELECT_ROWS = (
    "SELECT g, 'name-' || g, g * 1.5::float8, now() + g * interval '1 second', g %% 2 = 0 "
    "FROM generate_series(1, %s) g"
)


def _server():
    e = os.environ
    return dict(host=e["PGHOST"], port=int(e["PGPORT"]), user=e["PGUSER"], password=e["PGPASSWORD"],
                dbname=e["PGDATABASE"])


def _url(driver):
    s = _server()
    return "postgresql+%s://%s:%s@%s:%d/%s" % (driver, s["user"], s["password"], s["host"], s["port"], s["dbname"])


def _samples(fn, runs, warmup):
    out = []
    for i in range(warmup + runs):
        value = fn()
        if i >= warmup:
            out.append(value)
    return out


def _transport_samples(latency_us, select_rows_per_s, insert_rows_per_s, connect_ms, runs, warmup):
    """The samples of one transport (dbapi, npm_pg), in the measurement order both use."""
    return {
        "latency_us": _samples(latency_us, runs, warmup),
        "select_rows_per_s": _samples(select_rows_per_s, runs, warmup),
        "executemany_rows_per_s": _samples(insert_rows_per_s, runs, warmup),
        "connect_ms": _samples(connect_ms, runs, warmup),
    }


def dbapi(driver, runs, warmup):
    module = __import__(driver, fromlist=["connect"])
    server = _server()
    kw = dict(server, sslmode="disable")

    def connect_ms():
        t0 = time.perf_counter()
        for _ in range(CONNECT_N):
            module.connect(**kw).close()
        return (time.perf_counter() - t0) / CONNECT_N * 1e3

    conn = module.connect(**kw)
    conn.autocommit = True
    cur = conn.cursor()

    def latency_us():
        t0 = time.perf_counter()
        for i in range(LATENCY_N):
            cur.execute("SELECT %s::int", (i,))
            cur.fetchone()
        return (time.perf_counter() - t0) / LATENCY_N * 1e6

    def select_rows_per_s():
        t0 = time.perf_counter()
        cur.execute(SELECT_ROWS, (ROWS,))
        n = len(cur.fetchall())
        assert n == ROWS, n
        return ROWS / (time.perf_counter() - t0)

    cur.execute("CREATE TEMP TABLE bench_ins (id int, name text, v float8, at timestamptz, ok bool)")
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    params = [(i, "name-%d" % i, i * 1.5, now, i % 2 == 0) for i in range(ROWS)]

    def insert_rows_per_s():
        conn.autocommit = False
        t0 = time.perf_counter()
        cur.executemany("INSERT INTO bench_ins VALUES (%s, %s, %s, %s, %s)", params)
        conn.commit()
        dt = time.perf_counter() - t0
        conn.autocommit = True
        cur.execute("TRUNCATE bench_ins")
        return ROWS / dt

    result = _transport_samples(latency_us, select_rows_per_s, insert_rows_per_s, connect_ms, runs, warmup)
    conn.close()
    return result


def npm_pg(runs, warmup):
    """The DB-API workload done through node-postgres from inside Wasm: every query is a JS
    call returning a Promise, waited for with run_sync (greenwasm's, else Pyodide's); rows
    come back with to_py().
    Needs the JS module `gwbench_pg` = {connect(): Promise<client>, query(client, text, values)}."""
    import datetime

    from pyodide.ffi import to_js

    try:
        from greenwasm import run_sync
    except ImportError:
        from pyodide.ffi import run_sync
    try:
        import gwbench_pg  # registered with pyodide.registerJsModule
    except ImportError:
        from js import gwbench_pg  # a global of the host (greenwasm with allowJs)

    def connect_ms():
        t0 = time.perf_counter()
        for _ in range(CONNECT_N):
            run_sync(run_sync(gwbench_pg.connect()).end())
        return (time.perf_counter() - t0) / CONNECT_N * 1e3

    client = run_sync(gwbench_pg.connect())

    def query(text, params=()):
        return [tuple(r) for r in run_sync(gwbench_pg.query(client, text, to_js(list(params)))).to_py()]

    def latency_us():
        t0 = time.perf_counter()
        for i in range(LATENCY_N):
            query("SELECT $1::int", (i,))[0]
        return (time.perf_counter() - t0) / LATENCY_N * 1e6

    def select_rows_per_s():
        t0 = time.perf_counter()
        n = len(query(SELECT_ROWS.replace("%%", "%").replace("%s", "$1"), (ROWS,)))
        assert n == ROWS, n
        return ROWS / (time.perf_counter() - t0)

    query("CREATE TEMP TABLE bench_ins (id int, name text, v float8, at timestamptz, ok bool)")
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    params = [(i, "name-%d" % i, i * 1.5, now, i % 2 == 0) for i in range(ROWS)]

    def insert_rows_per_s():
        t0 = time.perf_counter()
        query("BEGIN")
        for p in params:  # node-postgres has no executemany: one round trip per row
            query("INSERT INTO bench_ins VALUES ($1, $2, $3, $4, $5)", p)
        query("COMMIT")
        dt = time.perf_counter() - t0
        query("TRUNCATE bench_ins")
        return ROWS / dt

    result = _transport_samples(latency_us, select_rows_per_s, insert_rows_per_s, connect_ms, runs, warmup)
    run_sync(client.end())
    return result


def _model():
    from sqlalchemy import Column, DateTime, Integer, Numeric, String
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()

    class Item(Base):
        __tablename__ = "bench_item"
        id = Column(Integer, primary_key=True)
        name = Column(String(50), nullable=False)
        qty = Column(Integer, nullable=False)
        price = Column(Numeric(10, 2), nullable=False)
        created = Column(DateTime(timezone=True), nullable=False)

    return Base, Item


def _items(Item, n):
    import datetime
    import decimal

    now = datetime.datetime.now(datetime.timezone.utc)
    return [Item(name="item-%d" % i, qty=i, price=decimal.Decimal(i) / 4, created=now) for i in range(n)]


def orm(driver, runs, warmup):
    from sqlalchemy import create_engine, delete, select
    from sqlalchemy.orm import Session

    Base, Item = _model()
    engine = create_engine(_url(driver), future=True)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)

    def insert_rows_per_s():
        items = _items(Item, ROWS)
        t0 = time.perf_counter()
        with Session(engine) as s:
            s.add_all(items)
            s.commit()
        return ROWS / (time.perf_counter() - t0)

    def select_rows_per_s():
        t0 = time.perf_counter()
        with Session(engine) as s:
            n = len(s.execute(select(Item).limit(ROWS)).scalars().all())
        assert n == ROWS, n
        return ROWS / (time.perf_counter() - t0)

    def latency_us():
        with Session(engine) as s:
            t0 = time.perf_counter()
            for i in range(LATENCY_N):
                s.execute(select(Item).where(Item.id == i % ROWS + 1)).scalar_one()
            return (time.perf_counter() - t0) / LATENCY_N * 1e6

    # The driver's share of the two reads above: the very SQL the ORM emits, sent through the
    # bare DB-API cursor of a pooled connection, rows fetched as tuples. ORM time minus this is
    # SQLAlchemy's own time (bench/db.bench.ts: the ceiling rows).
    def compiled(stmt):
        c = stmt.compile(dialect=engine.dialect)
        params = c.construct_params()
        return str(c), tuple(params[k] for k in c.positiontup) if c.positional else params

    def driver_only(fn):
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            return fn(cur)
        finally:
            raw.close()

    def select_driver_rows_per_s():
        sql, params = compiled(select(Item).limit(ROWS))

        def go(cur):
            t0 = time.perf_counter()
            cur.execute(sql, params)
            n = len(cur.fetchall())
            assert n == ROWS, n
            return ROWS / (time.perf_counter() - t0)

        return driver_only(go)

    def latency_driver_us():
        queries = [compiled(select(Item).where(Item.id == i % ROWS + 1)) for i in range(LATENCY_N)]

        def go(cur):
            t0 = time.perf_counter()
            for sql, params in queries:
                cur.execute(sql, params)
                cur.fetchall()
            return (time.perf_counter() - t0) / LATENCY_N * 1e6

        return driver_only(go)

    result = {"insert_rows_per_s": _samples(insert_rows_per_s, runs, warmup)}
    with engine.begin() as c:
        c.execute(delete(Item.__table__).where(Item.id > ROWS))
    result["select_rows_per_s"] = _samples(select_rows_per_s, runs, warmup)
    result["latency_us"] = _samples(latency_us, runs, warmup)
    result["select_driver_rows_per_s"] = _samples(select_driver_rows_per_s, runs, warmup)
    result["latency_driver_us"] = _samples(latency_driver_us, runs, warmup)
    Base.metadata.drop_all(engine)
    engine.dispose()
    return result


async def orm_async(driver, runs, warmup):
    from sqlalchemy import delete, select
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    Base, Item = _model()
    engine = create_async_engine(_url(driver))
    async with engine.begin() as c:
        await c.run_sync(Base.metadata.drop_all)
        await c.run_sync(Base.metadata.create_all)

    async def samples(fn):
        out = []
        for i in range(warmup + runs):
            value = await fn()
            if i >= warmup:
                out.append(value)
        return out

    async def insert_rows_per_s():
        items = _items(Item, ROWS)
        t0 = time.perf_counter()
        async with AsyncSession(engine) as s:
            s.add_all(items)
            await s.commit()
        return ROWS / (time.perf_counter() - t0)

    async def select_rows_per_s():
        t0 = time.perf_counter()
        async with AsyncSession(engine) as s:
            n = len((await s.execute(select(Item).limit(ROWS))).scalars().all())
        assert n == ROWS, n
        return ROWS / (time.perf_counter() - t0)

    async def latency_us():
        async with AsyncSession(engine) as s:
            t0 = time.perf_counter()
            for i in range(LATENCY_N):
                (await s.execute(select(Item).where(Item.id == i % ROWS + 1))).scalar_one()
            return (time.perf_counter() - t0) / LATENCY_N * 1e6

    result = {"insert_rows_per_s": await samples(insert_rows_per_s)}
    async with engine.begin() as c:
        await c.execute(delete(Item.__table__).where(Item.id > ROWS))
    result["select_rows_per_s"] = await samples(select_rows_per_s)
    result["latency_us"] = await samples(latency_us)
    async with engine.begin() as c:
        await c.run_sync(Base.metadata.drop_all)
    await engine.dispose()
    return result


def run(spec):
    """Run one spec (dict); returns the {metric: [samples]} dict."""
    if "greenwasm" in spec["driver"]:
        import greenwasm.pg  # noqa: F401  (registers the dialects)
    if spec["kind"] == "dbapi":
        return dbapi(spec["driver"], spec["runs"], spec["warmup"])
    if spec["kind"] == "npm_pg":
        return npm_pg(spec["runs"], spec["warmup"])
    if spec["kind"] == "orm":
        return orm(spec["driver"], spec["runs"], spec["warmup"])
    import asyncio

    return asyncio.run(orm_async(spec["driver"], spec["runs"], spec["warmup"]))


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))

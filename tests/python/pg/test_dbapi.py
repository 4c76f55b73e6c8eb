"""greenwasm.pg at the DB-API level: connecting and authenticating, parameters,
cursors, transactions, errors, executemany, server-side cursors, TLS."""
import os
import time
import unittest

import greenwasm.pg as pg
from greenwasm.pg.params import TLS_AVAILABLE as TLS
from pgtest import conninfo, env, main


class Connect(unittest.TestCase):
    def check_user(self, conn, user):
        cur = conn.cursor()
        cur.execute("SELECT current_user")
        self.assertEqual(cur.fetchone(), (user,))
        conn.close()

    def test_scram_sha_256(self):
        info = conninfo()
        self.check_user(pg.connect(**info), info["user"])

    def test_md5(self):
        user = env("GREENWASM_PG_MD5_USER")
        self.check_user(pg.connect(**conninfo(user=user, password=env("GREENWASM_PG_MD5_PASSWORD"))), user)

    def test_cleartext_password(self):
        user = env("GREENWASM_PG_PLAIN_USER")
        self.check_user(pg.connect(**conninfo(user=user, password=env("GREENWASM_PG_PLAIN_PASSWORD"))), user)

    def test_wrong_password(self):
        for user in (env("PGUSER"), env("GREENWASM_PG_MD5_USER"), env("GREENWASM_PG_PLAIN_USER")):
            with self.subTest(user=user), self.assertRaises(pg.OperationalError) as cm:
                pg.connect(**conninfo(user=user, password="wrong"))
            self.assertEqual(cm.exception.pgcode, "28P01")
            self.assertIn("password authentication failed", str(cm.exception))

    def test_missing_password(self):
        info = conninfo()
        del info["password"]
        saved = os.environ.pop("PGPASSWORD", None)
        try:
            with self.assertRaises(pg.OperationalError):
                pg.connect(**info)
        finally:
            if saved is not None:
                os.environ["PGPASSWORD"] = saved

    def test_dsn_forms_and_environment(self):
        i = conninfo()
        url = "postgresql://%s:%s@%s:%d/%s?sslmode=disable&application_name=gw-url" % (
            i["user"], i["password"], i["host"], i["port"], i["dbname"])
        keywords = "host=%s port=%d user=%s password='%s' dbname=%s sslmode=disable application_name='gw kw'" % (
            i["host"], i["port"], i["user"], i["password"], i["dbname"])
        for dsn, name in ((url, "gw-url"), (keywords, "gw kw")):
            conn = pg.connect(dsn)
            cur = conn.cursor()
            cur.execute("SELECT current_setting('application_name')")
            self.assertEqual(cur.fetchone(), (name,))
            conn.close()
        conn = pg.connect()  # all from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE
        self.check_user(conn, i["user"])

    def test_unknown_database_and_option(self):
        with self.assertRaises(pg.OperationalError) as cm:
            pg.connect(**conninfo(dbname="no_such_db"))
        self.assertEqual(cm.exception.pgcode, "3D000")
        with self.assertRaises(pg.ProgrammingError):
            pg.connect(**conninfo(no_such_option=1))

    def test_server_info(self):
        conn = pg.connect(**conninfo())
        self.assertGreaterEqual(conn.server_version, 100000)
        self.assertIsInstance(conn.backend_pid, int)
        self.assertEqual(conn.parameters["client_encoding"], "UTF8")
        conn.close()
        conn.close()  # idempotent
        self.assertTrue(conn.closed)
        with self.assertRaises(pg.InterfaceError):
            conn.cursor()

    @unittest.skipUnless(TLS, "no TLS in this Python (plain Pyodide)")
    def test_tls(self):
        if env("GREENWASM_PG_SSL", "0") != "1":
            self.skipTest("the server was started without TLS")
        for mode, extra in (("require", {}), ("verify-full", {"sslrootcert": env("GREENWASM_PG_CAFILE")}), ("prefer", {})):
            with self.subTest(sslmode=mode):
                conn = pg.connect(**conninfo(sslmode=mode, **extra))
                cur = conn.cursor()
                cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                self.assertEqual(cur.fetchone(), (True,))
                conn.close()
        with self.assertRaises(pg.OperationalError):  # self-signed: not trusted by the system store
            pg.connect(**conninfo(sslmode="verify-full"))

    @unittest.skipIf(TLS, "only where TLS is unavailable (plain Pyodide)")
    def test_tls_unavailable_is_a_clear_error(self):
        with self.assertRaises(pg.OperationalError) as cm:
            pg.connect(**conninfo(sslmode="require"))
        self.assertIn("TLS is not available", str(cm.exception))


class Base(unittest.TestCase):
    def setUp(self):
        self.conn = pg.connect(**conninfo())
        self.cur = self.conn.cursor()

    def tearDown(self):
        self.conn.close()

    def other(self):
        conn = pg.connect(**conninfo())
        conn.autocommit = True
        self.addCleanup(conn.close)
        return conn.cursor()


class Cursors(Base):
    def test_paramstyles(self):
        cur = self.cur
        cur.execute("SELECT %s, %s", (1, "a"))
        self.assertEqual(cur.fetchone(), (1, "a"))
        cur.execute("SELECT %(x)s, %(y)s, %(x)s", {"x": 2, "y": "b"})
        self.assertEqual(cur.fetchone(), (2, "b", 2))
        cur.execute("SELECT '100%%', %s", ("p",))
        self.assertEqual(cur.fetchone(), ("100%", "p"))
        cur.execute("SELECT '100%'")  # without parameters, % is not special
        self.assertEqual(cur.fetchone(), ("100%",))
        for sql, params in (("SELECT %s, %s", (1,)), ("SELECT %s", (1, 2)), ("SELECT %(a)s", {"b": 1}),
                            ("SELECT %d", (1,)), ("SELECT %s", {"a": 1})):
            with self.subTest(sql=sql), self.assertRaises(pg.ProgrammingError):
                cur.execute(sql, params)

    def test_description_rowcount_and_fetching(self):
        cur = self.cur
        cur.execute("CREATE TEMP TABLE f (id int, name text)")
        self.assertIsNone(cur.description)
        cur.executemany("INSERT INTO f VALUES (%s, %s)", [(i, "n%d" % i) for i in range(10)])
        self.assertEqual(cur.rowcount, 10)
        cur.execute("UPDATE f SET name = name || '!' WHERE id < %s", (4,))
        self.assertEqual(cur.rowcount, 4)
        cur.execute("SELECT id, name FROM f ORDER BY id")
        self.assertEqual([d[0] for d in cur.description], ["id", "name"])
        self.assertEqual(cur.description[0][1], pg.NUMBER)
        self.assertEqual(cur.description[1][1], pg.STRING)
        self.assertEqual(cur.rowcount, 10)
        self.assertEqual(cur.fetchone(), (0, "n0!"))
        self.assertEqual(len(cur.fetchmany()), cur.arraysize)
        cur.arraysize = 3
        self.assertEqual([r[0] for r in cur.fetchmany()], [2, 3, 4])
        self.assertEqual([r[0] for r in cur.fetchmany(2)], [5, 6])
        self.assertEqual([r[0] for r in cur], [7, 8, 9])
        self.assertEqual(cur.fetchall(), [])
        self.assertIsNone(cur.fetchone())
        cur.execute("DELETE FROM f WHERE id >= %s", (5,))
        self.assertEqual(cur.rowcount, 5)
        with self.assertRaises(pg.ProgrammingError):
            cur.fetchone()
        cur.execute("SELECT 1; SELECT 2, 3")  # several statements: the last one's result
        self.assertEqual(cur.fetchall(), [(2, 3)])
        cur.execute("")
        self.assertIsNone(cur.description)
        cur.close()
        with self.assertRaises(pg.InterfaceError):
            cur.execute("SELECT 1")

    def test_executemany_batches_and_mixed_nulls(self):
        cur = self.cur
        cur.execute("CREATE TEMP TABLE m (id int PRIMARY KEY, v text, n numeric)")
        rows = [(i, None if i % 3 else "v%d" % i, None if i % 5 else i) for i in range(1, 1201)]
        cur.executemany("INSERT INTO m VALUES (%s, %s, %s)", rows)
        self.assertEqual(cur.rowcount, 1200)
        cur.execute("SELECT count(*), count(v), count(n), sum(n) FROM m")
        self.assertEqual(cur.fetchone(), (1200, 400, 240, sum(r[0] for r in rows if r[2] is not None)))
        cur.executemany("INSERT INTO m VALUES (%s, %s, %s) RETURNING id * 10, v", [(5001, "a", 1), (5002, None, 2)])
        self.assertEqual(cur.rowcount, 2)
        self.assertEqual(cur.fetchall(), [(50010, "a"), (50020, None)])  # RETURNING rows of every set
        cur.executemany("INSERT INTO m VALUES (%s, %s, %s)", [])
        with self.assertRaises(pg.IntegrityError):  # a duplicate in the second batch of 500
            cur.executemany("INSERT INTO m VALUES (%s, NULL, NULL)", [(i,) for i in range(2000, 2700)] + [(1,)])
        self.assertEqual(self.conn.transaction_status, "E")
        self.conn.rollback()
        cur.execute("SELECT count(*) FROM pg_class")
        self.assertGreater(cur.fetchone()[0], 0)

    def test_prepared_statement_cache_survives_ddl(self):
        cur = self.cur
        self.conn.autocommit = True
        cur.execute("CREATE TEMP TABLE c (a int)")
        cur.execute("INSERT INTO c VALUES (%s)", (1,))
        for _ in range(3):
            cur.execute("SELECT * FROM c WHERE a = %s", (1,))
        self.assertEqual(cur.fetchall(), [(1,)])
        self.other().execute("SELECT 1")  # unrelated connection, no effect
        cur.execute("ALTER TABLE c ADD COLUMN b text DEFAULT 'x'")
        cur.execute("SELECT * FROM c WHERE a = %s", (1,))
        self.assertEqual(cur.fetchall(), [(1, "x")])
        cur.execute("DROP TABLE c")
        cur.execute("CREATE TEMP TABLE c (a text)")
        cur.execute("INSERT INTO c VALUES (%s)", ("now text",))
        cur.execute("SELECT * FROM c")
        self.assertEqual(cur.fetchall(), [("now text",)])
        many = pg.connect(**conninfo(statement_cache_size=2))
        self.addCleanup(many.close)
        mc = many.cursor()
        for i in range(10):  # more distinct statements than the cache holds
            mc.execute("SELECT %s + " + str(i), (i,))
            self.assertEqual(mc.fetchone(), (2 * i,))
        mc.execute("SELECT count(*) FROM pg_prepared_statements")
        self.assertLessEqual(mc.fetchone()[0], 3)

    def test_server_side_cursor(self):
        cur = self.conn.cursor("big")
        cur.itersize = 1000
        cur.execute("SELECT g, repeat('x', 10) FROM generate_series(1, 4500) g WHERE g > %s", (0,))
        self.assertEqual([d[0] for d in cur.description], ["g", "repeat"])
        self.assertEqual(cur.fetchone()[0], 1)
        self.assertEqual([r[0] for r in cur.fetchmany(1500)], list(range(2, 1502)))
        self.assertEqual(sum(1 for _ in cur), 4500 - 1501)
        cur.close()
        self.conn.commit()
        self.conn.autocommit = True
        with self.assertRaises(pg.ProgrammingError):
            self.conn.cursor("x").execute("SELECT 1")

    def test_notices(self):
        self.cur.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$")
        self.assertIn("NOTICE:  hello 42\n", self.conn.notices)


class Transactions(Base):
    def test_autocommit_off_by_default(self):
        cur = self.cur
        self.assertFalse(self.conn.autocommit)
        cur.execute("CREATE TABLE IF NOT EXISTS tx (v int)")
        self.conn.commit()
        self.addCleanup(lambda: self.other().execute("DROP TABLE IF EXISTS tx"))
        cur.execute("INSERT INTO tx VALUES (%s)", (1,))
        self.assertEqual(self.conn.transaction_status, "T")
        peer = self.other()
        peer.execute("SELECT count(*) FROM tx")
        self.assertEqual(peer.fetchone(), (0,))
        self.conn.rollback()
        cur.execute("SELECT count(*) FROM tx")
        self.assertEqual(cur.fetchone(), (0,))
        cur.execute("INSERT INTO tx VALUES (%s)", (2,))
        self.conn.commit()
        self.assertEqual(self.conn.transaction_status, "I")
        peer.execute("SELECT v FROM tx")
        self.assertEqual(peer.fetchall(), [(2,)])
        self.conn.autocommit = True
        cur.execute("INSERT INTO tx VALUES (%s)", (3,))
        self.assertEqual(self.conn.transaction_status, "I")
        peer.execute("SELECT count(*) FROM tx")
        self.assertEqual(peer.fetchone(), (2,))

    def test_savepoints_through_sql(self):
        cur = self.cur
        cur.execute("CREATE TEMP TABLE sp (v int UNIQUE)")
        cur.execute("INSERT INTO sp VALUES (1)")
        cur.execute("SAVEPOINT a")
        with self.assertRaises(pg.IntegrityError):
            cur.execute("INSERT INTO sp VALUES (%s)", (1,))
        self.assertEqual(self.conn.transaction_status, "E")
        with self.assertRaises(pg.InternalError) as cm:  # 25P02 in_failed_sql_transaction
            cur.execute("SELECT 1")
        self.assertEqual(cm.exception.pgcode, "25P02")
        cur.execute("ROLLBACK TO SAVEPOINT a")
        cur.execute("INSERT INTO sp VALUES (%s)", (2,))
        cur.execute("RELEASE SAVEPOINT a")
        cur.execute("SELECT v FROM sp ORDER BY v")
        self.assertEqual(cur.fetchall(), [(1,), (2,)])

    def test_context_manager(self):
        with self.conn:
            self.cur.execute("CREATE TEMP TABLE cm (v int)")
        self.assertEqual(self.conn.transaction_status, "I")
        with self.assertRaises(ZeroDivisionError):
            with self.conn:
                self.cur.execute("INSERT INTO cm VALUES (1)")
                1 / 0
        self.cur.execute("SELECT count(*) FROM cm")
        self.assertEqual(self.cur.fetchone(), (0,))


class Errors(Base):
    def setUp(self):
        super().setUp()
        self.conn.autocommit = True
        self.cur.execute("CREATE TEMP TABLE parent (id int PRIMARY KEY, name text UNIQUE NOT NULL)")
        self.cur.execute("CREATE TEMP TABLE child (pid int REFERENCES parent (id))")
        self.cur.execute("INSERT INTO parent VALUES (1, 'one')")

    def expect(self, cls, code, sql, params=None):
        with self.assertRaises(cls) as cm:
            self.cur.execute(sql, params)
        self.assertEqual(cm.exception.pgcode, code)
        self.assertEqual(cm.exception.sqlstate, code)
        self.assertIsInstance(cm.exception, pg.DatabaseError)
        return cm.exception

    def test_sqlstate_classes(self):
        e = self.expect(pg.IntegrityError, "23505", "INSERT INTO parent VALUES (%s, %s)", (2, "one"))
        self.assertEqual(e.constraint_name, "parent_name_key")
        self.assertIn("already exists", e.detail)
        self.expect(pg.IntegrityError, "23502", "INSERT INTO parent VALUES (%s, NULL)", (3,))
        self.expect(pg.IntegrityError, "23503", "INSERT INTO child VALUES (%s)", (99,))
        self.expect(pg.ProgrammingError, "42601", "SELEC 1")
        self.expect(pg.ProgrammingError, "42P01", "SELECT * FROM no_such_table")
        self.expect(pg.DataError, "22012", "SELECT 1 / %s", (0,))
        self.expect(pg.DataError, "22P02", "SELECT 'abc'::int")
        self.expect(pg.InternalError, "P0001", "DO $$ BEGIN RAISE EXCEPTION 'boom'; END $$")
        self.cur.execute("SET statement_timeout = '50ms'")
        e = self.expect(pg.QueryCanceledError, "57014", "SELECT pg_sleep(2)")
        self.assertIsInstance(e, pg.OperationalError)
        self.cur.execute("RESET statement_timeout")
        self.cur.execute("SELECT 1")  # still usable after every error above
        self.assertEqual(self.cur.fetchone(), (1,))

    def test_terminated_backend_is_operational_error(self):
        self.other().execute("SELECT pg_terminate_backend(%s)", (self.conn.backend_pid,))
        t0 = time.monotonic()
        with self.assertRaises(pg.OperationalError) as cm:
            self.cur.execute("SELECT 1")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertTrue(cm.exception.connection_lost)
        self.assertTrue(self.conn.closed)
        with self.assertRaises(pg.InterfaceError):
            self.cur.execute("SELECT 1")

    def test_cancel(self):
        try:
            import threading

            timer = threading.Timer(0.3, self.conn.cancel)
            timer.start()
        except RuntimeError as e:  # no threads here
            self.skipTest(str(e))
        t0 = time.monotonic()
        with self.assertRaises(pg.QueryCanceledError):
            self.cur.execute("SELECT pg_sleep(10)")
        self.assertLess(time.monotonic() - t0, 5)
        timer.join()

    def test_operation_timeout(self):
        conn = pg.connect(**conninfo(timeout=0.3))
        self.addCleanup(conn.close)
        t0 = time.monotonic()
        with self.assertRaises(pg.OperationalError) as cm:
            conn.cursor().execute("SELECT pg_sleep(5)")
        self.assertLess(time.monotonic() - t0, 3)
        self.assertTrue(cm.exception.connection_lost)
        self.assertTrue(conn.closed)


if __name__ == "__main__":
    main()

"""Bad input fails promptly with SQLAlchemy's usual errors: malformed URLs,
unknown options, unreachable or silent hosts, unknown host names."""
import time
import unittest

import greenwasm.pg as pg
from pgtest import conninfo, env, main, url
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc

PROMPT = 5.0


class BadInput(unittest.TestCase):
    def connect_fails(self, engine_url, exc_type, **engine_kw):
        engine = create_engine(engine_url, future=True, **engine_kw)
        t0 = time.monotonic()
        with self.assertRaises(exc_type) as cm:
            with engine.connect() as c:
                c.execute(text("SELECT 1"))
        self.assertLess(time.monotonic() - t0, PROMPT)
        engine.dispose()
        return cm.exception

    def test_malformed_urls(self):
        for bad in ("postgresql+greenwasm//missing-colon", "postgresql+greenwasm://u:p@host:notaport/db", "://"):
            with self.subTest(url=bad), self.assertRaises((sa_exc.ArgumentError, ValueError)):
                create_engine(bad)
        with self.assertRaises(sa_exc.NoSuchModuleError):
            create_engine("postgresql+greenwasm_nope://u@localhost/db")

    def test_unknown_connect_option(self):
        e = self.connect_fails(url(no_such_option="1"), sa_exc.ProgrammingError)
        self.assertIn("no_such_option", str(e))

    def test_refused_port(self):
        e = self.connect_fails(url().replace(":%s/" % env("PGPORT"), ":1/"), sa_exc.OperationalError)
        self.assertIn("failed", str(e))

    def test_unknown_host_name(self):
        e = self.connect_fails(url().replace(env("PGHOST"), "no-such-host.invalid"), sa_exc.OperationalError)
        self.assertIn("no-such-host.invalid", str(e))

    def test_silent_server_hits_connect_timeout(self):
        port = env("GREENWASM_PG_SILENT_PORT")
        silent = url(connect_timeout=1).replace(":%s/" % env("PGPORT"), ":%s/" % port)
        e = self.connect_fails(silent, sa_exc.OperationalError)
        self.assertIn("timeout", str(e))
        t0 = time.monotonic()
        with self.assertRaises(pg.OperationalError):
            pg.connect(**conninfo(port=int(port), connect_timeout=0.5))
        self.assertLess(time.monotonic() - t0, 2)

    def test_wrong_credentials_and_database(self):
        e = self.connect_fails(url(password="wrong"), sa_exc.OperationalError)
        self.assertEqual(e.orig.pgcode, "28P01")
        e = self.connect_fails(url().replace("/%s?" % env("PGDATABASE"), "/no_such_db?"), sa_exc.OperationalError)
        self.assertEqual(e.orig.pgcode, "3D000")


if __name__ == "__main__":
    main()

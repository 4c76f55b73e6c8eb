"""Shared helpers of the greenwasm.pg test scripts (native CPython and greenwasm).

The server comes from the environment tests/support/postgres.ts provides:
PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (SCRAM superuser),
GREENWASM_PG_{MD5,PLAIN}_{USER,PASSWORD}, GREENWASM_PG_SSL, GREENWASM_PG_CAFILE,
GREENWASM_PG_SILENT_PORT (a TCP port that accepts and never answers).

main() runs the calling script's unittest cases and prints one line
'SUMMARY {"run": N, "failed": [...], "skipped": [...]}'; the exit status is 0
only if everything passed.
"""
import json
import os
import sys
import unittest
from urllib.parse import quote

IN_GREENWASM = sys.platform == "emscripten"


def env(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        raise unittest.SkipTest("%s is not set (run through tests/support/postgres.ts)" % name)
    return value


def conninfo(**over):
    """connect() keywords for the superuser; `over` replaces any of them."""
    info = dict(
        host=env("PGHOST"), port=int(env("PGPORT")), user=env("PGUSER"), password=env("PGPASSWORD"),
        dbname=env("PGDATABASE"), sslmode="disable",
    )
    info.update(over)
    return info


def url(driver="greenwasm", user=None, password=None, **query):
    user = user or env("PGUSER")
    password = password or env("PGPASSWORD")
    query.setdefault("sslmode", "disable")
    q = "&".join("%s=%s" % (k, quote(str(v))) for k, v in query.items())
    return "postgresql+%s://%s:%s@%s:%s/%s?%s" % (
        driver, quote(user, safe=""), quote(password, safe=""), env("PGHOST"), env("PGPORT"), env("PGDATABASE"), q,
    )


def have_greenlet():
    try:
        import greenlet  # noqa: F401

        return True
    except ImportError:
        return False


def main():
    module = sys.modules["__main__"]
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    failed = [t.id() for t, _ in result.failures + result.errors]
    skipped = ["%s: %s" % (t.id(), why) for t, why in result.skipped]
    sys.stdout.write("SUMMARY " + json.dumps({"run": result.testsRun, "failed": failed, "skipped": skipped}) + "\n")
    sys.stdout.flush()
    sys.exit(0 if result.wasSuccessful() else 1)

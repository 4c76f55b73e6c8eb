"""greenwasm.pg: every supported type round-tripped through a table column and as a
bare parameter, NULLs and arrays included."""
import datetime as dt
import decimal
import math
import uuid
import unittest

import greenwasm.pg as pg
from pgtest import conninfo, main

D = decimal.Decimal
UTC = dt.timezone.utc
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
WEST = dt.timezone(dt.timedelta(hours=-3))

# (column type, values to round-trip); each value must come back equal.
CASES = [
    ("smallint", [0, -32768, 32767]),
    ("integer", [0, -(2**31), 2**31 - 1]),
    ("bigint", [2**31, -(2**63), 2**63 - 1]),
    ("numeric", [D("0"), D("-1.50"), D("12345678901234567890.123456789"), 2**70, D("1E-20")]),
    ("numeric(10,3)", [D("3.142"), D("-0.001")]),
    ("real", [1.5, -0.25]),
    ("double precision", [0.1, -1e300, 5e-324, float("inf"), float("-inf")]),
    ("text", ["", "plain", "quote ' \" back\\slash", "tab\tnew\nline", "ünïcödé ✓ 🐘", "NULL", "{a,b}"]),
    ("varchar(20)", ["short", ""]),
    ("char(3)", ["abc"]),
    ("bytea", [b"", bytes(range(256)), b"\x00\\x00"]),
    ("boolean", [True, False]),
    ("date", [dt.date(2024, 2, 29), dt.date(1, 1, 1), dt.date(9999, 12, 31)]),
    ("time", [dt.time(0, 0), dt.time(23, 59, 59, 999999), dt.time(12, 30, 0, 500)]),
    ("timetz", [dt.time(12, 30, tzinfo=IST), dt.time(1, 2, 3, 4, tzinfo=WEST)]),
    ("timestamp", [dt.datetime(2024, 1, 2, 3, 4, 5, 6), dt.datetime(1970, 1, 1)]),
    ("timestamptz", [dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), dt.datetime(2024, 6, 1, 12, tzinfo=IST),
                     dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=WEST)]),
    ("interval", [dt.timedelta(0), dt.timedelta(days=3, hours=4, minutes=5, seconds=6, microseconds=7),
                  dt.timedelta(days=-1, seconds=10), dt.timedelta(microseconds=-1), dt.timedelta(days=400)]),
    ("json", [{"a": [1, 2, {"b": None}]}, [1, "two"], "str", 3, None]),
    ("jsonb", [{"k": "ünï", "n": 1.5, "t": True}, [], {}]),
    ("uuid", [uuid.UUID("12345678-1234-5678-1234-567812345678"), uuid.uuid4()]),
    ("integer[]", [[1, 2, 3], [], [None, 1], [[1, 2], [3, 4]]]),
    ("bigint[]", [[2**40, -1]]),
    ("text[]", [["a", "b c", 'q"uote', "back\\slash", "", "NULL", None, "{x}", "a,b"], ["ünï"]]),
    ("varchar[]", [["x", "y"]]),
    ("numeric[]", [[D("1.5"), D("-2")]]),
    ("double precision[]", [[1.5, -2.25]]),
    ("boolean[]", [[True, False, None]]),
    ("date[]", [[dt.date(2020, 1, 1), None]]),
    ("timestamptz[]", [[dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime(2021, 5, 5, 5, 5, tzinfo=UTC)]]),
    ("uuid[]", [[uuid.UUID(int=1), uuid.UUID(int=2)]]),
    ("jsonb[]", [[{"a": 1}, pg.Json([2])]]),
    ("bytea[]", [[b"\x00\x01", b"", None]]),
]

# json values that are not dicts must be sent as JSON text (a list would be an array).
JSON_TEXT = {"json", "jsonb"}


def as_param(coltype, value):
    if coltype in JSON_TEXT and not isinstance(value, dict) and value is not None:
        return pg.Json(value)
    return value


def plain(value):
    if isinstance(value, pg.Json):
        return value.obj
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class Types(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.conn = pg.connect(**conninfo())
        cls.conn.autocommit = True

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()

    def roundtrip(self, coltype, values):
        cur = self.conn.cursor()
        cur.execute("CREATE TEMP TABLE rt (i serial, v %s)" % coltype)
        try:
            cur.executemany("INSERT INTO rt (v) VALUES (%s)", [(as_param(coltype, v),) for v in values] + [(None,)])
            self.assertEqual(cur.rowcount, len(values) + 1)
            cur.execute("SELECT v FROM rt ORDER BY i")
            got = [r[0] for r in cur.fetchall()]
        finally:
            cur.execute("DROP TABLE rt")
        expected = [plain(v) for v in values] + [None]
        if coltype == "char(3)":
            expected = [v if v is None else v.ljust(3) for v in expected]
        for want, have in zip(expected, got):
            if isinstance(want, float) and math.isnan(want):
                self.assertTrue(math.isnan(have))
                continue
            self.assertEqual(have, want, "%s: sent %r, got %r" % (coltype, want, have))
            if isinstance(want, dt.datetime) and want.tzinfo is not None:
                self.assertIsNotNone(have.tzinfo, "timestamptz comes back timezone-aware")

    def test_column_roundtrip(self):
        for coltype, values in CASES:
            with self.subTest(coltype=coltype):
                self.roundtrip(coltype, values)

    def test_bare_parameters_keep_their_type(self):
        cur = self.conn.cursor()
        values = [1, 2**40, 2**70, 1.25, D("9.99"), True, "s", b"\x01", dt.date(2020, 1, 1),
                  dt.datetime(2020, 1, 1, 1, 1, 1), dt.datetime(2020, 1, 1, tzinfo=UTC), dt.time(1, 2),
                  dt.timedelta(hours=1), uuid.UUID(int=7), {"j": 1}, [1, 2], None]
        cur.execute("SELECT " + ", ".join(["%s"] * len(values)), values)
        row = cur.fetchone()
        self.assertEqual(list(row), values)
        expected_types = [type(v) for v in values]
        expected_types[2] = D  # beyond int8: numeric
        self.assertEqual([type(v) for v in row], expected_types)

    def test_nan_and_special_values(self):
        cur = self.conn.cursor()
        cur.execute("SELECT %s::float8, %s::numeric, 'infinity'::timestamp, '-infinity'::date",
                    (float("nan"), D("NaN")))
        f, n, ts, d = cur.fetchone()
        self.assertTrue(math.isnan(f))
        self.assertTrue(n.is_nan())
        self.assertEqual(ts, dt.datetime.max)
        self.assertEqual(d, dt.date.min)

    def test_timestamptz_follows_session_timezone(self):
        cur = self.conn.cursor()
        cur.execute("SET TIME ZONE 'Asia/Kolkata'")
        try:
            cur.execute("SELECT %s::timestamptz", (dt.datetime(2024, 1, 1, tzinfo=UTC),))
            value = cur.fetchone()[0]
            self.assertEqual(value.utcoffset(), dt.timedelta(hours=5, minutes=30))
            self.assertEqual(value, dt.datetime(2024, 1, 1, tzinfo=UTC))
        finally:
            cur.execute("RESET TIME ZONE")

    def test_interval_with_months_uses_30_day_months(self):
        cur = self.conn.cursor()
        cur.execute("SELECT '1 year 2 mons 3 days 04:05:06.5'::interval, '-2 mons'::interval")
        a, b = cur.fetchone()
        self.assertEqual(a, dt.timedelta(days=365 + 60 + 3, hours=4, minutes=5, seconds=6, microseconds=500000))
        self.assertEqual(b, dt.timedelta(days=-60))

    def test_unknown_types_come_back_as_text(self):
        cur = self.conn.cursor()
        cur.execute("SELECT '192.168.0.1/24'::inet, 'a=>1'::text, '(1,2)'::point, 'x'::name, 42::oid")
        self.assertEqual(cur.fetchone(), ("192.168.0.1/24", "a=>1", "(1,2)", "x", 42))

    def test_str_parameter_fits_any_column(self):
        cur = self.conn.cursor()
        cur.execute("CREATE TEMP TABLE s (u uuid, d date, j jsonb, n numeric, e text[])")
        try:
            cur.execute("INSERT INTO s VALUES (%s, %s, %s, %s, %s)",
                        ("12345678-1234-5678-1234-567812345678", "2020-02-02", '{"a": 1}', "1.5", "{x,y}"))
            cur.execute("SELECT * FROM s")
            self.assertEqual(cur.fetchone(), (uuid.UUID("12345678-1234-5678-1234-567812345678"),
                                              dt.date(2020, 2, 2), {"a": 1}, D("1.5"), ["x", "y"]))
        finally:
            cur.execute("DROP TABLE s")

    def test_unadaptable_parameter(self):
        cur = self.conn.cursor()
        with self.assertRaises(pg.ProgrammingError):
            cur.execute("SELECT %s", (object(),))
        cur.execute("SELECT 1")  # the connection is still usable
        self.assertEqual(cur.fetchone(), (1,))

    def test_large_result(self):
        cur = self.conn.cursor()
        cur.execute("SELECT g, g::text, g * 1.5, now() FROM generate_series(1, 50000) g")
        rows = cur.fetchall()
        self.assertEqual(len(rows), 50000)
        self.assertEqual(rows[-1][:3], (50000, "50000", D("75000.0")))


if __name__ == "__main__":
    main()

"""Python values ↔ PostgreSQL text format (and binary bytea parameters).

Parameters: each value gets a type OID chosen the way PostgreSQL types the
equivalent literal, so the server resolves operators and functions as it does
for psycopg2's interpolated SQL: int → int4/int8/numeric by range, float →
float8, Decimal → numeric, str → unknown (0: the server infers it from the
context, so a str fits a text, json, uuid, enum or date column), bytes →
bytea (sent in binary), bool, date, time[tz], timestamp[tz] (by tzinfo),
timedelta → interval, UUID, dict → jsonb, list/tuple → an array of the
element type (unknown when the elements are str or all NULL), None → NULL.

Results are requested in text format and decoded by column type OID; types
without a decoder come back as str.
"""
import datetime
import decimal
import json
import re
import uuid

from .errors import DataError, ProgrammingError

BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID = 16, 17, 18, 19, 20, 21, 23, 25, 26
JSON, FLOAT4, FLOAT8, UNKNOWN, BPCHAR, VARCHAR = 114, 700, 701, 705, 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, TIMETZ = 1082, 1083, 1114, 1184, 1186, 1266
NUMERIC, UUID, JSONB, XID, CID, TID = 1700, 2950, 3802, 28, 29, 27

# element type → array type
ARRAY_OF = {
    BOOL: 1000, BYTEA: 1001, CHAR: 1002, NAME: 1003, INT2: 1005, INT4: 1007, TEXT: 1009,
    BPCHAR: 1014, VARCHAR: 1015, INT8: 1016, FLOAT4: 1021, FLOAT8: 1022, OID: 1028,
    TIMESTAMP: 1115, DATE: 1182, TIME: 1183, TIMESTAMPTZ: 1185, INTERVAL: 1187,
    NUMERIC: 1231, TIMETZ: 1270, JSON: 199, JSONB: 3807, UUID: 2951,
}
ELEMENT_OF = {v: k for k, v in ARRAY_OF.items()}

_INT4_MIN, _INT4_MAX = -(2**31), 2**31 - 1
_INT8_MIN, _INT8_MAX = -(2**63), 2**63 - 1


class Json:
    """Wrap any JSON-serializable value (e.g. a list) to send it as jsonb."""

    __slots__ = ("obj", "dumps")

    def __init__(self, obj, dumps=json.dumps):
        self.obj = obj
        self.dumps = dumps


# ---------------------------------------------------------------- parameters

def _int_oid(v):
    if _INT4_MIN <= v <= _INT4_MAX:
        return INT4
    if _INT8_MIN <= v <= _INT8_MAX:
        return INT8
    return NUMERIC


def _float_text(v):
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(v)


def _interval_text(v):
    return "%d days %d seconds %d microseconds" % (v.days, v.seconds, v.microseconds)


def scalar(v):
    """(oid, text) of one non-None, non-sequence value; text is str (or bytes for bytea)."""
    t = type(v)
    if t is str:
        return 0, v
    if t is int:
        return _int_oid(v), "%d" % v
    if t is bool:
        return BOOL, "t" if v else "f"
    if t is float:
        return FLOAT8, _float_text(v)
    if t is decimal.Decimal:
        return NUMERIC, str(v)
    if t is datetime.datetime:
        return (TIMESTAMP if v.tzinfo is None or v.utcoffset() is None else TIMESTAMPTZ), v.isoformat()
    if t is datetime.date:
        return DATE, v.isoformat()
    if t is datetime.time:
        return (TIME if v.tzinfo is None else TIMETZ), v.isoformat()
    if t is datetime.timedelta:
        return INTERVAL, _interval_text(v)
    if t is uuid.UUID:
        return UUID, str(v)
    if t in (bytes, bytearray, memoryview):
        return BYTEA, bytes(v)
    if t is dict:
        return JSONB, json.dumps(v)
    if t is Json:
        return JSONB, v.dumps(v.obj)
    # Subclasses (IntEnum, str enums, SQLAlchemy's quoted_name, pendulum datetimes...).
    if isinstance(v, bool):
        return BOOL, "t" if v else "f"
    if isinstance(v, int):
        return _int_oid(v), int.__repr__(v)
    if isinstance(v, str):
        return 0, str.__str__(v)
    if isinstance(v, float):
        return FLOAT8, _float_text(float(v))
    if isinstance(v, dict):
        return JSONB, json.dumps(v)
    for base in (decimal.Decimal, datetime.datetime, datetime.date, datetime.time, datetime.timedelta, uuid.UUID):
        if isinstance(v, base):
            return scalar(_rebase(v, base))
    raise ProgrammingError("can't adapt type %r" % type(v).__name__)


def _rebase(v, base):
    if base is datetime.datetime:
        return datetime.datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, v.tzinfo)
    if base is datetime.date:
        return datetime.date(v.year, v.month, v.day)
    if base is datetime.time:
        return datetime.time(v.hour, v.minute, v.second, v.microsecond, v.tzinfo)
    if base is datetime.timedelta:
        return datetime.timedelta(v.days, v.seconds, v.microseconds)
    if base is uuid.UUID:
        return uuid.UUID(int=v.int)
    return decimal.Decimal(v)


def _quote_element(text):
    if text == "" or text.upper() == "NULL" or any(c in text for c in '{}," \\\t\n\r\f\v'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _array(value, oids):
    parts = []
    for item in value:
        if item is None:
            parts.append("NULL")
        elif isinstance(item, (list, tuple)):
            parts.append(_array(item, oids))
        else:
            oid, text = scalar(item)
            if oid == BYTEA:
                text = "\\x" + text.hex()
            oids.add(oid)
            parts.append(_quote_element(text))
    return "{" + ",".join(parts) + "}"


def _array_oid(oids):
    if not oids or oids == {0}:
        return 0
    if oids <= {INT4, INT8}:
        return ARRAY_OF[max(oids, key=(INT4, INT8).index)]
    if oids <= {INT4, INT8, NUMERIC}:
        return ARRAY_OF[NUMERIC]
    if oids <= {INT4, INT8, FLOAT8}:
        return ARRAY_OF[FLOAT8]
    if len(oids) == 1:
        return ARRAY_OF.get(next(iter(oids)), 0)
    if oids <= {TIMESTAMP, TIMESTAMPTZ}:
        return ARRAY_OF[TIMESTAMPTZ]
    raise DataError("array elements of mixed types: OIDs %s" % sorted(oids))


def encode_params(params):
    """(oids, formats, values) for a sequence of Python values; values are bytes or None."""
    oids, formats, values = [], [], []
    for v in params:
        if v is None:
            oids.append(0)
            formats.append(0)
            values.append(None)
            continue
        if isinstance(v, (list, tuple)):
            elem = set()
            text = _array(v, elem)
            oids.append(_array_oid(elem))
            formats.append(0)
            values.append(text.encode("utf-8"))
            continue
        oid, text = scalar(v)
        oids.append(oid)
        if oid == BYTEA:
            formats.append(1)
            values.append(text)
        else:
            formats.append(0)
            values.append(text.encode("utf-8"))
    return tuple(oids), formats, values


# ---------------------------------------------------------------- results

_INTERVAL_RE = re.compile(
    r"^(?:(?P<years>[+-]?\d+) years? ?)?(?:(?P<months>[+-]?\d+) mons? ?)?(?:(?P<days>[+-]?\d+) days? ?)?"
    r"(?:(?P<sign>[+-])?(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<f>\d{1,6}))?)?$"
)


def _special(s, cls):
    if s == "infinity":
        return cls.max
    if s == "-infinity":
        return cls.min
    return s  # BC dates and years past 9999 have no Python value: left as text


def _date(b):
    s = b.decode()
    try:
        return datetime.date.fromisoformat(s)
    except ValueError:
        return _special(s, datetime.date)


def _timestamp(b):
    # Python >= 3.11 parses PostgreSQL's ISO output, offsets like +00, +05:30, -03:30:45 included.
    s = b.decode()
    try:
        return datetime.datetime.fromisoformat(s)
    except ValueError:
        return _special(s, datetime.datetime)


def _time(b):
    return datetime.time.fromisoformat(b.decode())


_timetz = _time
_timestamptz = _timestamp


def _interval(b):
    s = b.decode()
    m = _INTERVAL_RE.match(s)
    if m is None:
        raise DataError("cannot parse interval %r (IntervalStyle must be 'postgres')" % s)
    g = m.groupdict()
    # Months and years have no fixed length: 30 and 365 days, as psycopg2 does.
    days = int(g["years"] or 0) * 365 + int(g["months"] or 0) * 30 + int(g["days"] or 0)
    t = datetime.timedelta(
        hours=int(g["h"] or 0), minutes=int(g["m"] or 0), seconds=int(g["s"] or 0),
        microseconds=int((g["f"] or "0").ljust(6, "0")),
    )
    return datetime.timedelta(days=days) + (-t if g["sign"] == "-" else t)


def _bytea(b):
    if b[:2] == b"\\x":
        return bytes.fromhex(b[2:].decode())
    raise DataError("bytea_output must be 'hex'")


def _numeric(b):
    return decimal.Decimal(b.decode())


def _bool(b):
    return b == b"t"


def _uuid(b):
    return uuid.UUID(b.decode())


def _text(b):
    return b.decode("utf-8")


def make_decoders(json_loads=json.loads):
    """OID → function(bytes) for the text format; arrays included."""
    d = {
        BOOL: _bool, BYTEA: _bytea, INT2: int, INT4: int, INT8: int, OID: int, XID: int, CID: int,
        FLOAT4: float, FLOAT8: float, NUMERIC: _numeric, DATE: _date, TIME: _time, TIMETZ: _timetz,
        TIMESTAMP: _timestamp, TIMESTAMPTZ: _timestamptz, INTERVAL: _interval, UUID: _uuid,
        JSON: json_loads, JSONB: json_loads,
    }
    for arr, elem in ELEMENT_OF.items():
        d[arr] = _array_decoder(d.get(elem, _text), elem == BYTEA)
    return d


def _array_decoder(elem, is_bytea):
    def decode(b):
        return parse_array(b.decode("utf-8"), elem, is_bytea)

    return decode


def parse_array(s, elem, is_bytea=False):
    """Parse a PostgreSQL array literal ('{1,NULL,"a b"}', nested, '[l:u]={...}' bounds dropped)."""
    if s[0] == "[":
        s = s[s.index("=") + 1:]
    pos = 0
    n = len(s)

    def parse():
        nonlocal pos
        assert s[pos] == "{"
        pos += 1
        out = []
        if s[pos] == "}":
            pos += 1
            return out
        while True:
            c = s[pos]
            if c == "{":
                out.append(parse())
            elif c == '"':
                pos += 1
                buf = []
                while s[pos] != '"':
                    if s[pos] == "\\":
                        pos += 1
                    buf.append(s[pos])
                    pos += 1
                pos += 1
                out.append(elem("".join(buf).encode("utf-8")))
            else:
                end = pos
                while end < n and s[end] not in ",}":
                    end += 1
                word = s[pos:end]
                pos = end
                out.append(None if word == "NULL" else elem(word.encode("utf-8")))
            if s[pos] == ",":
                pos += 1
                continue
            pos += 1  # "}"
            return out

    return parse()

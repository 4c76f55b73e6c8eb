"""Result-side helpers: parsed statements, results, RowDescription and DataRow decoding."""
import struct

from . import types, wire

_ROWDESC = struct.Struct("!ihihih")


class Statement:
    """A parsed statement: its server name, result description and decoders."""

    __slots__ = ("name", "key", "description", "decoders")

    def __init__(self, name, key):
        self.name = name
        self.key = key
        self.description = None
        self.decoders = None


class Result:
    __slots__ = ("description", "rows", "rowcount", "status")

    def __init__(self, description=None, rows=None, rowcount=-1, status=None):
        self.description = description
        self.rows = rows
        self.rowcount = rowcount
        self.status = status


def describe(payload, decoders_by_oid):
    """(DB-API description, decoders) from a RowDescription payload."""
    n = wire.I16.unpack_from(payload, 0)[0]
    pos = 2
    desc, decs = [], []
    for _ in range(n):
        end = payload.index(b"\0", pos)
        name = payload[pos:end].decode("utf-8")
        _table, _col, oid, size, mod, _fmt = _ROWDESC.unpack_from(payload, end + 1)
        pos = end + 19
        precision = scale = None
        if oid == types.NUMERIC and mod >= 4:
            precision, scale = ((mod - 4) >> 16) & 0xFFFF, (mod - 4) & 0xFFFF
        desc.append((name, oid, None, size if size >= 0 else None, precision, scale, None))
        decs.append(decoders_by_oid.get(oid, types._text))
    return desc, decs



def decode_rows(raws, decoders):
    """Tuples from DataRow payloads (int16 count, then per column int32 length or -1, bytes)."""
    unpack32 = wire.I32.unpack_from
    out = []
    append_row = out.append
    for data in raws:
        pos = 2
        row = []
        append = row.append
        for decode in decoders:
            size = unpack32(data, pos)[0]
            pos += 4
            if size < 0:
                append(None)
            else:
                end = pos + size
                append(decode(data[pos:end]))
                pos = end
        append_row(tuple(row))
    return out


def rowcount(tag):
    last = tag.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1

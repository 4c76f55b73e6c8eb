"""SQLAlchemy 1.4 dialect ``postgresql+greenwasm://`` for greenwasm.pg.

    import greenwasm.pg  # registers the dialects
    engine = create_engine("postgresql+greenwasm://user:secret@host/db?sslmode=disable")

URL query parameters become connect() keywords (sslmode, connect_timeout,
timeout, application_name, statement_cache_size, ...). The driver decodes
numeric to Decimal, json/jsonb to Python objects and uuid to UUID itself;
the types below only adapt SQLAlchemy's expectations to that.
"""
import decimal
from uuid import UUID as _python_UUID

from sqlalchemy import exc, processors, util
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.postgresql.array import ARRAY as PGARRAY
from sqlalchemy.dialects.postgresql.base import (
    _DECIMAL_TYPES,
    _FLOAT_TYPES,
    _INT_TYPES,
    UUID,
    PGDialect,
    PGExecutionContext,
    _ColonCast,
)
from sqlalchemy.dialects.postgresql.json import JSON, JSONB


class _PGNumeric(sqltypes.Numeric):
    def bind_processor(self, dialect):
        return None  # Decimal and float are sent as numeric and float8 as they are

    def result_processor(self, dialect, coltype):
        if self.asdecimal:
            if coltype in _FLOAT_TYPES:
                return processors.to_decimal_processor_factory(decimal.Decimal, self._effective_decimal_return_scale)
            if coltype in _DECIMAL_TYPES or coltype in _INT_TYPES:
                return None  # the driver returns Decimal for numeric
            raise exc.InvalidRequestError("Unknown PG numeric type: %d" % coltype)
        if coltype in _FLOAT_TYPES:
            return None
        if coltype in _DECIMAL_TYPES or coltype in _INT_TYPES:
            return processors.to_float
        raise exc.InvalidRequestError("Unknown PG numeric type: %d" % coltype)


class _PGFloat(_PGNumeric, sqltypes.Float):
    pass


class _PGJSON(JSON):
    def result_processor(self, dialect, coltype):
        return None  # decoded by the driver (with the engine's json_deserializer)


class _PGJSONB(JSONB):
    def result_processor(self, dialect, coltype):
        return None


class _PGUUID(UUID):
    def bind_processor(self, dialect):
        if not self.as_uuid:

            def process(value):
                return _python_UUID(value) if value is not None else None

            return process
        return None

    def result_processor(self, dialect, coltype):
        if not self.as_uuid:

            def process(value):
                return str(value) if value is not None else None

            return process
        return None


class _PGARRAY(PGARRAY):
    # "%s::TYPE[]": the driver types a list of str as unknown and a list of ints as
    # int4[]/int8[]; the cast makes every array bind match its column (enum[], uuid[]...).
    def bind_expression(self, bindvalue):
        return _ColonCast(bindvalue, self)


_server_side_id = util.counter()


class PGExecutionContext_greenwasm(PGExecutionContext):
    def create_server_side_cursor(self):
        ident = "c_%s_%s" % (hex(id(self))[2:], hex(_server_side_id())[2:])
        return self._dbapi_connection.cursor(ident)


class PGDialect_greenwasm(PGDialect):
    driver = "greenwasm"
    supports_statement_cache = True
    supports_unicode_statements = True
    supports_unicode_binds = True
    default_paramstyle = "format"
    supports_sane_multi_rowcount = True
    # executemany() of INSERT ... RETURNING returns every row (one pipelined round trip),
    # so the ORM inserts many objects with server-generated keys in one batch.
    insert_executemany_returning = True
    supports_server_side_cursors = True
    execution_ctx_cls = PGExecutionContext_greenwasm
    description_encoding = None

    colspecs = util.update_copy(
        PGDialect.colspecs,
        {
            sqltypes.Numeric: _PGNumeric,
            sqltypes.Float: _PGFloat,
            sqltypes.JSON: _PGJSON,
            JSONB: _PGJSONB,
            UUID: _PGUUID,
            sqltypes.ARRAY: _PGARRAY,
        },
    )

    @classmethod
    def dbapi(cls):
        import greenwasm.pg

        return greenwasm.pg

    def create_connect_args(self, url):
        opts = url.translate_connect_args(username="user", database="dbname")
        if "port" in opts:
            opts["port"] = int(opts["port"])
        opts.update(url.query)
        return [], opts

    def is_disconnect(self, e, connection, cursor):
        if getattr(e, "connection_lost", False):
            return True
        if isinstance(e, self.dbapi.InterfaceError) and "connection already closed" in str(e):
            return True
        raw = getattr(connection, "dbapi_connection", connection)
        return bool(getattr(raw, "closed", False))

    def _raw(self, connection):
        return getattr(connection, "dbapi_connection", connection)

    def set_isolation_level(self, connection, level):
        raw = self._raw(connection)
        level = level.replace("_", " ")
        if level == "AUTOCOMMIT":
            raw.autocommit = True
            return
        if level not in self._isolation_lookup:
            raise exc.ArgumentError(
                "Invalid value '%s' for isolation_level. Valid isolation levels for %s are %s or AUTOCOMMIT"
                % (level, self.name, ", ".join(sorted(self._isolation_lookup)))
            )
        raw.autocommit = False
        self._session_characteristic(raw, "ISOLATION LEVEL %s" % level)

    def _session_characteristic(self, raw, clause):
        cursor = raw.cursor()
        try:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION " + clause)
            if not raw.autocommit:
                cursor.execute("COMMIT")
        finally:
            cursor.close()

    def _show(self, connection, name):
        cursor = connection.cursor()
        try:
            cursor.execute("SHOW " + name)
            return cursor.fetchone()[0]
        finally:
            cursor.close()

    def set_readonly(self, connection, value):
        self._session_characteristic(self._raw(connection), "READ ONLY" if value else "READ WRITE")

    def get_readonly(self, connection):
        return self._show(connection, "transaction_read_only") == "on"

    def set_deferrable(self, connection, value):
        self._session_characteristic(self._raw(connection), "DEFERRABLE" if value else "NOT DEFERRABLE")

    def get_deferrable(self, connection):
        return self._show(connection, "transaction_deferrable") == "on"

    def on_connect(self):
        fns = []
        if self._json_deserializer:
            loads = self._json_deserializer
            fns.append(lambda conn: self._raw(conn).set_json_loads(loads))
        if self.isolation_level is not None:
            fns.append(lambda conn: self.set_isolation_level(conn, self.isolation_level))
        if not fns:
            return None

        def on_connect(conn):
            for fn in fns:
                fn(conn)

        return on_connect


dialect = PGDialect_greenwasm

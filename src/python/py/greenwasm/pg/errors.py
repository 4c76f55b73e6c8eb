"""DB-API 2.0 exception hierarchy and the SQLSTATE → exception mapping.

A server error carries its fields from the ErrorResponse message: ``sqlstate``
(also ``pgcode``, psycopg2's name), ``severity``, ``message`` (also
``pgerror``), ``detail``, ``hint``, ``position``, ``schema_name``,
``table_name``, ``column_name``, ``constraint_name``. Errors raised by the
client itself (broken socket, timeout, protocol violation) have
``sqlstate = None``; ``connection_lost`` is true when the connection can no
longer be used (SQLAlchemy's dialect reads it to invalidate the pool).
"""


class Warning(Exception):  # noqa: A001 - DB-API name
    pass


class Error(Exception):
    sqlstate = None
    severity = None
    detail = None
    hint = None
    position = None
    schema_name = None
    table_name = None
    column_name = None
    constraint_name = None
    connection_lost = False

    @property
    def pgcode(self):
        return self.sqlstate

    @property
    def pgerror(self):
        return str(self)


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


class TransactionRollbackError(OperationalError):
    """Serialization failure or deadlock (SQLSTATE class 40): retry the transaction."""


class QueryCanceledError(OperationalError):
    """Statement timeout or cancel request (SQLSTATE 57014)."""


# SQLSTATE class (first two characters) → exception; the same split as psycopg2.
_BY_CLASS = {
    "02": DatabaseError,
    "08": OperationalError,
    "0A": NotSupportedError,
    "20": ProgrammingError,
    "21": ProgrammingError,
    "22": DataError,
    "23": IntegrityError,
    "24": InternalError,
    "25": InternalError,
    "26": OperationalError,
    "27": OperationalError,
    "28": OperationalError,
    "2B": InternalError,
    "2D": InternalError,
    "2F": InternalError,
    "34": OperationalError,
    "38": InternalError,
    "39": InternalError,
    "3B": InternalError,
    "3D": ProgrammingError,
    "3F": ProgrammingError,
    "40": TransactionRollbackError,
    "42": ProgrammingError,
    "44": ProgrammingError,
    "53": OperationalError,
    "54": OperationalError,
    "55": OperationalError,
    "57": OperationalError,
    "58": OperationalError,
    "F0": OperationalError,
    "HV": OperationalError,
    "P0": InternalError,
    "XX": InternalError,
}

# SQLSTATEs after which the server closes the session.
_FATAL_DISCONNECT = {"57P01", "57P02", "57P03", "57P05"}

_FIELDS = {
    "S": "severity",
    "C": "sqlstate",
    "D": "detail",
    "H": "hint",
    "P": "position",
    "s": "schema_name",
    "t": "table_name",
    "c": "column_name",
    "n": "constraint_name",
}


def server_error(fields, connecting=False):
    """Build the exception for an ErrorResponse's fields ({code char: str}).

    While connecting every server error is an OperationalError (as with libpq:
    bad password, unknown database, too many connections...).
    """
    code = fields.get("C", "")
    if connecting:
        cls = OperationalError
    elif code == "57014":
        cls = QueryCanceledError
    else:
        cls = _BY_CLASS.get(code[:2], DatabaseError)
    msg = fields.get("M", "unknown server error")
    text = "%s:  %s" % (fields.get("V", fields.get("S", "ERROR")), msg)
    if "D" in fields:
        text += "\nDETAIL:  " + fields["D"]
    if "H" in fields:
        text += "\nHINT:  " + fields["H"]
    err = cls(text)
    err.message = msg
    for key, attr in _FIELDS.items():
        if key in fields:
            setattr(err, attr, fields[key])
    severity = fields.get("V", fields.get("S"))
    err.connection_lost = connecting or severity in ("FATAL", "PANIC") or code in _FATAL_DISCONNECT or code.startswith("08")
    return err


def lost(message, cause=None):
    """An OperationalError for a connection that can no longer be used."""
    err = OperationalError(message if cause is None else "%s: %s" % (message, cause))
    err.connection_lost = True
    return err

"""Connection parameters: libpq-style keyword strings, postgresql:// URLs,
keyword arguments and libpq's environment variables (PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGCONNECT_TIMEOUT,
PGAPPNAME, PGOPTIONS), in increasing order of precedence: environment, dsn,
keyword arguments."""
import getpass
import os
import re
import sys
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import InterfaceError, ProgrammingError

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

# keyword → (environment variable, converter)
_KEYS = {
    "host": ("PGHOST", str),
    "port": ("PGPORT", int),
    "user": ("PGUSER", str),
    "password": ("PGPASSWORD", str),
    "dbname": ("PGDATABASE", str),
    "sslmode": ("PGSSLMODE", str),
    "sslrootcert": ("PGSSLROOTCERT", str),
    "sslcert": ("PGSSLCERT", str),
    "sslkey": ("PGSSLKEY", str),
    "connect_timeout": ("PGCONNECT_TIMEOUT", float),
    "application_name": ("PGAPPNAME", str),
    "options": ("PGOPTIONS", str),
    # greenwasm's own (no libpq equivalent)
    "timeout": (None, float),
    "statement_cache_size": (None, int),
    "ssl_context": (None, None),
}
_ALIASES = {"database": "dbname", "username": "user"}
# libpq keywords accepted and ignored (they tune things this driver does not have).
_IGNORED = {"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
            "target_session_attrs", "gssencmode", "channel_binding", "fallback_application_name"}


class Params:
    """Resolved parameters; every field has its default filled in."""

    host = "localhost"
    port = 5432
    user = None
    password = None
    dbname = None
    sslmode = "prefer"
    sslrootcert = None
    sslcert = None
    sslkey = None
    ssl_context = None
    connect_timeout = None
    application_name = None
    options = None
    # Socket timeout (seconds) for every operation after connecting; None blocks forever.
    timeout = None
    # Prepared statements kept per connection (LRU); 0 uses unnamed statements only.
    statement_cache_size = 128
    client_encoding = "UTF8"

    def __repr__(self):
        shown = {k: v for k, v in vars(self).items() if k != "password"}
        return "Params(%r)" % shown


def _parse_keyword_dsn(dsn):
    out = {}
    pos = 0
    pattern = re.compile(r"\s*(\w+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))")
    dsn = dsn.strip()
    while pos < len(dsn):
        m = pattern.match(dsn, pos)
        if not m:
            raise ProgrammingError("invalid dsn: %r" % dsn)
        key, quoted, plain = m.groups()
        out[key] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain
        pos = m.end()
        while pos < len(dsn) and dsn[pos].isspace():
            pos += 1
    return out


def _parse_url(dsn):
    u = urlsplit(dsn)
    out = {}
    netloc = u.netloc
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        user, _, password = auth.partition(":")
        if user:
            out["user"] = unquote(user)
        if password:
            out["password"] = unquote(password)
    if netloc:
        if netloc.startswith("["):
            host, _, rest = netloc[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        else:
            host, _, port = netloc.partition(":")
        if host:
            out["host"] = unquote(host)
        if port:
            out["port"] = port
    if u.path and u.path != "/":
        out["dbname"] = unquote(u.path[1:])
    out.update(parse_qsl(u.query))
    return out


def resolve(dsn=None, **kwargs):
    given = {}
    if dsn:
        if re.match(r"^postgres(ql)?://", dsn):
            given.update(_parse_url(dsn))
        else:
            given.update(_parse_keyword_dsn(dsn))
    given.update({k: v for k, v in kwargs.items() if v is not None})
    given = {_ALIASES.get(k, k): v for k, v in given.items()}
    p = Params()
    for key, value in given.items():
        raw_key = key
        if key in _IGNORED:
            continue
        if key == "client_encoding":
            if str(value).replace("-", "").upper() not in ("UTF8", "UNICODE"):
                raise ProgrammingError("only client_encoding UTF8 is supported, not %r" % value)
            continue
        if key not in _KEYS:
            raise ProgrammingError("invalid connection option %r" % raw_key)
        conv = _KEYS[key][1]
        try:
            setattr(p, key, conv(value) if conv and value is not None else value)
        except (TypeError, ValueError):
            raise ProgrammingError("invalid value for connection option %r: %r" % (raw_key, value)) from None
    for key, (env, conv) in _KEYS.items():
        if env and key not in given and os.environ.get(env):
            try:
                setattr(p, key, conv(os.environ[env]))
            except ValueError:
                raise ProgrammingError("invalid value in %s: %r" % (env, os.environ[env])) from None
    if p.user is None:
        try:
            p.user = getpass.getuser()
        except Exception:
            raise InterfaceError("no user name given and none found in the environment") from None
    if p.dbname is None:
        p.dbname = p.user
    if p.sslmode not in SSLMODES:
        raise ProgrammingError("invalid sslmode %r (one of %s)" % (p.sslmode, ", ".join(SSLMODES)))
    if p.connect_timeout is not None and p.connect_timeout <= 0:
        p.connect_timeout = None  # libpq: 0 means wait forever
    return p


# Pyodide's ssl module is a stub. greenwasm (greenwasm._net, installed at boot) runs its
# handshake in Node's TLS; plain Pyodide has no TLS at all.
TLS_AVAILABLE = sys.platform != "emscripten" or "greenwasm._net" in sys.modules

"""Password authentication: SCRAM-SHA-256 (RFC 5802/7677) and md5.

Only the SCRAM-SHA-256 mechanism is offered (no channel binding, "n,,"
header), which every server that supports SCRAM accepts unless the client
asks for -PLUS. The password is used as given (no SASLprep: PostgreSQL falls
back to the raw bytes for passwords that are not valid under it, and ASCII
passwords are unaffected).
"""
import base64
import hashlib
import hmac
import os

from .errors import InterfaceError, OperationalError

MECHANISM = "SCRAM-SHA-256"


def md5_password(user, password, salt):
    """The md5 response: 'md5' + md5(md5(password + user) + salt)."""
    inner = hashlib.md5(password.encode() + user.encode()).hexdigest().encode()
    return b"md5" + hashlib.md5(inner + salt).hexdigest().encode()


def _pbkdf2_sha256(password, salt, iterations):
    if hasattr(hashlib, "pbkdf2_hmac"):
        return hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
    # Pyodide's hashlib has no OpenSSL, hence no pbkdf2_hmac: one block of PBKDF2-HMAC-SHA256
    # (dkLen = 32) on hmac.digest, one C call per iteration (CPython >= 3.14's builtin HACL*
    # HMAC; about 2x faster than copying keyed hash states).
    digest = hmac.digest
    u = digest(password, salt + b"\0\0\0\1", "sha256")
    acc = int.from_bytes(u, "big")
    for _ in range(iterations - 1):
        u = digest(password, u, "sha256")
        acc ^= int.from_bytes(u, "big")
    return acc.to_bytes(32, "big")


def _hmac(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


class ScramClient:
    """One SCRAM-SHA-256 exchange: first() → final(server_first) → verify(server_final)."""

    def __init__(self, password):
        self._password = password.encode("utf-8")
        self._nonce = base64.b64encode(os.urandom(18)).decode("ascii")
        self._client_first_bare = "n=,r=" + self._nonce
        self._server_signature = None
        self.verified = False

    def first(self):
        return ("n,," + self._client_first_bare).encode("ascii")

    def final(self, server_first):
        text = server_first.decode("utf-8")
        attrs = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
        nonce, salt, iterations = attrs.get("r", ""), attrs.get("s"), attrs.get("i")
        if not nonce.startswith(self._nonce) or salt is None or iterations is None:
            raise InterfaceError("malformed SCRAM server-first message: %r" % text)
        salted = _pbkdf2_sha256(self._password, base64.b64decode(salt), int(iterations))
        client_key = _hmac(salted, b"Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + nonce
        auth_message = ",".join((self._client_first_bare, text, without_proof)).encode("utf-8")
        signature = _hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self._server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        return (without_proof + ",p=" + base64.b64encode(proof).decode("ascii")).encode("ascii")

    def verify(self, server_final):
        text = server_final.decode("utf-8")
        attrs = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
        if "e" in attrs:
            raise OperationalError("SCRAM authentication failed: " + attrs["e"])
        got = base64.b64decode(attrs.get("v", ""))
        if self._server_signature is None or not hmac.compare_digest(got, self._server_signature):
            raise InterfaceError("SCRAM: the server's signature does not match (not the server we talked to?)")
        self.verified = True

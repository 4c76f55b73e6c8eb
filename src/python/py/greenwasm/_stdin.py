"""sys.stdin backed by a JS pull function (see src/python/stdio.ts for the contract).

A read with no buffered data suspends the whole wasm stack with run_sync until
the host delivers a chunk, EOF, or an interrupt; it never spins.
"""

import io
import sys

from pyodide.ffi import can_run_sync, run_sync

_SIGINT = 2


class StdinRaw(io.RawIOBase):
    def __init__(self, pull):
        super().__init__()
        self._pull = pull
        self._pending = b""
        self._eof = False

    def readable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return 0

    def readinto(self, buffer):
        if not self._pending:
            if self._eof:
                return 0
            if not can_run_sync():
                raise OSError(
                    "greenwasm: sys.stdin cannot wait here (not inside a greenwasm run; "
                    "blocking reads need a JSPI promising entry)"
                )
            result = run_sync(self._pull())
            if result is None:
                self._eof = True
                return 0
            if isinstance(result, int):
                if result == _SIGINT:
                    raise KeyboardInterrupt
                raise OSError(f"greenwasm: unexpected stdin result {result!r}")
            self._pending = result.to_bytes()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def install(pull):
    """Replace sys.stdin (and sys.__stdin__) with a blocking reader over `pull`."""
    raw = StdinRaw(pull)
    stream = io.TextIOWrapper(
        io.BufferedReader(raw), encoding="utf-8", errors="strict", line_buffering=False
    )
    stream.mode = "r"
    sys.stdin = stream
    sys.__stdin__ = stream

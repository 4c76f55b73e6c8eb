"""The slice of psutil greenlet's test_leaks uses, for greenwasm.

psutil is a native extension with no WebAssembly build. greenlet's memory
tests ask for the process's unique set size (`Process().memory_full_info().uss`):
the memory that would be freed if the process exited. For an interpreter on
WebAssembly that is its linear memory, which holds every allocation (Python
objects, greenlet C stacks, thread states). Linear memory never shrinks, so the
tests' question "does memory stop growing?" is answered exactly.

Needs the runtime option `allowJs: true` (reads the memory size through
`pyodide_js`). Anything else of psutil raises AttributeError.
"""
import collections

__all__ = ["Process"]

_pfullmem = collections.namedtuple("pfullmem", ["rss", "vms", "uss"])


def _linear_memory_bytes():
    import pyodide_js
    return int(pyodide_js._module.HEAPU8.length)


class Process:
    def __init__(self, pid=None):
        if pid is not None:
            raise NotImplementedError("greenwasm's psutil shim knows only the current process")

    def memory_full_info(self):
        n = _linear_memory_bytes()
        return _pfullmem(n, n, n)


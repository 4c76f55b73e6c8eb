"""greenlet's API for greenwasm: stackful coroutines on WebAssembly JSPI stacks."""
from ._greenlet import (  # noqa: F401
    greenlet, getcurrent, GreenletExit, error, settrace, gettrace,
)

__version__ = "3.2.4"
_C_API = None
GREENLET_USE_GC = True
GREENLET_USE_TRACING = True
GREENLET_USE_CONTEXT_VARS = True
GREENLET_USE_STANDARD_THREADING = True

"""`greenwasm.run_sync` and a `time.sleep` that suspends only its own stack.

Both block through `_greenwasm_io` (see greenwasm._green_thread for the
contract): the calling stack suspends, the JS event loop and other stacks keep
running.
"""

import _greenwasm_io as _io

from greenwasm import _green_thread as _green

_await_js = _io.await_js


def run_sync(awaitable):
    """Wait for a JS promise (thenable), a coroutine or an asyncio future; return its result.

    A JS rejection raises (as `pyodide.ffi.JsException` unless it carries a
    Python error); a coroutine runs as a task on the runtime's event loop while
    this stack waits. Raises RuntimeError where the stack cannot suspend.
    """
    # await_js suspends on a JsProxy's value; anything else comes back as NotImplemented.
    result = _await_js(awaitable)
    if result is not NotImplemented:
        return result
    import asyncio

    if asyncio.isfuture(awaitable):
        future, owned = awaitable, False
    else:
        future, owned = asyncio.ensure_future(awaitable), True
    if not future.done():
        wid = _io.waiter()
        future.add_done_callback(lambda _f: _io.wake(wid, 0))
        try:
            _green._block(wid, -1.0)
        except BaseException:
            if owned:
                future.cancel()
            raise
    return future.result()


def install_sleep():
    import time
    from functools import wraps

    blocking_sleep = time.sleep

    @wraps(blocking_sleep)
    def sleep(seconds):
        seconds = float(seconds)
        if seconds != seconds:
            raise ValueError("Invalid value NaN (not a number)")
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        if not _io.can_block():
            return blocking_sleep(seconds)
        _green._block(_io.waiter(), seconds)

    time.sleep = sleep

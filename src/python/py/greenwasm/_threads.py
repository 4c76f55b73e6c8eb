"""Install green threads (greenwasm._green_thread) in place of `_thread`.

`threading`, `asyncio`, `logging`, `concurrent.futures` and importlib are
already imported when the runtime boots, so the real `_thread` module is
patched in place, `threading`'s copies of its names are re-pointed, and
module-level locks created before the patch (unlocked ones) are replaced by
green locks. Code that looks names up at call time (importlib's module locks,
`threading.RLock()`, `queue`, `concurrent.futures`) then blocks cooperatively.
`queue.SimpleQueue` (C, blocks the whole interpreter) becomes the Python one.
"""

import sys

from greenwasm import _green_thread as green

_EXPORTS = (
    "LockType", "lock", "allocate_lock", "allocate", "get_ident", "get_native_id",
    "_get_main_thread_ident", "_is_main_interpreter", "_ThreadHandle", "_make_thread_handle",
    "start_joinable_thread", "start_new_thread", "start_new", "daemon_threads_allowed", "_count",
    "_shutdown", "stack_size", "exit", "exit_thread", "set_name", "TIMEOUT_MAX", "error",
)


def install():
    import _thread
    import threading

    old_lock = type(_thread.allocate_lock())
    old_rlock = _thread.RLock
    for name in _EXPORTS:
        setattr(_thread, name, getattr(green, name))
    _thread.RLock = threading._PyRLock

    t = threading
    t._start_joinable_thread = green.start_joinable_thread
    t._allocate_lock = green.allocate_lock
    t._LockType = t.Lock = green.LockType
    t._thread_shutdown = green._shutdown
    t._make_thread_handle = green._make_thread_handle
    t._ThreadHandle = green._ThreadHandle
    t.get_ident = green.get_ident
    t.get_native_id = green.get_native_id
    t._get_main_thread_ident = green._get_main_thread_ident
    t._CRLock = None
    t.ThreadError = green.error
    t.stack_size = green.stack_size
    t._set_name = None
    t._active_limbo_lock = t._PyRLock()

    _patch_webloop()

    # C-level blocking primitives would block the whole runtime: use the Python ones.
    import queue

    queue.SimpleQueue = queue._PySimpleQueue

    for module in list(sys.modules.values()):
        try:
            names = vars(module)
        except TypeError:
            continue
        for name, value in list(names.items()):
            kind = type(value)
            if kind is old_lock and not value.locked():
                names[name] = green.LockType()
            elif kind is old_rlock and not value._is_owned():
                names[name] = threading._PyRLock()


def _patch_webloop():
    """Pyodide's loop runs executor jobs inline (it had no threads); give it a real default executor."""
    from pyodide.webloop import WebLoop

    def run_in_executor(self, executor, func, *args):
        import asyncio

        if executor is None:
            executor = getattr(self, "_greenwasm_executor", None)
            if executor is None:
                from concurrent.futures import ThreadPoolExecutor

                executor = ThreadPoolExecutor(thread_name_prefix="asyncio")
                self._greenwasm_executor = executor
        return asyncio.wrap_future(executor.submit(func, *args), loop=self)

    def set_default_executor(self, executor):
        from concurrent.futures import ThreadPoolExecutor

        if not isinstance(executor, ThreadPoolExecutor):
            raise TypeError("executor must be ThreadPoolExecutor")
        self._greenwasm_executor = executor

    async def shutdown_default_executor(self, timeout=None):
        executor = getattr(self, "_greenwasm_executor", None)
        if executor is None:
            return
        self._greenwasm_executor = None
        import asyncio
        import threading

        done = self.create_future()

        def shutdown():
            try:
                executor.shutdown(wait=True)
            finally:
                self.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

        threading.Thread(target=shutdown, daemon=True).start()
        await asyncio.wait_for(asyncio.shield(done), timeout)

    WebLoop.run_in_executor = run_in_executor
    WebLoop.set_default_executor = set_default_executor
    WebLoop.shutdown_default_executor = shutdown_default_executor


def end_of_run():
    """What the interpreter does at exit for threads, without shutting threading down.

    Runs the `threading._register_atexit` callbacks (concurrent.futures' stops
    idle executor workers), waits for non-daemon threads, then re-arms
    concurrent.futures and drops the event loop's default executor, so that
    the next run in this runtime can start threads and executors again.
    """
    import threading

    calls = list(reversed(threading._threading_atexits))
    threading._threading_atexits.clear()
    try:
        for call in calls:
            call()
        green._shutdown()
    finally:
        cf = sys.modules.get("concurrent.futures.thread")
        if cf is not None:
            cf._shutdown = False
            threading._register_atexit(cf._python_exit)
        try:
            import asyncio

            asyncio.get_event_loop()._greenwasm_executor = None
        except Exception:
            pass

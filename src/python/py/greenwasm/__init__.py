"""Guest-side support code for greenwasm (installed into site-packages at boot).

Public API: `run_sync(awaitable)` waits for a JS promise, a coroutine or an
asyncio future from synchronous code (see greenwasm._sync).
"""


def __getattr__(name):
    if name == "run_sync":
        from greenwasm._sync import run_sync

        return run_sync
    raise AttributeError(f"module 'greenwasm' has no attribute {name!r}")

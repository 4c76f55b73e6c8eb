"""Green threads: a drop-in `_thread` whose threads are cooperative stacks.

Contract with src/python/io (module `_greenwasm_io`):
- `waiter()` -> id; `wake(id, value)` -> bool (False if already settled);
  `wait(id, timeout, interruptible)` suspends this stack until the record
  settles and returns the wake value (>= 0), TIMED_OUT (-1) or INTERRUPTED (-2),
  or drops the record and raises RuntimeError where this stack cannot suspend;
  `drop(id)` forgets a record nobody will wait on; `can_block()` says whether
  this stack may suspend.
- `start_thread(fn, stack_size)` runs `fn()` on a new stack with its own thread
  state (its own `threading.local` data, no running asyncio loop), started from
  the event loop; it returns that thread's token, the value `_greenwasm_greenlet.
  thread()` reports inside it.

Threads never preempt each other: one runs until it blocks (a lock, an event,
sleep, socket I/O, join, input) or ends. A thread that never blocks keeps every
other thread (and the JS event loop) waiting until it does.
"""

import _thread as _real_thread
from collections import deque as _deque

import _greenwasm_greenlet as _gw
import _greenwasm_io as _io

TIMEOUT_MAX = float(2**31 // 1000)
TIMED_OUT = -1
INTERRUPTED = -2
error = RuntimeError

_MAIN_IDENT = _real_thread.get_ident()
_thread_token = _gw.thread
_waiter = _io.waiter
_wake = _io.wake
_wait_raw = _io.wait
_threads = {}  # token -> _ThreadHandle of a live green thread
_stack_size = 0
_DEFAULT_STACK = 256 * 1024
_MIN_STACK = 32 * 1024


def get_ident():
    handle = _threads.get(_thread_token())
    return _MAIN_IDENT if handle is None else handle.ident


get_native_id = get_ident


def _get_main_thread_ident():
    return _MAIN_IDENT


def _is_main():
    return _thread_token() not in _threads


def _block(wid, timeout):
    """Suspend on waiter `wid`; the main thread's waits are interruptible (Ctrl-C).

    Where the stack cannot suspend, `wait` drops the waiter and raises RuntimeError.
    """
    r = _wait_raw(wid, timeout, _thread_token() not in _threads)
    if r == INTERRUPTED:
        raise KeyboardInterrupt
    return r


def _check_timeout(blocking, timeout):
    if timeout == -1:
        return -1.0 if blocking else 0.0
    if not blocking:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0:
        raise ValueError("timeout value must be a non-negative number")
    if timeout > TIMEOUT_MAX:
        raise OverflowError("timeout value is too large")
    return float(timeout)


class LockType:
    """A non-reentrant lock; a blocked acquire suspends only the calling stack.

    Release hands the lock directly to the longest waiter (FIFO), so a thread
    that re-acquires in a loop cannot starve the others.
    """

    __slots__ = ("_locked", "_waiters", "__weakref__")

    def __init__(self):
        self._locked = False
        self._waiters = None

    def acquire(self, blocking=True, timeout=-1):
        if not self._locked:
            if timeout != -1:
                _check_timeout(blocking, timeout)
            self._locked = True
            return True
        timeout = _check_timeout(blocking, timeout)
        if timeout == 0.0:
            return False
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = _deque()
        wid = _waiter()
        waiters.append(wid)
        try:
            r = _block(wid, timeout)
        except BaseException:
            self._abandon(wid)
            raise
        if r >= 0:
            return True  # ownership was handed over by release()
        self._abandon(wid)
        return False

    def _abandon(self, wid):
        try:
            self._waiters.remove(wid)
        except ValueError:
            # release() already handed us the lock as we gave up: pass it on.
            if not _wake(wid, 0):
                self.release()

    acquire_lock = acquire

    def __enter__(self):
        return self.acquire()

    def release(self):
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        waiters = self._waiters
        while waiters:
            if _wake(waiters.popleft(), 0):
                return  # still locked, now owned by that waiter
        self._locked = False

    release_lock = release

    def __exit__(self, *exc):
        self.release()

    def locked(self):
        return self._locked

    locked_lock = locked

    def _at_fork_reinit(self):
        self._locked = False
        self._waiters = None

    def __repr__(self):
        state = "locked" if self._locked else "unlocked"
        return f"<{state} greenwasm lock object at {id(self):#x}>"


lock = LockType


def allocate_lock():
    return LockType()


allocate = allocate_lock


class _ThreadHandle:
    __slots__ = ("_ident", "_done", "_joiners", "_daemon", "__weakref__")

    def __init__(self, ident=None):
        self._ident = ident
        self._done = False
        self._joiners = []
        self._daemon = True

    @property
    def ident(self):
        return self._ident

    def is_done(self):
        return self._done

    def _set_done(self):
        if self._done:
            return
        self._done = True
        joiners, self._joiners = self._joiners, []
        for wid in joiners:
            _wake(wid, 0)

    def join(self, timeout=None):
        if self._done:
            return
        if self._ident is not None and self._ident == get_ident():
            raise RuntimeError("Cannot join current thread")
        t = -1.0 if timeout is None else max(float(timeout), 0.0)
        if t == 0.0:
            return
        wid = _waiter()
        self._joiners.append(wid)
        try:
            _block(wid, t)
        finally:
            if wid in self._joiners:
                self._joiners.remove(wid)
                _io.drop(wid)

    def __repr__(self):
        return f"<_ThreadHandle object: ident={self._ident}>"


def _make_thread_handle(ident):
    return _ThreadHandle(ident)


def _thread_body(handle, function):
    try:
        function()
    except SystemExit:
        pass
    except BaseException as exc:
        _report(exc, function)
    finally:
        _threads.pop(handle._ident, None)
        handle._set_done()


def _report(exc, function):
    import sys

    try:
        sys.unraisablehook(_UnraisableArgs(exc, f"Exception ignored in thread started by {function!r}"))
    except BaseException:
        pass


class _UnraisableArgs:
    def __init__(self, exc, msg):
        self.exc_type, self.exc_value, self.exc_traceback = type(exc), exc, exc.__traceback__
        self.err_msg = msg
        self.object = None


def start_joinable_thread(function, handle=None, daemon=True):
    if handle is None:
        handle = _ThreadHandle()
    elif handle._ident is not None or handle._done:
        raise RuntimeError("thread already started")
    handle._daemon = bool(daemon)
    token = _io.start_thread(lambda: _thread_body(handle, function), _stack_size or _DEFAULT_STACK)
    handle._ident = token
    _threads[token] = handle
    return handle


def start_new_thread(function, args, kwargs=None):
    if not callable(function):
        raise TypeError("first arg must be callable")
    if not isinstance(args, tuple):
        raise TypeError("2nd arg must be a tuple")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError("optional 3rd arg must be a dictionary")
    return start_joinable_thread(lambda: function(*args, **(kwargs or {})), daemon=True).ident


start_new = start_new_thread


def daemon_threads_allowed():
    return True


def _count():
    return len(_threads)


def _shutdown():
    """Wait for every running non-daemon thread (as the interpreter does at exit)."""
    while True:
        pending = [h for h in _threads.values() if not h._daemon]
        if not pending:
            return
        for h in pending:
            h.join()


def stack_size(size=0):
    """Get or set the C stack size of threads started later (0: greenwasm's default)."""
    global _stack_size
    old = _stack_size
    if size != 0:
        if size < _MIN_STACK:
            raise ValueError(f"size not valid: {size} bytes (minimum {_MIN_STACK})")
        _stack_size = size
    else:
        _stack_size = 0
    return old


def exit():
    raise SystemExit


exit_thread = exit


def interrupt_main(signum=2):
    return _real_thread.interrupt_main(signum)


def set_name(name):
    return None


def _is_main_interpreter():
    return True

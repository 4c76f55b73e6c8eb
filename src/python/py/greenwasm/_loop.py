"""A batched asyncio event loop for hosts that drive Python from JS (src/server).

Pyodide's WebLoop hands every `call_soon` to JS as its own callback and
promising entry (~30-40 µs per asyncio step). This loop keeps ready handles
and timers in Python and asks the host for one *pump* per batch.

Contract with the host (`hooks`, JS functions):
- `hooks.wake()`: schedule one call of `loop.pump()` as a promising entry,
  soon (a macrotask). Called at most once until that pump starts.
- `hooks.unwake()`: the requested pump is no longer needed (cancel it if it
  has not started; a pump that runs anyway finds nothing to do).
- `hooks.timer(ms)`: schedule a pump in `ms` milliseconds, replacing the
  previous timer; a negative value cancels it.

Invariants:
- `_wake_pending` is True exactly while a pump requested through `wake()` has
  not started. `pump()` clears it first, so work added during a pump asks for
  the next one; a pump that ends with nothing ready withdraws that request.
- Several pumps may be in flight: one whose handle suspends (JSPI: blocking
  `time.sleep`, `run_sync`) holds up only that handle, the next pump drains the
  rest. Each handle runs exactly once: handles are popped before they run.
- Every pump runs on its own thread state, so it installs this loop as the
  running loop (asyncio keeps the current task per thread state).
"""

import asyncio
import heapq
import math
import sys
from asyncio import events
from collections import deque

from pyodide.webloop import WebLoop

_MAX_TIMEOUT_MS = 2**31 - 1


class ServerLoop(WebLoop):
    def __init__(self, hooks):
        super().__init__()
        self._ready = deque()
        self._timers = []
        self._wake = hooks.wake
        self._unwake = hooks.unwake
        self._timer = hooks.timer
        self._wake_pending = False
        self._timer_at = math.inf
        self._interrupted = None

    # ---- scheduling -------------------------------------------------------

    def call_soon(self, callback, *args, context=None):
        h = events.Handle(callback, args, self, context)
        self._ready.append(h)
        if not self._wake_pending:
            self._wake_pending = True
            self._wake()
        return h

    def call_soon_threadsafe(self, callback, *args, context=None):
        return self.call_soon(callback, *args, context=context)

    def call_later(self, delay, callback, *args, context=None):
        if delay <= 0:
            return self.call_soon(callback, *args, context=context)
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def call_at(self, when, callback, *args, context=None):
        if when == math.inf:
            return events.TimerHandle(when, callback, args, self, context)
        h = events.TimerHandle(when, callback, args, self, context)
        h._scheduled = True
        heapq.heappush(self._timers, h)
        if when < self._timer_at:
            self._arm(when)
        return h

    def _timer_handle_cancelled(self, handle):
        pass  # removed lazily when due

    def _arm(self, when):
        self._timer_at = when
        ms = max(0.0, (when - self.time()) * 1000)
        self._timer(min(math.ceil(ms), _MAX_TIMEOUT_MS))

    def create_task(self, coro, *, name=None, context=None, eager_start=None):
        task = asyncio.Task(coro, loop=self, name=name, context=context)
        if task._source_traceback:
            del task._source_traceback[-1]
        return task

    def create_future(self):
        return asyncio.Future(loop=self)

    # ---- running ----------------------------------------------------------

    def enter(self):
        """Make this the running loop of the current thread state."""
        if events._get_running_loop() is not self:
            events._set_running_loop(self)
            self._install_asyncgen_hooks()

    def pump(self):
        """Run due timers and every ready handle (a promising entry from the host)."""
        self._wake_pending = False
        self.enter()
        ready = self._ready
        timers = self._timers
        if timers:
            now = self.time()
            while timers and timers[0]._when <= now:
                h = heapq.heappop(timers)
                h._scheduled = False
                ready.append(h)
            self._timer_at = math.inf
            while timers and timers[0]._cancelled:
                heapq.heappop(timers)._scheduled = False
            if timers:
                self._arm(timers[0]._when)
            else:
                self._timer(-1)
        while ready:
            h = ready.popleft()
            if h._cancelled:
                continue
            try:
                h._run()
            except KeyboardInterrupt as exc:
                # The host's watchdog interrupted a stuck handle; the host
                # decides what to do (answer 504, recycle the runtime).
                self._interrupted = exc
                self._on_interrupt()
            except SystemExit as exc:
                print(f"greenwasm: SystemExit({exc.code!r}) raised in the event loop, ignored", file=sys.stderr)
        if self._wake_pending and not ready:
            self._wake_pending = False
            self._unwake()

    def _on_interrupt(self):
        """Overridden by the server to report an interrupt to the host."""

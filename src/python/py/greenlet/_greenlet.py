"""greenlet on greenwasm.

Each greenlet runs on its own WebAssembly stack (JSPI), its own C-stack region
and its own PyThreadState; ``_greenwasm_greenlet`` (installed by the host, see
src/python/greenlet/host.ts) moves control between them. This module keeps
greenlet's semantics: value packing, parents, dead-ancestor fall-through,
GreenletExit, throw, tracing, contexts and kill-on-collect.

Host contract (greenlets are passed as objects):
  switch(target, payload, throwing) -> what is delivered to us  (suspends)
  spawn(g)          give not-yet-started greenlet g a stack in this thread
  current()         the running greenlet (a thread's main greenlet is made by _make_main)
  thread()          the current thread's token; set_slow(flag); can_switch()
  thread_alive(t)   whether greenlet thread `t` has not finished
  get_context(g) / set_context(g, ctx); get_frame(g); discard(g); stats()
greenlet.switch is replaced by a C-level method whose fast path (one
positional argument, a started greenlet of this thread, no tracer) never runs
Python; everything else comes to _switch_slow. A started greenlet's first
payload is (run, args, kwargs-or-None). When its run returns or raises, the
host calls _on_finish(outcome, raised) and goes where its (target, payload,
throwing) says. After a switch that left kills pending, the host calls
_kill_pending() on the resumed stack.

Internal state lives in slots read through their descriptors, so subclasses
that override __getattribute__ cannot disturb it (greenlet keeps it in C).
"""

import _thread
import contextvars as _contextvars
import sys as _sys
import types as _types
import weakref as _weakref

import _greenwasm_greenlet as _gw

__all__ = ["greenlet", "getcurrent", "GreenletExit", "error", "settrace", "gettrace"]

# The greenlet thread of the running code; runtime entries set it, asyncio tasks inherit it.
_THREAD = _contextvars.ContextVar("greenwasm_thread")


class error(Exception):
    pass


class GreenletExit(BaseException):
    pass


_UNSET = object()
_NEW, _ACTIVE, _DEAD = 0, 1, 2  # the host marks a finished thread's main greenlet _DEAD (host.ts markDead)
_trace = None
# Greenlets to kill when their thread next runs greenlet code, by thread token
# (greenlet's per-thread "deleteme" list): collected where they could not be
# killed at once (another thread, or a stack that cannot switch).
_pending_kill = {}
# Started greenlets' weak references: when one is freed (even after a kill that
# resurrected it, whose __del__ will not run again) the host forgets it.
_started = {}


_gc_running = False


def _forget(ref):
    addr = _started.pop(ref, None)
    if addr is None:
        return
    if _gc_running:
        # The cycle collector clears weakrefs (calling us) before it calls
        # finalizers, and __del__ may still kill this greenlet: forget it once
        # the collection is over, unless the kill finished it.
        _gw.forget_later(addr)
    else:
        _gw.forget(addr)


def _gc_phase(phase, info):
    global _gc_running
    _gc_running = phase == "start"
    if not _gc_running:
        _gw.forget_deferred()


import gc as _gc  # noqa: E402

_gc.callbacks.append(_gc_phase)


class _greenlet_state:
    __slots__ = ("_gr_state", "_gr_parent", "_gr_thread", "_gr_run", "_gr_context", "__dict__", "__weakref__")


_state_get = _greenlet_state._gr_state.__get__
_state_set = _greenlet_state._gr_state.__set__
_parent_get = _greenlet_state._gr_parent.__get__
_parent_set = _greenlet_state._gr_parent.__set__
_thread_get = _greenlet_state._gr_thread.__get__
_thread_set = _greenlet_state._gr_thread.__set__
_run_get = _greenlet_state._gr_run.__get__
_run_set = _greenlet_state._gr_run.__set__
# gr_context before start (to install) and after death (the last one it ran in).
_ctx_get = _greenlet_state._gr_context.__get__
_ctx_set = _greenlet_state._gr_context.__set__
_dict_descr = _greenlet_state.__dict__["__dict__"]


def _dict_get(self):
    return _dict_descr.__get__(self)


def _dict_set(self, value):
    if not isinstance(value, dict):
        raise TypeError("__dict__ must be set to a dictionary, not a '%s'" % type(value).__name__)
    _dict_descr.__set__(self, value)


def _dict_del(self):
    raise TypeError("cannot delete __dict__")


def _pack(args, kwargs):
    if kwargs:
        return (args, kwargs) if args else kwargs
    return args[0] if len(args) == 1 else args


def _raiser(exc):
    raise exc


class greenlet(_greenlet_state):
    """A micro-thread: greenlet(run=None, parent=None)."""

    __slots__ = ()
    __dict__ = property(_dict_get, _dict_set, _dict_del)

    getcurrent = staticmethod(lambda: getcurrent())
    GreenletExit = GreenletExit
    error = error

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        _state_set(self, _NEW)
        # greenlet's tp_new: parent defaults to the creator; getcurrent() first
        # kills the greenlets other threads freed for this one (trampoline.ts).
        current = getcurrent()
        _parent_set(self, current)
        _thread_set(self, _thread_get(current))
        _run_set(self, _UNSET)
        _ctx_set(self, None)
        return self

    def __init__(self, *args, **kwargs):
        names = ("run", "parent")
        if len(args) > 2:
            raise TypeError("greenlet() takes at most 2 positional arguments (%d given)" % len(args))
        given = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError("greenlet() got an unexpected keyword argument %r" % k)
            if k in given:
                raise TypeError("greenlet() got multiple values for argument %r" % k)
            given[k] = v
        if "run" in given:
            _set_run(self, given["run"])
        parent = given.get("parent")
        _set_parent(self, getcurrent() if parent is None else parent)

    # -- attributes ---------------------------------------------------------

    @property
    def run(self):
        run = _run_get(self)
        if _state_get(self) != _NEW or run is _UNSET:
            raise AttributeError("run")
        return run

    @run.setter
    def run(self, value):
        _set_run(self, value)

    @run.deleter
    def run(self):
        _set_run(self, _UNSET)

    @property
    def parent(self):
        return _parent_get(self)

    @parent.setter
    def parent(self, value):
        _set_parent(self, value)

    @parent.deleter
    def parent(self):
        raise AttributeError("can't delete attribute")

    @property
    def dead(self):
        return _state_get(self) == _DEAD

    def __bool__(self):
        return _state_get(self) == _ACTIVE

    @property
    def gr_frame(self):
        if _state_get(self) != _ACTIVE or self is getcurrent():
            return None
        f = _gw.get_frame(self)
        while f is not None and f.f_code.co_filename == __file__:
            f = f.f_back
        return f

    @property
    def gr_context(self):
        if _state_get(self) != _ACTIVE:
            return _ctx_get(self)
        if _thread_get(self) != _gw.thread() and _gw.is_running(self):
            raise ValueError("cannot get context of a greenlet that is running in a different thread")
        return _gw.get_context(self)

    @gr_context.setter
    def gr_context(self, value):
        if value is not None and not isinstance(value, _contextvars.Context):
            raise TypeError("greenlet context must be a contextvars.Context or None")
        if _state_get(self) != _ACTIVE:
            _ctx_set(self, value)  # not started yet, or dead: kept on the object, as greenlet does
            return
        if _thread_get(self) != _gw.thread() and _gw.is_running(self):
            raise ValueError("cannot set context of a greenlet that is running in a different thread")
        _gw.set_context(self, value)

    @gr_context.deleter
    def gr_context(self):
        raise AttributeError("can't delete context attribute")

    @property
    def _stack_saved(self):
        """Bytes of C stack this suspended greenlet holds (in its own region; nothing is copied)."""
        return _gw.stack_saved(self) if _state_get(self) == _ACTIVE else 0

    # -- switching ----------------------------------------------------------

    def switch(self, *args, **kwargs):
        """Switch to this greenlet; returns what is switched back to us."""
        return _switch_slow(self, *args, **kwargs)  # replaced by the host's C method

    def throw(self, typ=None, val=None, tb=None):
        """Switch to this greenlet and raise an exception there (default GreenletExit)."""
        if _pending_kill:
            _kill_pending()
        return _switch_to(self, (), None, _make_exception(typ, val, tb))

    # -- lifetime -----------------------------------------------------------

    def __del__(self):
        state = _state_get(self)
        if state != _ACTIVE or _parent_get(self) is None:
            return
        thread = _thread_get(self)
        if thread != _gw.thread() or not _gw.can_switch():
            if not _gw.thread_alive(thread):
                # Its thread has finished (and killed what it left suspended, unless
                # a task of the thread still ran): it can never run again.
                _gw.discard(self)
                return
            # Resurrected; killed when its thread next switches, asks getcurrent(), makes a greenlet
            # or ends (at once after the current switch if it is this thread).
            _pending_kill.setdefault(thread, []).append(self)
            _gw.set_slow(True)
            return
        _kill(self)

    def __copy__(self):
        raise TypeError("cannot serialize '%s' object" % type(self).__name__)

    def __deepcopy__(self, memo):
        raise TypeError("cannot serialize '%s' object" % type(self).__name__)

    def __reduce__(self):
        raise TypeError("cannot serialize '%s' object" % type(self).__name__)

    def __repr__(self):
        # greenlet's format: <T object at ADDR (otid=THREAD) STATE...>
        state = _state_get(self)
        if state == _NEW:
            bits = "pending"
        elif state == _DEAD:
            # A main greenlet dies only with its thread.
            bits = "(thread exited) dead" if _parent_get(self) is None else "dead"
        else:
            bits = ("current" if self is getcurrent() else "suspended") + " active started"
            if _parent_get(self) is None:
                bits += " main"
        tname = type(self).__module__ + "." + type(self).__qualname__
        return "<%s object at 0x%x (otid=0x%x) %s>" % (tname, id(self), _thread_get(self), bits)


greenlet.__module__ = "greenlet"


def _set_run(g, value):
    if _state_get(g) != _NEW:
        raise AttributeError("run cannot be set after the start of the greenlet")
    _run_set(g, value)


def _set_parent(g, value):
    if not isinstance(value, greenlet):
        raise TypeError("GreenletChecker: Expected any type of greenlet, not " + type(value).__name__)
    state = _state_get(g)
    if _parent_get(g) is None and state == _ACTIVE:
        raise AttributeError("cannot set the parent of a main greenlet")
    p = value
    while p is not None:
        if p is g:
            raise ValueError("cyclic parent chain")
        p = _parent_get(p)
    thread = _thread_get(value)
    if state != _NEW and thread != _thread_get(g):
        raise ValueError("parent cannot be on a different thread")
    _parent_set(g, value)
    _thread_set(g, thread)


def _make_exception(typ, val, tb):
    if typ is None:
        typ = GreenletExit
    if isinstance(typ, BaseException):
        if val is not None:
            raise TypeError("instance exception may not have a separate value")
        exc = typ
    elif isinstance(typ, type) and issubclass(typ, BaseException):
        if isinstance(val, typ):
            exc = val
        elif val is None:
            exc = typ()
        elif isinstance(val, tuple):
            exc = typ(*val)
        else:
            exc = typ(val)
    else:
        raise TypeError("exceptions must be classes, or instances, not %s" % type(typ).__name__)
    if tb is not None:
        if not isinstance(tb, _types.TracebackType):
            raise TypeError("throw() third argument must be a traceback object")
        exc = exc.with_traceback(tb)
    return exc


def _live(target):
    """The nearest live greenlet at or above `target` (or the dead main greenlet of a finished thread)."""
    while _state_get(target) == _DEAD:
        parent = _parent_get(target)
        if parent is None:
            break
        target = parent
    return target


def _check_thread(target, current):
    """greenlet's check_switch_allowed: `target` must belong to the running thread."""
    thread = _thread_get(target)
    if thread != _thread_get(current):
        if _gw.thread_alive(thread):
            raise error("cannot switch to a different thread")
        raise error("cannot switch to a different thread (which happens to have exited)")


def _start(target, args, kwargs, throw):
    """First payload for not-started `target`; None if it got started meanwhile."""
    run = target.run  # may run a subclass's __getattribute__, even switch to target
    if _state_get(target) != _NEW:
        return None
    _check_thread(target, getcurrent())  # that code may also have given it another thread's parent
    _gw.spawn(target)
    _started[_weakref.ref(target, _forget)] = id(target)
    _state_set(target, _ACTIVE)
    _run_set(target, _UNSET)
    ctx = _ctx_get(target)
    if ctx is not None:
        _ctx_set(target, None)
        _gw.set_context(target, ctx)
    if throw is not None:
        return (_raiser, (throw,), None)
    return (run, args, kwargs or None)


def _switch_slow(self, *args, **kwargs):
    if _pending_kill:
        _kill_pending()
    return _switch_to(self, args, kwargs, None)


def _switch_to(target, args, kwargs, throw):
    """Switch to `target` with a value (args/kwargs) or an exception (`throw`)."""
    current = getcurrent()
    if throw is not None and isinstance(throw, GreenletExit) and _state_get(target) == _DEAD:
        args, kwargs, throw = (throw,), None, None  # eaten by the dead greenlet, as a value
    target = _live(target)
    _check_thread(target, current)
    if target is current:
        if throw is not None:
            raise throw
        return _pack(args, kwargs)
    payload = _start(target, args, kwargs, throw) if _state_get(target) == _NEW else None
    if payload is not None:
        throwing = False
    elif throw is not None:
        payload, throwing = throw, True
    else:
        payload, throwing = _pack(args, kwargs), False
    if _trace is not None:
        _call_trace("throw" if throw is not None else "switch", current, target)
    del current, args, kwargs, throw
    return _gw.switch(target, payload, throwing)


def _on_finish(outcome, raised):
    """Called by the host when a greenlet's run returned or raised."""
    me = _gw.current()
    _ctx_set(me, _gw.get_context(me))
    _state_set(me, _DEAD)
    if raised and not isinstance(outcome, GreenletExit):
        throw, value = outcome, None
    else:
        throw, value = None, outcome
    target = _parent_get(me)
    while True:
        target = _live(target)
        try:
            payload = _start(target, (value,) if throw is None else (), None, throw) \
                if _state_get(target) == _NEW else None
        except BaseException as e:  # a parent that cannot start: its error goes further up
            throw, value = e, None
            target = _parent_get(target)
            continue
        if payload is not None:
            throwing = False
        else:
            payload, throwing = (throw, True) if throw is not None else (value, False)
        break
    if _trace is not None:
        try:
            _call_trace("throw" if throw is not None else "switch", me, target)
        except BaseException as e:  # the tracer failed: its error goes to the target
            payload, throwing = e, True
    return target, payload, throwing


def _call_trace(event, origin, target):
    global _trace
    tracer = _trace
    try:
        tracer(event, (origin, target))
    except BaseException:
        _trace = None  # a failing tracer is removed, as greenlet does
        _update_slow()
        raise


def _kill(g):
    """Throw GreenletExit into suspended `g` with the current greenlet as its parent."""
    current = getcurrent()
    old_parent = _parent_get(g)
    _parent_set(g, current)
    try:
        g.throw(GreenletExit)
    finally:
        # Limitation: if it survived (switched away instead of dying), greenlet
        # would kill it again when it is collected again; __del__ runs once per
        # object (PEP 442), so here it is not.
        if _state_get(g) == _ACTIVE and _parent_get(g) is current:
            _parent_set(g, old_parent)


def _kill_pending():
    """Kill the greenlets queued for the running thread. Killing switches: where
    this stack cannot switch (Python called synchronously from JS) they stay queued."""
    if not _pending_kill or not _gw.can_switch():
        return  # (the flag that calls this is also set by a tracer alone)
    me = _gw.thread()
    while True:
        pending = _pending_kill.pop(me, None)
        _update_slow()
        if not pending:
            return
        while pending:
            _kill_quietly(pending.pop())


def _kill_quietly(g):
    if _state_get(g) == _ACTIVE:
        try:
            _kill(g)
        except BaseException as e:
            _sys.unraisablehook(_Unraisable(e, g))


def _end_thread():
    """A thread entry's last code: kill the greenlets queued for its thread.
    Like greenlet, greenlets it leaves suspended that are still referenced are
    not raised into; they can never run again (switching to them is refused)."""
    _kill_pending()


class _Unraisable:
    def __init__(self, exc, obj):
        self.exc_type, self.exc_value, self.exc_traceback = type(exc), exc, exc.__traceback__
        self.err_msg = "Exception ignored while killing a collected greenlet"
        self.object = obj


def _update_slow():
    _gw.set_slow(_trace is not None or bool(_pending_kill))


getcurrent = _gw.current


def _make_main(token):
    g = object.__new__(greenlet)
    _state_set(g, _ACTIVE)
    _parent_set(g, None)
    _run_set(g, _UNSET)
    _ctx_set(g, None)
    _thread_set(g, token)
    return g


def _thread_main(token, fn, args, kwargs, with_loop):
    """First frame of a runtime thread entry: names its greenlet thread and, like
    a Pyodide promising task, runs with Pyodide's event loop as the running loop
    (not green threads: `with_loop` false)."""
    _THREAD.set(token)
    if not with_loop:
        # A green thread: make its thread-local key now, so that the greenlets it
        # starts share its threading.local data (they copy it at their start).
        _thread._local().__dict__
        try:
            return fn(*args, **(kwargs or {}))
        finally:
            _end_thread()
    import asyncio.events
    try:
        loop = asyncio.events.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        asyncio.events._set_running_loop(loop)
    try:
        return fn(*args, **(kwargs or {}))
    finally:
        try:
            _end_thread()
        finally:
            asyncio.events._set_running_loop(None)


def settrace(callback):
    global _trace
    old, _trace = _trace, callback
    _update_slow()
    return old


def gettrace():
    return _trace


def get_pending_cleanup_count():
    _kill_pending()
    return sum(len(q) for q in _pending_kill.values())


def get_total_main_greenlets():
    return _gw.stats()[1]


def get_clocks_used_doing_optional_cleanup():
    return 0


def enable_optional_cleanup(flag):
    pass


CLOCKS_PER_SEC = 1000000
set_thread_local = _gw.set_thread_local


_gw.init(_on_finish, _switch_slow, error, _make_main, _thread_main, _THREAD, greenlet, _kill_pending)

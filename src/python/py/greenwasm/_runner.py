"""Run a script, code string or module as `python` would, returning an exit code.

Contract with src/python/runtime.ts: `run(kind, target, argv, path0)` is called
through a JSPI promising entry. It returns 0 on success, the SystemExit code,
130 for an uncaught KeyboardInterrupt, 2 for a script that cannot be opened,
and 1 for any other uncaught exception (traceback printed to sys.stderr).
sys.argv, sys.path[0] and sys.modules["__main__"] are restored afterwards.
"""

import os
import sys
import types

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _all_internal(tb):
    while tb is not None:
        if not _internal(tb):
            return False
        tb = tb.tb_next
    return True


def _exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return int(code)
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def _internal(tb):
    return tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR)


def _report(exc):
    """Print like an uncaught exception, hiding greenwasm's own frames at both ends."""
    tb = exc.__traceback__
    while tb is not None and _internal(tb):
        tb = tb.tb_next
    last_user = None
    node = tb
    while node is not None:
        if not _internal(node):
            last_user = node
        node = node.tb_next
    if last_user is not None and last_user.tb_next is not None and _all_internal(last_user.tb_next):
        last_user.tb_next = None
    try:
        sys.excepthook(type(exc), exc, tb)
    except Exception:
        import traceback

        traceback.print_exception(type(exc), exc, tb)


def _fresh_main(**attrs):
    main = types.ModuleType("__main__")
    main.__dict__.update(
        __builtins__=__builtins__, __loader__=None, __spec__=None, __package__=None, __cached__=None
    )
    main.__dict__.update(attrs)
    sys.modules["__main__"] = main
    return main


def _run_file(path):
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as exc:
        print(f"greenwasm: can't open file {path!r}: [Errno {exc.errno}] {exc.strerror}", file=sys.stderr)
        return 2
    code = compile(source, path, "exec", dont_inherit=True)
    main = _fresh_main(__file__=path)
    exec(code, main.__dict__)
    return 0


def _run_code(source):
    code = compile(source, "<string>", "exec", dont_inherit=True)
    main = _fresh_main()
    exec(code, main.__dict__)
    return 0


def _run_module(name):
    import runpy

    try:
        mod_name, spec, code = runpy._get_module_details(name, runpy._Error)
    except runpy._Error as exc:
        print(f"greenwasm: {exc}", file=sys.stderr)
        return 1
    main = _fresh_main()
    if spec.origin:
        sys.argv[0] = spec.origin
    runpy._run_code(code, main.__dict__, None, "__main__", spec)
    return 0


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _execute(kind, target):
    if kind == "file":
        return _run_file(target)
    if kind == "code":
        return _run_code(target)
    if kind == "module":
        return _run_module(target)
    raise ValueError(f"unknown run kind {kind!r}")


def _guarded(fn, *args):
    try:
        return fn(*args) or 0
    except SystemExit as exc:
        return _exit_code(exc)
    except KeyboardInterrupt as exc:
        _report(exc)
        return 130
    except BaseException as exc:
        _report(exc)
        return 1


def run(kind, target, argv, path0):
    saved_argv = sys.argv
    saved_path0 = sys.path[0] if sys.path else None
    saved_main = sys.modules.get("__main__")
    sys.argv = [str(a) for a in argv]
    if path0 is None:
        path0 = os.path.dirname(os.path.abspath(target)) if kind == "file" else os.getcwd()
    if sys.path:
        sys.path[0] = path0
    else:
        sys.path.insert(0, path0)
    try:
        code = _guarded(_execute, kind, target)
        # Like the interpreter at exit: wait for non-daemon threads.
        from greenwasm._threads import end_of_run

        after = _guarded(end_of_run)
        return code if after == 0 else after
    finally:
        _flush()
        sys.argv = saved_argv
        if saved_path0 is not None and sys.path:
            sys.path[0] = saved_path0
        if saved_main is not None:
            sys.modules["__main__"] = saved_main

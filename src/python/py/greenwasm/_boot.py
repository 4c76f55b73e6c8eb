"""One-time guest setup, run by src/python/runtime.ts inside a promising entry.

Invariants after `setup` returns:
- os.environ holds exactly the variables the host chose (no PYTHONINSPECT unless asked);
- sys.path is ['', *paths, *stdlib/site-packages];
- sys.stdin reads from the host pull function;
- time.sleep suspends only its own stack (an interrupt cuts it short with
  KeyboardInterrupt on the main thread);
- `_thread`/`threading` run green threads (greenwasm._threads), and SQLite's
  busy waits yield to them (greenwasm._sqlite);
- unless allow_js, `pyodide_js` is a facade exposing only what Pyodide's own
  Python modules import from it (no Module, no FS, no runPython);
- socket.socket.connect and ssl's handshake explain refusals (greenwasm._net).
"""

import json
import os
import sys
import types


def _seal_pyodide_js():
    real_api = sys.modules.get("pyodide_js._api")
    api = types.ModuleType("pyodide_js._api")
    api.__doc__ = "greenwasm sandbox: the Pyodide JS API is not available to Python"
    enable = True
    if real_api is not None:
        try:
            enable = bool(real_api.config.enableRunUntilComplete)
        except Exception:
            pass
        # pyodide.webloop imported this at startup; keep the name for consistency.
        api.scheduleCallback = getattr(real_api, "scheduleCallback", None)
        # greenwasm's sockets (src/python/net.ts), behind the network allowlist;
        # Pyodide's ssl stub and webloop import it from here.
        api._nodeSock = getattr(real_api, "_nodeSock", None)
    api.config = types.SimpleNamespace(enableRunUntilComplete=enable)
    facade = types.ModuleType("pyodide_js")
    facade.__doc__ = api.__doc__
    facade.__path__ = []
    facade._api = api
    sys.modules["pyodide_js"] = facade
    sys.modules["pyodide_js._api"] = api


def setup(config_json, pull):
    config = json.loads(config_json)
    expected = tuple(int(p) for p in config["pythonVersion"].split("."))
    if sys.version_info[:3] != expected:
        raise RuntimeError(f"expected Python {config['pythonVersion']}, found {sys.version}")

    for name in ("PYTHONINSPECT",):
        if name not in config["env"]:
            os.environ.pop(name, None)
    for name, value in config["env"].items():
        os.environ[name] = value

    base = [p for p in sys.path if p not in config["paths"]]
    head = base[:1] if base and base[0] == "" else [""]
    rest = base[1:] if base and base[0] == "" else base
    sys.path[:] = head + list(config["paths"]) + rest
    sys.argv = list(config["argv"])
    sys.executable = ""

    from greenwasm import _stdin

    _stdin.install(pull)
    from greenwasm import _sync, _threads

    _threads.install()
    _sync.install_sleep()
    from greenwasm import _sqlite

    _sqlite.install()
    from greenwasm import _net

    _net.install(sys.modules["pyodide_js._api"]._nodeSock)
    if not config["allowJs"]:
        _seal_pyodide_js()
    import greenwasm._runner  # noqa: F401  (compile it now, not on the first run)
    import greenlet  # noqa: F401  (registers its callbacks with the host; runs need it)

    return sys.version

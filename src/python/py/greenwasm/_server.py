"""Entry point of greenwasm's HTTP host into Python (see src/server/bridge.ts).

`create(config_json, hooks)` imports the app, detects its interface (ASGI when
the app or its `__call__` is a coroutine function, else WSGI) unless the
config forces one, and returns a `Host` whose methods the JS side calls.
For ASGI it also installs a ServerLoop as the runtime's event loop, so every
asyncio task of the runtime (requests, lifespan, background tasks) runs in
the host's batched pumps.
"""

import asyncio
import json
import sys

from ._serve_common import detect_interface, load_app


class Host:
    def __init__(self, interface, app, handlers, loop):
        self.interface = interface
        self.app = app
        self.loop = loop
        self.handlers = handlers
        if loop is not None:
            accept = handlers[0].accept
            run = loop.pump

            def pump(heads=None, bodies=None):
                """The host's promising entry: start a batch of requests, run the loop."""
                if heads:
                    loop.enter()
                    accept(heads, bodies or "")
                run()

            self.pump = pump

    def settle(self):
        """Called once the app has started: everything alive now (modules, the
        app, its startup state) lives as long as the server, so collect once and
        freeze it; later collections then scan only per-request garbage."""
        import gc

        gc.collect()
        gc.freeze()

    def interrupted(self):
        """True once a watchdog interrupt landed in a pump (the runtime should be recycled)."""
        return self.loop is not None and self.loop._interrupted is not None


def create(config_json, hooks):
    config = json.loads(config_json)
    app_dir = config.get("appDir")
    if app_dir and app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    app = load_app(config["app"])
    interface = config.get("interface") or "auto"
    if interface == "auto":
        interface = detect_interface(app)
    if interface == "asgi":
        from ._asgi import AsgiServer, Lifespan
        from ._loop import ServerLoop

        loop = ServerLoop(hooks)
        policy = asyncio.get_event_loop_policy()
        if hasattr(policy, "set_event_loop"):
            policy.set_event_loop(loop)
        server = AsgiServer(app, loop, hooks, config)
        loop._on_interrupt = hooks.interrupted
        lifespan = Lifespan(server, config.get("lifespan", "auto"), hooks.lifespan)
        return Host("asgi", app, (server, lifespan), loop)
    if interface == "wsgi":
        from ._wsgi import WsgiServer

        return Host("wsgi", app, (WsgiServer(app, hooks, config),), None)
    raise ValueError(f"unknown interface {interface!r} (expected asgi or wsgi)")

"""``/healthz`` (the loop is making progress) and ``/readyz`` (partitions assigned, state restored).

A small ``http.server`` in a daemon thread; it reads two fields the daemon updates.

>>> status = HealthStatus(stall_s=60.0, clock=lambda: 100.0)
>>> status.progress(); status.healthy(), status.ready
(True, False)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HealthStatus:
    """What the endpoints report; the daemon calls :meth:`progress` once per loop turn."""

    def __init__(self, stall_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_s = stall_s
        self.clock = clock
        self.last_progress = clock()
        self.ready = False

    def progress(self) -> None:
        self.last_progress = self.clock()

    def healthy(self) -> bool:
        return self.clock() - self.last_progress <= self.stall_s


class HealthServer:
    """Serves ``status`` on ``host``:``port`` (0: any free port, see :attr:`port`) until :meth:`close`.

    ``host`` is the loopback address unless told otherwise: on a laptop the endpoints stay private;
    a container, whose port is published from outside, binds ``0.0.0.0``."""

    def __init__(self, status: HealthStatus, port: int, host: str = "127.0.0.1") -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    ok = status.healthy()
                elif self.path == "/readyz":
                    ok = status.ready
                else:
                    self.send_error(404)
                    return
                body = b"ok\n" if ok else b"not ok\n"
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

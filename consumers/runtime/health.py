"""``/healthz`` (the loop is making progress), ``/readyz`` (partitions assigned, state restored) and
``/metrics`` (:mod:`consumers.runtime.metrics`).

A small ``http.server`` in a daemon thread; it reads two fields the daemon updates, and the metrics
the loop publishes.

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
    a container, whose port is published from outside, binds ``0.0.0.0``. ``metrics`` gives the
    body and content type of ``/metrics`` (None: that path is a 404 too)."""

    def __init__(
        self,
        status: HealthStatus,
        port: int,
        host: str = "127.0.0.1",
        metrics: Callable[[], tuple[bytes, str]] | None = None,
    ) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics" and metrics is not None:
                    body, content_type = metrics()
                    self._answer(200, body, content_type)
                    return
                if self.path == "/healthz":
                    ok = status.healthy()
                elif self.path == "/readyz":
                    ok = status.ready
                else:
                    self.send_error(404)
                    return
                self._answer(200 if ok else 503, b"ok\n" if ok else b"not ok\n", "text/plain")

            def _answer(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
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

"""A real local HTTP(S) endpoint for the alert tests: it records every POST and answers as scripted.

``answers`` is a list of ``(status, headers)`` consumed one per request (then 200 for good), so a test
can make the first tries fail with 500 or 429 + ``Retry-After`` and check what the sink does; a path
in ``refuse_paths`` is always answered 400. With
``tls=True`` it serves HTTPS with a throwaway self-signed certificate (``openssl``), whose file is
``cert_file`` for the client's ``ca_file``.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


class AlertReceiver:
    def __init__(self, tls: bool = False) -> None:
        self.received: list[Received] = []
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.refuse_paths: set[str] = set()  # always answered 400
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    if self.path in receiver.refuse_paths:
                        status, headers = 400, {}
                    else:
                        status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, status)
                    )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.cert_file: str | None = None
        if tls:
            self.cert_file = self._certificate()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert_file)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def _certificate() -> str:
        directory = Path(tempfile.mkdtemp(prefix="alert-tls-"))
        pem = directory / "cert.pem"
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                "-keyout", str(pem), "-out", str(directory / "only-cert.pem"),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        pem.write_text(pem.read_text() + (directory / "only-cert.pem").read_text())
        return str(pem)

    @property
    def url(self) -> str:
        scheme = "https" if self.cert_file else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}/hook/secret-token"

    def posts(self, status: int | None = 200) -> list[Received]:
        with self.lock:
            return [r for r in self.received if status is None or r.status == status]

    def wait_for(self, count: int, timeout_s: float = 15.0, status: int | None = 200) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.posts(status)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{len(self.posts(status))} of {count} posts arrived: {self.posts(None)}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

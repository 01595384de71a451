"""A real Prometheus for tests: its own process, configuration, data directory and free port.

Never the machine's service (Debian's package installs one): each :class:`PrometheusServer` scrapes
the targets it is given every second and evaluates the rule files it is given every second, and is
stopped (SIGTERM, then killed) when the test ends. ``prometheus.log`` in its directory tells what it did.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrometheusServer:
    """``prometheus`` scraping ``targets`` (host:port) as job ``job`` with ``rule_files`` loaded."""

    def __init__(self, workdir: Path, targets: list[str], rule_files: list[Path], job: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p.resolve()) for p in rule_files],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}],
        }
        (workdir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        self.log_path = workdir / "prometheus.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={workdir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def __enter__(self) -> PrometheusServer:
        try:
            self.wait_ready()
        except BaseException:  # pytest.fail included: the process must not outlive the test
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def url(self, path: str, **params: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}" + (
            f"?{urllib.parse.urlencode(params)}" if params else ""
        )

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"prometheus exited ({self.proc.returncode}):\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(self.url("/-/ready"), timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prometheus not ready after {timeout_s} s:\n{self.log_path.read_text()}")
            time.sleep(0.2)

    def api(self, path: str, **params: str) -> Any:
        """The ``data`` of a ``/api/v1`` answer, failing the test unless its status is success."""
        try:
            with urllib.request.urlopen(self.url(f"/api/v1/{path}", **params), timeout=10) as answer:
                body = json.loads(answer.read())
        except urllib.error.HTTPError as refused:  # a bad query: 400 with the error in the body
            body = json.loads(refused.read())
        assert body["status"] == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of ``expr`` now (``/api/v1/query``)."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", f"{expr}: {data['resultType']}"
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, seconds: float) -> list[dict[str, Any]]:
        """The range matrix of ``expr`` over the last ``seconds``, a point a second, as a graph asks."""
        now = time.time()
        data = self.api("query_range", query=expr, start=str(now - seconds), end=str(now), step="1")
        assert data["resultType"] == "matrix", f"{expr}: {data['resultType']}"
        result: list[dict[str, Any]] = data["result"]
        return result

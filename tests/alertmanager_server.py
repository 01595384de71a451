"""A real Alertmanager for tests (Debian's ``prometheus-alertmanager``, 0.25): its own process,
configuration, storage and free port, clustering off; every alert routed at once to one webhook.

``group_wait: 0s`` and ``group_interval: 1s`` make it notify as soon as an alert fires or resolves,
so a test sees both within seconds. Stopped (SIGTERM, then killed) when the test ends.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.prometheus_server import free_port

BINARY = "prometheus-alertmanager"


class AlertmanagerServer:
    def __init__(self, workdir: Path, webhook_url: str) -> None:
        self.port = free_port()
        config = {
            "route": {
                "receiver": "hook",
                "group_by": ["alertname", "shared_event_id"],
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [{"name": "hook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
        }
        (workdir / "alertmanager.yml").write_text(json.dumps(config))  # JSON is YAML
        self.log_path = workdir / "alertmanager.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    BINARY,
                    f"--config.file={workdir / 'alertmanager.yml'}",
                    f"--storage.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AlertmanagerServer:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"alertmanager exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"alertmanager not ready: {self.log_path.read_text()[-2000:]}")

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the alerts it holds that are not resolved."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as answer:
            found: list[dict[str, Any]] = json.loads(answer.read())
            return found

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

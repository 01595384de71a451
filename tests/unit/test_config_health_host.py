"""The health server's address is a setting: loopback by default, any address when asked."""

from __future__ import annotations

import argparse
import urllib.request
from pathlib import Path

from consumers.config import run_config
from consumers.config.run_config import RunConfig
from consumers.runtime.health import HealthServer, HealthStatus

REQUIRED = ("--input-topic", "in", "--output-topic", "out")


def load(*argv: str, env: dict[str, str] | None = None) -> RunConfig:
    parser = argparse.ArgumentParser()
    run_config.add_arguments(parser)
    return run_config.load(parser.parse_args([*REQUIRED, *argv]), env or {})


def test_health_host_defaults_to_loopback_and_comes_from_file_env_and_flag(tmp_path: Path) -> None:
    assert load().health_host == "127.0.0.1"
    toml = tmp_path / "run.toml"
    toml.write_text('[run]\nhealth_host = "0.0.0.0"\n')
    assert load("--config", str(toml)).health_host == "0.0.0.0"
    env = {"TRAILPULSE_RUN_HEALTH_HOST": "::1"}
    assert load("--config", str(toml), env=env).health_host == "::1"
    assert load("--config", str(toml), "--health-host", "localhost", env=env).health_host == "localhost"


def test_health_server_listens_where_it_is_told() -> None:
    status = HealthStatus(stall_s=60.0)
    server = HealthServer(status, 0)
    try:
        assert server._server.server_address[0] == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        server.close()
    anywhere = HealthServer(status, 0, "0.0.0.0")
    try:
        assert anywhere._server.server_address[0] == "0.0.0.0"
    finally:
        anywhere.close()

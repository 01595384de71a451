"""``docker-compose.yml``, checked without Docker: every file a service mounts is in the repo, each
program's configuration passes that program's own check (``promtool``, ``amtool``, ``trailpulse run
--check-config`` with the service's flags), and the services agree with one another: Prometheus
scrapes the port trailpulse serves ``/metrics`` on, loads the rules file it mounts and alerts to
Alertmanager, trailpulse pushes to that Alertmanager, and Grafana's provisioned data source is the
one the dashboard's ``datasource`` variable resolves to.

``promtool`` and ``amtool`` come with Debian's ``prometheus`` and ``prometheus-alertmanager``
(``.ci/run`` installs them)."""

from __future__ import annotations

import json
import posixpath
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from consumers.cli import main
from tests.deploy_files import DASHBOARD, ROOT, RULES, dashboard
from tests.yaml_subset import load

COMPOSE = ROOT / "docker-compose.yml"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
#: Where the images read their configuration when no flag says otherwise.
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
ALERTMANAGER_CONFIG = "/etc/alertmanager/alertmanager.yml"
GRAFANA_PROVISIONING = "/etc/grafana/provisioning"


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load(COMPOSE.read_text())["services"]
    return found


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """A service's bind mounts: container path -> the repo file or folder mounted there."""
    out = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            out[target] = (ROOT / source).resolve()
    return out


def repo_file(service: dict[str, Any], container_path: str) -> Path:
    """The repo file a container sees at ``container_path`` (through a file or a folder mount)."""
    for target, source in mounts(service).items():
        if container_path == target or container_path.startswith(target + "/"):
            return source / posixpath.relpath(container_path, target)
    raise AssertionError(f"{container_path} is not mounted")


def published(service: dict[str, Any]) -> dict[int, int]:
    """Container port -> host port."""
    pairs = (str(p).split(":")[-2:] for p in service.get("ports", []))
    return {int(inside): int(outside) for outside, inside in pairs}


def tool(*argv: str) -> subprocess.CompletedProcess[str]:
    if shutil.which(argv[0]) is None:
        pytest.fail(f"{argv[0]} is missing: apt-get install prometheus prometheus-alertmanager (see .ci/run)")
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def trailpulse_settings(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The effective configuration of the compose service's command, as ``--check-config`` prints
    it, with the config file it names read from the repo file mounted there."""
    service = services()["trailpulse"]
    argv = list(service["command"])
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            argv[i] = f"--config={repo_file(service, arg.removeprefix('--config='))}"
    capsys.readouterr()
    assert main([*argv, "--check-config"]) == 0
    settings: dict[str, Any] = json.loads(capsys.readouterr().out)
    return settings


def test_the_stack_has_every_service_with_pinned_images() -> None:
    stack = services()
    assert {"kafka", "generator", "trailpulse", "prometheus", "alertmanager", "grafana"} <= set(stack)
    for name, service in stack.items():
        if "image" in service and "build" not in service:
            repository, _, tag = service["image"].rpartition(":")
            assert repository and tag not in ("", "latest"), f"{name}: pin the image's version"


def test_every_file_a_service_mounts_is_in_the_repo() -> None:
    stack = load(COMPOSE.read_text())
    named = set(stack["volumes"])
    seen = 0
    for name, service in stack["services"].items():
        if service.get("build") == ".":
            assert (ROOT / "Dockerfile").is_file()
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repo"
                seen += 1
            else:
                assert source in named, f"{name} uses the undeclared volume {source}"
    assert seen >= 6


def test_trailpulse_accepts_its_command_and_serves_metrics_where_prometheus_scrapes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = trailpulse_settings(capsys)["run"]
    assert run["health_host"] == "0.0.0.0", "another container could not reach /metrics"
    stack = services()
    assert run["health_port"] in published(stack["trailpulse"])
    config = load(repo_file(stack["prometheus"], PROMETHEUS_CONFIG).read_text())
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "trailpulse"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for static in job["static_configs"] for t in static["targets"]]
    assert targets == [f"trailpulse:{run['health_port']}"]


def test_trailpulse_pushes_its_insights_to_the_stacks_alertmanager() -> None:
    stack = services()
    toml = repo_file(stack["trailpulse"], "/etc/trailpulse/trailpulse.toml")
    alerts = tomllib.loads(toml.read_text())["alert"]
    [alertmanager] = [a for a in alerts if a["kind"] == "alertmanager"]
    url = urlsplit(alertmanager["url"])
    assert url.hostname == "alertmanager" and url.port in published(stack["alertmanager"])
    assert alertmanager["allow_private"] is True, "plain http to a private address needs the opt-in"


def test_prometheus_config_passes_promtool_and_loads_the_rules_file_it_mounts() -> None:
    prometheus = services()["prometheus"]
    config_file = repo_file(prometheus, PROMETHEUS_CONFIG)
    done = tool("promtool", "check", "config", str(config_file.relative_to(ROOT)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout
    [rules] = load(config_file.read_text())["rule_files"]
    # Prometheus resolves a rule path against its config file's folder: in the container, and for
    # promtool in the repo; both must reach deploy/prometheus/trailpulse-rules.yml.
    in_container = posixpath.normpath(posixpath.join(posixpath.dirname(PROMETHEUS_CONFIG), rules))
    assert repo_file(prometheus, in_container) == RULES
    assert (config_file.parent / rules).resolve() == RULES


def test_prometheus_alerts_to_the_stacks_alertmanager_whose_config_passes_amtool() -> None:
    stack = services()
    config = load(repo_file(stack["prometheus"], PROMETHEUS_CONFIG).read_text())
    statics = [s for am in config["alerting"]["alertmanagers"] for s in am["static_configs"]]
    targets = [t for static in statics for t in static["targets"]]
    assert targets == [f"alertmanager:{port}" for port in published(stack["alertmanager"])]
    config_file = repo_file(stack["alertmanager"], ALERTMANAGER_CONFIG)
    done = tool("amtool", "check-config", str(config_file.relative_to(ROOT)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_grafana_provisions_the_prometheus_the_dashboards_datasource_variable_resolves_to() -> None:
    stack = services()
    grafana = stack["grafana"]
    assert repo_file(grafana, GRAFANA_PROVISIONING) == PROVISIONING
    sources = [
        source
        for file in sorted((PROVISIONING / "datasources").glob("*.y*ml"))
        for source in load(file.read_text())["datasources"]
    ]
    [prometheus] = [s for s in sources if s["type"] == "prometheus"]
    assert prometheus["uid"] and prometheus["isDefault"] is True
    assert prometheus["url"] == f"http://prometheus:{next(iter(published(stack['prometheus'])))}"
    # The variable lists the Prometheus data sources and, with nothing chosen in the file, starts on
    # the default one; a value saved in the file would have to be this uid.
    [variable] = [v for v in dashboard()["templating"]["list"] if v["name"] == "datasource"]
    assert variable["type"] == "datasource" and variable["query"] == prometheus["type"]
    assert variable.get("current", {}).get("value", prometheus["uid"]) == prometheus["uid"]


def test_grafana_loads_the_dashboard_from_where_it_is_mounted() -> None:
    grafana = services()["grafana"]
    [provider] = load((PROVISIONING / "dashboards" / "trailpulse.yml").read_text())["providers"]
    folder = provider["options"]["path"]
    assert repo_file(grafana, f"{folder}/{DASHBOARD.name}") == DASHBOARD
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert repo_file(grafana, home) == DASHBOARD

"""``deploy/``: the alert rules pass ``promtool`` and their own unit tests (which fail when an alert
is broken), and the Grafana dashboard is well formed and asks only for metrics the daemon exports.

``promtool`` comes with Debian's ``prometheus`` package (``.ci/run`` installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy_files import (
    RULE_TESTS,
    RULES,
    dashboard,
    exported_metric_names,
    metric_names,
    panel_queries,
    panels,
)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        pytest.fail("promtool is missing: apt-get install prometheus (see .ci/run)")
    return subprocess.run(
        ["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_rules_file_is_valid() -> None:
    done = promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_alerts_fire_on_trouble_and_stay_quiet_on_healthy_series() -> None:
    done = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("alert", "before", "after"),
    [
        ("TrailpulseConsumerLagHigh", "(trailpulse_consumer_lag_records) > 10000", "(x) > 10000"),
        ("TrailpulseConsumerStalled", "rate5m == 0", "rate5m < 0"),
        ("TrailpulseSinkFailing", "(rate(trailpulse_sink_failures_total[5m])) > 0", "(vector(0)) > 0"),
    ],
)
def test_the_rule_tests_catch_a_broken_alert(tmp_path: Path, alert: str, before: str, after: str) -> None:
    rules = RULES.read_text()
    assert rules.count(before) == 1
    (tmp_path / RULES.name).write_text(rules.replace(before, after))
    shutil.copy(RULE_TESTS, tmp_path)
    done = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert done.returncode != 0
    assert f"alertname: {alert}," in done.stdout + done.stderr


def test_the_dashboard_has_a_prometheus_datasource_variable_used_by_every_panel() -> None:
    board = dashboard()
    assert 36 <= board["schemaVersion"] <= 41
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    shown = panels(board)
    assert len(shown) >= 12
    for panel in shown:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
            assert target["expr"].strip() and target["refId"], panel["title"]
    ids = [p["id"] for p in board["panels"] if p["type"] == "row"] + [p["id"] for p in shown]
    assert len(ids) == len(set(ids)), "panel ids repeat"


def test_the_dashboard_asks_only_for_metrics_the_daemon_exports() -> None:
    exported = exported_metric_names()
    board = dashboard()
    asked = {(q.panel, q.ref_id): metric_names(q.expr) for q in panel_queries(board)}
    unknown = {panel: names - exported for panel, names in asked.items() if names - exported}
    assert not unknown, f"not exported by the daemon: {unknown}"
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            [series] = re.findall(r"label_values\((\w+)", variable["definition"])
            assert series in exported, variable["name"]
    every = set().union(*asked.values())
    wanted = {
        "trailpulse_messages_consumed_total",
        "trailpulse_records_decoded_total",
        "trailpulse_consumer_lag_records",
        "trailpulse_consumer_lag_seconds",
        "trailpulse_records_rejected_total",
        "trailpulse_records_late_total",
        "trailpulse_insights_emitted_total",
        "trailpulse_insights_active",
        "trailpulse_keys_tracked",
        "trailpulse_keys_evicted_total",
        "trailpulse_state_bytes",
        "trailpulse_checkpoint_duration_seconds_bucket",
        "trailpulse_sink_deliveries_total",
        "trailpulse_sink_failures_total",
        "trailpulse_sink_retries_total",
        "trailpulse_sink_queue_depth",
        "trailpulse_top_api_calls",
    }
    assert wanted <= every, f"no panel shows {wanted - every}"


def test_a_metric_the_daemon_does_not_export_is_noticed() -> None:
    exported = exported_metric_names()
    assert "trailpulse_checkpoint_duration_seconds_count" in exported
    assert metric_names('rate(trailpulse_records_consumed_total{job=~".+"}[1m])') - exported == {
        "trailpulse_records_consumed_total"
    }

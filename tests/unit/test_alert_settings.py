"""``[[alert]]`` tables: URLs and secrets from variables or files, never shown; each kind's needs;
the address rules checked when the configuration loads."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from consumers.alerts.channels import ALERTMANAGER_PATH, channel
from consumers.alerts.settings import PAGERDUTY_URL
from consumers.alerts.signing import new_secret
from consumers.config import run_config
from consumers.config.run_config import ConfigError, RunConfig

REQUIRED = ("--input-topic", "in", "--output-topic", "out")


def load(tmp_path: Path, toml: str, env: dict[str, str] | None = None) -> RunConfig:
    path = tmp_path / "run.toml"
    path.write_text(toml)
    parser = argparse.ArgumentParser()
    run_config.add_arguments(parser)
    return run_config.load(parser.parse_args([*REQUIRED, "--config", str(path)]), env or {})


def test_urls_and_secrets_come_from_variables_and_files_and_are_never_shown(tmp_path: Path) -> None:
    secret = new_secret()
    (tmp_path / "slack-url").write_text("https://hooks.slack.com/services/T0/B0/TOKEN\n")
    config = load(
        tmp_path,
        f"""
        [[alert]]
        kind = "webhook"
        url_env = "HOOK_URL"
        secret_env = "HOOK_SECRET"

        [[alert]]
        kind = "slack"
        name = "security"
        url_file = "{tmp_path / "slack-url"}"
        """,
        env={"HOOK_URL": "https://hooks.example.com/in/abc", "HOOK_SECRET": f"{secret} {new_secret()}"},
    )
    webhook, slack = config.alerts
    assert (webhook.label, webhook.url, webhook.secret.split()[0]) == (
        "webhook",
        "https://hooks.example.com/in/abc",
        secret,
    )
    assert (slack.label, slack.url) == ("security", "https://hooks.slack.com/services/T0/B0/TOKEN")
    shown = str(config.effective()["alert"])
    assert "TOKEN" not in shown and secret not in shown and "abc" not in shown
    assert config.effective()["alert"][0]["url"] == "***"


def test_each_kind_gets_what_it_needs(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [[alert]]
        kind = "pagerduty"
        routing_key = "R0UT1NGKEY"

        [[alert]]
        kind = "alertmanager"
        url = "http://127.0.0.1:9093"
        allow_private = true
        """,
    )
    pagerduty, alertmanager = config.alerts
    assert pagerduty.url == PAGERDUTY_URL
    pushed = channel(alertmanager)
    assert pushed.endpoint.url == "http://127.0.0.1:9093" + ALERTMANAGER_PATH
    assert pushed.resend_active_s == 60.0
    assert channel(pagerduty).resend_active_s is None


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('kind = "slack"', "needs url"),
        ('kind = "pagerduty"', "needs routing_key"),
        ('kind = "teams"\nurl = "https://x.example"', "must be one of"),
        ('url = "http://hooks.example.com/x"', "plain http needs allow_private"),
        ('url = "ftp://hooks.example.com/x"', "not an http(s) URL"),
        ('url = "https://x.example"\nurl_env = "X"', "give one of url, url_env"),
        ('url_env = "UNSET"', "UNSET is not set"),
        ('url = "https://x.example"\nsecret = "plain"', "secret"),
        ('kind = "slack"\nurl = "https://x.example"\nsecret = "whsec_AAAA"', "webhook alerts only"),
        ('url = "https://x.example"\nretries = 3', "retries"),
        ('url = "https://x.example"\ntimeout_s = 0', "timeout_s"),
    ],
)
def test_a_bad_table_is_refused_naming_it(tmp_path: Path, table: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=r"\[\[alert\]\] #1") as caught:
        load(tmp_path, f"[[alert]]\n{table}\n")
    assert problem in str(caught.value)
    assert "hooks.example.com/x" not in str(caught.value)  # a URL's path is never in a message


def test_two_sinks_need_two_names(tmp_path: Path) -> None:
    table = '[[alert]]\nkind = "slack"\nurl = "https://hooks.slack.com/a"\n'
    with pytest.raises(ConfigError, match="named alike"):
        load(tmp_path, table + table)

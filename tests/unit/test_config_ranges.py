"""Ranges: ports, minutes, workers, intervals, engine knobs, and files that must exist."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from consumers.commands import replay
from consumers.config import run_config
from consumers.config.engine_settings import SettingsError, load
from consumers.config.run_config import ConfigError, RunConfig
from insights.config import DetectorParams, EngineConfig, Rule

REQUIRED = ("--input-topic", "in", "--output-topic", "out")


def load_run(*argv: str, env: dict[str, str] | None = None) -> RunConfig:
    parser = argparse.ArgumentParser()
    run_config.add_arguments(parser)
    return run_config.load(parser.parse_args([*REQUIRED, *argv]), env or {})


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--health-port", "99999"], {}, "--health-port: health_port must be >= -1 and <= 65535, not 99999"),
        ([], {"TRAILPULSE_RUN_HEALTH_PORT": "99999"}, "TRAILPULSE_RUN_HEALTH_PORT: health_port must be"),
        ([], {"TRAILPULSE_RUN_HEALTH_PORT": "-2"}, "health_port must be >= -1"),
        ([], {"TRAILPULSE_RUN_MAX_FUTURE_MINUTES": "-1"}, "max_future_minutes must be >= 0, not -1"),
        ([], {"TRAILPULSE_RUN_DECODE_WORKERS": "-3"}, "decode_workers must be >= 0, not -3"),
        ([], {"TRAILPULSE_RUN_CHECKPOINT_INTERVAL_S": "0"}, "checkpoint_interval_s must be > 0, not 0.0"),
        ([], {"TRAILPULSE_RUN_POLL_MAX_RECORDS": "0"}, "poll_max_records must be >= 1"),
        ([], {"TRAILPULSE_ENGINE_ALLOWED_LATENESS_MINUTES": "-5"}, "allowed_lateness_minutes must be >= 0"),
        ([], {"TRAILPULSE_ENGINE_WARMUP_MINUTES": "-1"}, "TRAILPULSE_ENGINE_WARMUP_MINUTES: warmup_minutes"),
        ([], {"TRAILPULSE_DETECTOR_MIN_COUNT": "0"}, "min_count must be >= 1"),
        ([], {"TRAILPULSE_DETECTOR_DROP_RATIO": "1.5"}, "drop_ratio must be > 0 and < 1"),
        ([], {"TRAILPULSE_KAFKA_SECURITY_PROTOCOL": "TLS"}, "security_protocol must be one of PLAINTEXT"),
    ],
)
def test_run_settings_out_of_range_are_refused_naming_source_and_key(
    argv: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_run(*argv, env=env)


def test_health_port_zero_and_minus_one_are_kept() -> None:
    assert load_run("--health-port", "0").health_port == 0
    assert load_run(env={"TRAILPULSE_RUN_HEALTH_PORT": "-1"}).health_port == -1


@pytest.mark.parametrize("key", ["ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_crlfile"])
def test_tls_files_must_exist(tmp_path: Path, key: str) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(ConfigError, match=f"TRAILPULSE_KAFKA_{key.upper()}: {key}: no such file"):
        load_run(env={f"TRAILPULSE_KAFKA_{key.upper()}": str(missing)})
    toml = tmp_path / "run.toml"
    toml.write_text(f'[kafka]\n{key} = "{missing}"\n')
    with pytest.raises(ConfigError, match=rf"run.toml \[kafka\]: {key}: no such file"):
        load_run("--config", str(toml))
    missing.write_text("pem")
    assert load_run("--config", str(toml)).kafka[key] == str(missing)


def test_a_secret_file_must_exist(tmp_path: Path) -> None:
    env = {"TRAILPULSE_KAFKA_SASL_PLAIN_PASSWORD_FILE": str(tmp_path / "nope")}
    with pytest.raises(
        ConfigError, match="TRAILPULSE_KAFKA_SASL_PLAIN_PASSWORD_FILE: sasl_plain_password_file"
    ):
        load_run(env=env)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[engine]\nallowed_lateness_minutes = -5\n", r"\[engine\]: allowed_lateness_minutes must be >= 0"),
        ("[engine]\nwarmup_minutes = -1\n", r"\[engine\]: warmup_minutes must be >= 0, not -1"),
        ("[engine]\nmax_keys = 0\n", r"max_keys must be >= 1"),
        ("[detector]\nstart_surprise = 0\n", r"\[detector\]: start_surprise must be > 0"),
        ("[detector]\nkeep_surprise = -1\n", r"keep_surprise must be > 0"),
        ("[detector]\nmin_count = 0.5\n", r"min_count must be >= 1"),
        ("[detector]\nsustained_minutes = 0\n", r"sustained_minutes must be >= 1"),
        (
            "[[rule]]\nevent_name = 'X'\nend_quiet_minutes = 0\n",
            r"\[\[rule\]\] #1: end_quiet_minutes must be >= 1",
        ),
    ],
)
def test_engine_settings_out_of_range_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "engine.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match="engine.toml.*" + message):
        load(path)


def test_the_engine_refuses_out_of_range_values_however_it_is_built() -> None:
    with pytest.raises(ValueError, match="allowed_lateness_minutes must be >= 0, not -5"):
        dataclasses.replace(EngineConfig(), allowed_lateness_minutes=-5)
    with pytest.raises(ValueError, match="min_count must be >= 1"):
        DetectorParams(min_count=0)
    with pytest.raises(
        ValueError, match=r"rule for ec2\.amazonaws\.com \* \*: drop_ratio must be > 0 and < 1"
    ):
        EngineConfig(rules=(Rule("ec2.amazonaws.com", params={"drop_ratio": 2.0}),))


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--lateness", "allowed_lateness_minutes must be >= 0"),
        ("--warmup-minutes", "warmup_minutes must be >= 0"),
    ],
)
def test_replay_flags_out_of_range_are_refused(flag: str, message: str) -> None:
    parser = argparse.ArgumentParser()
    replay.add_parser(parser.add_subparsers())
    args = parser.parse_args(["replay", "x", flag, "-5"])
    with pytest.raises(ValueError, match=message):
        replay.config_from_args(args)


def test_replay_with_negative_lateness_exits_2_naming_the_setting(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    replay.add_parser(parser.add_subparsers())
    assert replay.run(parser.parse_args(["replay", "x", "--lateness", "-5"])) == 2
    assert "allowed_lateness_minutes must be >= 0, not -5" in capsys.readouterr().err

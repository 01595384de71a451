"""``[run] state_store`` and ``state_topic``: which store ``open_store`` gives, and what is refused."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from consumers.config import run_config
from consumers.config.run_config import ConfigError
from consumers.state.changelog_store import ChangelogStore
from consumers.state.directory_store import StateStore

REQUIRED = ("--input-topic", "in", "--output-topic", "out")


def load(*argv: str, env: dict[str, str] | None = None) -> run_config.RunConfig:
    parser = argparse.ArgumentParser()
    run_config.add_arguments(parser)
    return run_config.load(parser.parse_args([*REQUIRED, *argv]), env or {})


def test_directory_store_is_the_default(tmp_path: Path) -> None:
    config = load("--state-dir", str(tmp_path))
    store = run_config.open_store(config)
    assert isinstance(store, StateStore)
    assert store.location == str(tmp_path / "state.msgpack")
    assert config.effective()["run"]["state_store"] == "directory"


def test_kafka_store_from_flags_env_and_file(tmp_path: Path) -> None:
    flags = load("--state-store", "kafka", "--state-topic", "state", "--group-id", "g")
    env = load(env={"TRAILPULSE_RUN_STATE_STORE": "kafka", "TRAILPULSE_RUN_STATE_TOPIC": "state"})
    toml = tmp_path / "run.toml"
    toml.write_text('[run]\nstate_store = "kafka"\nstate_topic = "state"\n')
    from_file = load("--config", str(toml))
    for config in (flags, env, from_file):
        store = run_config.open_store(config)  # connects to nothing until load or save
        assert isinstance(store, ChangelogStore)
        assert (store.topic, store.group_id) == ("state", config.group_id)
        assert "state" in store.location
    assert flags.effective()["run"]["state_topic"] == "state"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--state-store", "kafka"], {}, "state_topic .* is required"),
        ([], {"TRAILPULSE_RUN_STATE_STORE": "kafka"}, "state_topic .* is required"),
        ([], {"TRAILPULSE_RUN_STATE_STORE": "s3"}, "state_store must be one of directory, kafka, not 's3'"),
    ],
)
def test_bad_state_store_settings_are_refused(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(*argv, env=env)


def test_a_topic_is_a_string_in_the_file_and_stays_one_from_a_variable(tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text("[run]\nstate_topic = 1\n")
    with pytest.raises(ConfigError, match=r"run.toml \[run\]: state_topic must be a string"):
        load("--config", str(toml))
    config = load("--state-store", "kafka", env={"TRAILPULSE_RUN_STATE_TOPIC": "1"})
    assert config.state_topic == "1"


def test_unknown_state_store_flag_is_refused_by_the_parser() -> None:
    parser = argparse.ArgumentParser()
    run_config.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--state-store", "s3"])

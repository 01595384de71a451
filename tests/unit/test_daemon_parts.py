"""The daemon's parts that need no broker: state store, configuration, log rate limit."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import msgspec
import pytest

from consumers.config import run_config
from consumers.config.run_config import ConfigError
from consumers.state.directory_store import State, StateStore, StateStoreError


def args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    run_config.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_state_round_trip_and_atomic_replace(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s")
    assert store.load() is None
    store.save(State({("a:b", 0): 5, ("c", 3): 9}, b"one"))
    store.save(State({("c", 3): 10}, b"two"))
    assert store.load() == State({("c", 3): 10}, b"two")
    assert os.listdir(tmp_path / "s") == ["state.msgpack"]  # no temporary file left behind


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        msgspec.msgpack.encode([1, 2]),
        msgspec.msgpack.encode({"version": 99, "offsets": {}, "engine": b""}),
        msgspec.msgpack.encode({"version": 1, "offsets": {"nocolon": 1}, "engine": b""}),
        msgspec.msgpack.encode({"version": 1, "offsets": {"t:0": -1}, "engine": b""}),
        msgspec.msgpack.encode({"version": 1, "offsets": {}, "engine": "str"}),
    ],
)
def test_corrupt_state_is_an_error(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "state.msgpack").write_bytes(data)
    with pytest.raises(StateStoreError, match="corrupt"):
        StateStore(tmp_path).load()


def test_config_layers_file_env_flags(tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    toml.write_text(
        '[kafka]\nbootstrap_servers = "file:9092"\nsasl_plain_password_file = "' + str(secret) + '"\n'
        '[run]\ninput_topics = ["a"]\noutput_topic = "out"\ngroup_id = "file"\n'
        "[engine]\nwarmup_minutes = 100\n"
    )
    env = {"TRAILPULSE_RUN_GROUP_ID": "env", "TRAILPULSE_ENGINE_WARMUP_MINUTES": "200"}
    config = run_config.load(args("--config", str(toml), "--bootstrap-servers", "flag:1"), env)
    assert config.kafka["bootstrap_servers"] == "flag:1"
    assert config.kafka["sasl_plain_password"] == "s3cret"
    assert config.group_id == "env" and config.input_topics == ["a"]
    assert config.engine.warmup_minutes == 200
    assert config.effective()["kafka"]["sasl_plain_password"] == "***"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--output-topic", "o"], {}, "one of input_topics"),
        (["--input-topic", "a"], {}, "output_topic"),
        (["--input-topic", "a", "--output-topic", "o"], {"TRAILPULSE_KAFKA_NOPE": "1"}, "nope"),
        (["--input-topic", "a", "--output-topic", "o"], {"TRAILPULSE_RUN_NOPE": "1"}, "nope"),
        (["--input-topic", "a", "--output-topic", "o"], {"TRAILPULSE_ENGINE_NOPE": "1"}, "nope"),
        (["--input-topic", "a", "--output-topic", "o"], {"TRAILPULSE_RUN_HEALTH_PORT": "x"}, "number"),
    ],
)
def test_bad_config_is_refused(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_config.load(args(*argv), env)


def test_oauth_token_becomes_a_provider() -> None:
    env = {"TRAILPULSE_KAFKA_SASL_OAUTH_TOKEN": "tok", "TRAILPULSE_KAFKA_SASL_MECHANISM": "OAUTHBEARER"}
    config = run_config.load(args("--input-topic", "a", "--output-topic", "o"), env)
    assert config.effective()["kafka"]["sasl_oauth_token"] == "***"
    assert run_config.client_options(config)["sasl_oauth_token_provider"].token() == "tok"

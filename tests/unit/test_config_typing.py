"""Values are typed by the setting they go to, whichever source gives them (file, variable, flag)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from consumers.config import run_config
from consumers.config.run_config import ConfigError, RunConfig

REQUIRED = ("--input-topic", "in", "--output-topic", "out")


def load(*argv: str, env: dict[str, str] | None = None) -> RunConfig:
    parser = argparse.ArgumentParser()
    run_config.add_arguments(parser)
    return run_config.load(parser.parse_args([*REQUIRED, *argv]), env or {})


def test_a_secret_that_looks_like_a_number_stays_a_string() -> None:
    config = load(
        env={"TRAILPULSE_KAFKA_SASL_PLAIN_PASSWORD": "1e5", "TRAILPULSE_KAFKA_SASL_PLAIN_USERNAME": "007"}
    )
    assert config.kafka["sasl_plain_password"] == "1e5"
    assert config.kafka["sasl_plain_username"] == "007"
    assert config.effective()["kafka"]["sasl_plain_password"] == "***"


def test_topics_and_group_ids_stay_strings() -> None:
    env = {"TRAILPULSE_RUN_GROUP_ID": "1e5", "TRAILPULSE_RUN_DEAD_LETTER_TOPIC": "true"}
    config = load("--output-topic", "2024", env=env)
    assert (config.group_id, config.dead_letter_topic, config.output_topic) == ("1e5", "true", "2024")


def test_input_topics_from_a_variable_are_a_comma_separated_list() -> None:
    parser = argparse.ArgumentParser()
    run_config.add_arguments(parser)
    config = run_config.load(
        parser.parse_args(["--output-topic", "o"]), {"TRAILPULSE_RUN_INPUT_TOPICS": "a, 1e5,c"}
    )
    assert config.input_topics == ["a", "1e5", "c"]


def test_numbers_and_booleans_from_text_are_typed_by_their_setting() -> None:
    env = {
        "TRAILPULSE_RUN_CHECKPOINT_INTERVAL_S": "2",
        "TRAILPULSE_RUN_POLL_MAX_RECORDS": "1e3",
        "TRAILPULSE_ENGINE_EARLY_STARTS": "false",
        "TRAILPULSE_DETECTOR_MIN_COUNT": "3",
        "TRAILPULSE_KAFKA_CHECK_CRCS": "false",
        "TRAILPULSE_KAFKA_REQUEST_TIMEOUT_MS": "40000",
        "TRAILPULSE_KAFKA_CLIENT_ID": "42",
    }
    config = load(env=env)
    assert config.checkpoint_interval_s == 2.0 and isinstance(config.checkpoint_interval_s, float)
    assert config.poll_max_records == 1000 and isinstance(config.poll_max_records, int)
    assert config.engine.early_starts is False and config.engine.detector.min_count == 3.0
    assert config.kafka["check_crcs"] is False
    assert config.kafka["request_timeout_ms"] == 40000
    assert config.kafka["client_id"] == "42"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRAILPULSE_RUN_HEALTH_PORT": "80.5"}, "TRAILPULSE_RUN_HEALTH_PORT: health_port must be a number"),
        ({"TRAILPULSE_RUN_HEALTH_PORT": "x"}, "TRAILPULSE_RUN_HEALTH_PORT: health_port must be a number"),
        ({"TRAILPULSE_ENGINE_EARLY_STARTS": "maybe"}, "early_starts must be true or false, not 'maybe'"),
        (
            {"TRAILPULSE_KAFKA_CHECK_CRCS": "often"},
            "TRAILPULSE_KAFKA_CHECK_CRCS: check_crcs must be true or false",
        ),
        ({"TRAILPULSE_KAFKA_NOPE": "1"}, "TRAILPULSE_KAFKA_NOPE: unknown kafka-python option 'nope'"),
        ({"TRAILPULSE_RUN_NOPE": "1"}, "TRAILPULSE_RUN_NOPE: unknown setting 'nope'"),
        ({"TRAILPULSE_DETECTOR_START_SURPRIZE": "1"}, "TRAILPULSE_DETECTOR_START_SURPRIZE: unknown setting"),
    ],
)
def test_text_that_does_not_fit_its_setting_is_refused_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load(env=env)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[kafka]\nsasl_plain_password = 100000.0\n", r"\[kafka\]: sasl_plain_password must be a string"),
        ("[run]\ngroup_id = 7\n", r"\[run\]: group_id must be a string"),
        ("[run]\nhealth_port = 80.5\n", r"\[run\]: health_port must be a number \(an integer\)"),
        ("[run]\nmax_keys_per_type = 1\n", r"\[run\]: unknown setting 'max_keys_per_type'"),
        (
            "[engine]\nmax_keys_per_type = 1\n",
            r"\[engine\]: unknown setting 'max_keys_per_type' \(known: .*max_keys",
        ),
        ("[kafka]\nbootstrap_server = 'x:1'\n", r"\[kafka\]: unknown kafka-python option 'bootstrap_server'"),
        ("[runn]\n", r"unknown table\(s\) runn"),
    ],
)
def test_file_values_of_the_wrong_type_or_name_are_refused_naming_file_and_key(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = tmp_path / "run.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match="run.toml.*" + message):
        load("--config", str(path))


def test_a_later_source_replaces_the_file_form_of_a_key_and_back(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    toml = tmp_path / "run.toml"
    toml.write_text(f'[kafka]\nsasl_plain_password_file = "{secret}"\n')
    from_env = load("--config", str(toml), env={"TRAILPULSE_KAFKA_SASL_PLAIN_PASSWORD": "from-env"})
    assert from_env.kafka["sasl_plain_password"] == "from-env"
    toml.write_text('[kafka]\nsasl_plain_password = "in-file"\n')
    from_secret = load("--config", str(toml), env={"TRAILPULSE_KAFKA_SASL_PLAIN_PASSWORD_FILE": str(secret)})
    assert from_secret.kafka["sasl_plain_password"] == "from-file"


def test_check_config_shows_every_table_with_secrets_masked() -> None:
    effective = load(
        env={"TRAILPULSE_KAFKA_SSL_PASSWORD": "pw", "TRAILPULSE_ENGINE_WARMUP_MINUTES": "60"}
    ).effective()
    assert effective["kafka"]["ssl_password"] == "***"
    assert effective["run"]["health_host"] == "127.0.0.1"
    assert effective["engine"]["warmup_minutes"] == 60
    assert effective["detector"]["start_surprise"] == 7.0
    assert effective["rule"] == []

"""The confluent-kafka client's options: kafka-python names translated, the untranslatable refused, and
the client chosen by ``[run] client`` (no broker: librdkafka checks property names when a client is built,
before it connects)."""

from __future__ import annotations

import argparse
import time

import pytest

from consumers.config import run_config
from consumers.config.run_config import ConfigError
from consumers.kafka.confluent import ConfluentConsumer, ConfluentProducer, confluent_clients
from consumers.kafka.confluent_options import librdkafka_config
from consumers.kafka.confluent_topics import ConfluentAdmin, ConfluentReader, ConfluentWriter
from consumers.kafka.kafka_python import kafka_python_clients
from consumers.kafka.kafka_python_topics import KafkaPythonAdmin, KafkaPythonReader, KafkaPythonWriter
from consumers.kafka.options import split_options
from consumers.kafka.protocol import client_factory, topic_tools
from consumers.state.changelog_store import ChangelogStore

UNREACHABLE = "127.0.0.1:1"


class StaticToken:
    """A kafka-python ``AbstractTokenProvider`` in shape."""

    def token(self) -> str:
        return "tok"

    def extensions(self) -> dict[str, str]:
        return {"logicalCluster": "lkc-1"}


def test_kafka_python_names_become_librdkafka_properties() -> None:
    config = librdkafka_config(
        {
            "bootstrap_servers": ["a:9092", "b:9092"],
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "user",
            "sasl_plain_password": "secret",
            "ssl_cafile": "/ca.pem",
            "ssl_certfile": "/cert.pem",
            "ssl_keyfile": "/key.pem",
            "ssl_password": "keypass",
            "ssl_check_hostname": False,
            "client_id": "trailpulse",
            "metadata_max_age_ms": 500,
            "compression_type": None,  # kafka-python's "not set": left to librdkafka
        }
    )
    assert config == {
        "bootstrap.servers": "a:9092,b:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "user",
        "sasl.password": "secret",
        "ssl.ca.location": "/ca.pem",
        "ssl.certificate.location": "/cert.pem",
        "ssl.key.location": "/key.pem",
        "ssl.key.password": "keypass",
        "ssl.endpoint.identification.algorithm": "none",
        "client.id": "trailpulse",
        "topic.metadata.refresh.interval.ms": 500,
    }
    assert librdkafka_config({"bootstrap_servers": "a:1,b:2"}) == {"bootstrap.servers": "a:1,b:2"}


def test_options_without_an_equivalent_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no confluent-kafka equivalent: check_crcs, request_timeout_ms"):
        librdkafka_config({"bootstrap_servers": "a:1", "request_timeout_ms": 1, "check_crcs": True})
    with pytest.raises(ValueError, match="check_crcs"):  # before any client is built
        confluent_clients({"bootstrap_servers": UNREACHABLE, "check_crcs": True}, "group")


def test_oauth_token_provider_becomes_the_refresh_callback() -> None:
    refresh = librdkafka_config({"sasl_oauth_token_provider": StaticToken()})["oauth_cb"]
    token, expiry, principal, extensions = refresh("")
    assert (token, principal, extensions) == ("tok", "", {"logicalCluster": "lkc-1"})
    assert time.time() < expiry < time.time() + 3600


def test_librdkafka_accepts_every_translated_property() -> None:
    options = {
        "bootstrap_servers": UNREACHABLE,
        "client_id": "tests",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "user",
        "sasl_plain_password": "secret",
        # Not loaded without SSL, but the names are checked.
        "ssl_cafile": "/ca.pem",
        "ssl_certfile": "/cert.pem",
        "ssl_keyfile": "/key.pem",
        "ssl_password": "keypass",
        "ssl_check_hostname": True,
        "metadata_max_age_ms": 500,
        "allow_auto_create_topics": False,
        "auto_offset_reset": "latest",
        "isolation_level": "read_committed",
        "session_timeout_ms": 10000,
        "heartbeat_interval_ms": 1000,
        "max_poll_interval_ms": 60000,
        "group_instance_id": "instance",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "delivery_timeout_ms": 30000,
        "compression_type": "lz4",
    }
    consumer_options, producer_options = split_options(options)
    consumer = ConfluentConsumer(consumer_options, "group")
    producer = ConfluentProducer(producer_options)
    consumer.close()
    producer.close()
    # Building a client with a token callback takes confluent-kafka about a second: one client only.
    oauth = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "OAUTHBEARER"}
    ConfluentProducer(
        {"bootstrap_servers": UNREACHABLE, **oauth, "sasl_oauth_token_provider": StaticToken()}
    ).close()


def load(*argv: str, env: dict[str, str] | None = None) -> run_config.RunConfig:
    parser = argparse.ArgumentParser()
    run_config.add_arguments(parser)
    args = parser.parse_args(["--input-topic", "in", "--output-topic", "out", *argv])
    return run_config.load(args, env or {})


def test_client_is_chosen_by_name() -> None:
    assert load().client == "kafka-python"
    assert client_factory(load().client) is kafka_python_clients
    assert load("--client", "confluent-kafka").client == "confluent-kafka"
    chosen = load(env={"TRAILPULSE_RUN_CLIENT": "confluent-kafka"})
    assert client_factory(chosen.client) is confluent_clients
    assert chosen.effective()["run"]["client"] == "confluent-kafka"
    with pytest.raises(ValueError, match="unknown Kafka client 'librdkafka'"):
        client_factory("librdkafka")


def test_topic_tools_are_chosen_by_name() -> None:
    """The state store's admin, reader and writer come from the named client; a wrong name is refused."""
    python_tools, confluent_tools = topic_tools("kafka-python"), topic_tools("confluent-kafka")
    assert (python_tools.admin, python_tools.reader, python_tools.writer) == (
        KafkaPythonAdmin,
        KafkaPythonReader,
        KafkaPythonWriter,
    )
    assert (confluent_tools.admin, confluent_tools.reader, confluent_tools.writer) == (
        ConfluentAdmin,
        ConfluentReader,
        ConfluentWriter,
    )
    with pytest.raises(ValueError, match="unknown Kafka client 'librdkafka'"):
        topic_tools("librdkafka")
    with pytest.raises(ValueError, match="unknown Kafka client 'librdkafka'"):
        ChangelogStore({"bootstrap_servers": UNREACHABLE}, "state", "g", client="librdkafka")


@pytest.mark.parametrize(
    ("client", "option"), [("kafka-python", "no_such_option"), ("confluent-kafka", "max_request_size")]
)
def test_topic_tools_refuse_an_option_their_client_lacks(client: str, option: str) -> None:
    """Options are checked when a tool is built, before it connects."""
    with pytest.raises(ValueError, match=option):
        topic_tools(client).writer({"bootstrap_servers": UNREACHABLE, option: 1})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRAILPULSE_RUN_CLIENT": "librdkafka"}, "unknown Kafka client 'librdkafka'"),
        ({"TRAILPULSE_RUN_CLIENT": "confluent-kafka", "TRAILPULSE_KAFKA_CHECK_CRCS": "true"}, "check_crcs"),
    ],
)
def test_bad_client_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(env=env)
    load(env={"TRAILPULSE_KAFKA_CHECK_CRCS": "true"})  # kafka-python takes it


def test_static_oauth_token_is_accepted_for_confluent_kafka() -> None:
    env = {"TRAILPULSE_KAFKA_SASL_OAUTH_TOKEN": "tok", "TRAILPULSE_KAFKA_SASL_MECHANISM": "OAUTHBEARER"}
    config = load("--client", "confluent-kafka", env=env)
    refresh = librdkafka_config(run_config.client_options(config))["oauth_cb"]
    assert refresh("")[0] == "tok"

"""``trailpulse run`` configuration: TOML file, then ``TRAILPULSE_<SECTION>_<KEY>`` env vars, then flags.

Layout::

    [kafka]                  # kafka-python option names, passed through (consumer and producer)
    bootstrap_servers = "broker:9092"
    security_protocol = "SASL_SSL"
    sasl_mechanism = "SCRAM-SHA-512"      # PLAIN, SCRAM-SHA-256/512, OAUTHBEARER
    sasl_plain_username = "trailpulse"
    sasl_plain_password_file = "/run/secrets/kafka"   # any key + "_file": the value from a file
    ssl_cafile = "/etc/ssl/ca.pem"
    # sasl_oauth_token(_file) = "..."     # a static OAUTHBEARER token

    [run]
    client = "kafka-python"               # or "confluent-kafka": librdkafka, several times the consumer
                                          # throughput (pip install 'trailpulse[confluent]'); same [kafka]
                                          # names, those it has no equivalent for are refused
    input_topics = ["cloudtrail"]         # or input_pattern = "cloudtrail-.*"
    output_topic = "cloudtrail-insights"
    dead_letter_topic = "cloudtrail-rejects"   # optional
    group_id = "trailpulse"
    state_store = "directory"             # or "kafka": a compacted topic, for containers without a disk
                                          # (read and written with kafka-python whatever the client)
    state_dir = "/var/lib/trailpulse"     # state_store = "directory"
    state_topic = "trailpulse-state"      # state_store = "kafka"; created compacted if missing
    checkpoint_interval_s = 10.0
    health_port = 8080                    # -1: no HTTP endpoint
    poll_max_records = 2000
    max_future_minutes = 15               # records dated further ahead of the clock are dropped
    decode_workers = 1                    # processes decoding beside the main one (0: decode inline)

plus the engine tables of :mod:`consumers.config.engine_settings` (``[engine]``, ``[detector]``, ``[[rule]]``,
``[[suppress]]``). Env values are read as TOML values when they parse (numbers, booleans, lists),
else as strings: ``TRAILPULSE_KAFKA_SASL_PLAIN_PASSWORD=...``, ``TRAILPULSE_ENGINE_WARMUP_MINUTES=600``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumers.config import engine_settings
from consumers.kafka.options import split_options
from consumers.kafka.protocol import CLIENTS, KafkaClientError, client_factory
from consumers.state.changelog_store import ChangelogStore
from consumers.state.directory_store import StateStore, Store
from insights.config import EngineConfig

SECRET = re.compile(r"password|token|secret", re.IGNORECASE)
ENV_PREFIX = "TRAILPULSE_"
SECTIONS = ("kafka", "run", "engine", "detector")
STATE_STORES = ("directory", "kafka")


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why."""


@dataclass
class RunConfig:
    client: str = "kafka-python"
    input_topics: list[str] = field(default_factory=list)
    input_pattern: str | None = None
    output_topic: str = ""
    dead_letter_topic: str | None = None
    group_id: str = "trailpulse"
    state_store: str = "directory"
    state_dir: str = "trailpulse-state"
    state_topic: str = ""
    checkpoint_interval_s: float = 10.0
    health_port: int = 8080
    poll_max_records: int = 2000
    max_future_minutes: int = 15
    decode_workers: int = 1
    kafka: dict[str, Any] = field(default_factory=lambda: {"bootstrap_servers": "localhost:9092"})
    engine: EngineConfig = field(default_factory=EngineConfig)
    engine_tables: dict[str, Any] = field(default_factory=dict)

    def effective(self) -> dict[str, Any]:
        """The configuration as plain data, secrets masked (for ``--check-config`` and logs)."""
        run = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in NOT_RUN:
            run.pop(name)
        kafka = {k: ("***" if SECRET.search(k) else v) for k, v in sorted(self.kafka.items())}
        return {"kafka": kafka, "run": run, **self.engine_tables}


NOT_RUN = ("kafka", "engine", "engine_tables")
RUN_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig) if f.name not in NOT_RUN}


def _env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, text in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section = next((s for s in SECTIONS if rest.startswith(s + "_")), None)
        if section is None:
            continue
        data.setdefault(section, {})[rest[len(section) + 1 :]] = _env_value(text)


def _read_secret_files(kafka: dict[str, Any]) -> None:
    for key in [k for k in kafka if k.endswith("_file")]:
        path = kafka.pop(key)
        try:
            kafka[key[: -len("_file")]] = Path(str(path)).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"[kafka] {key}: cannot read {path}: {exc.strerror or exc}") from exc


def _oauth_provider(token: str) -> Any:
    from consumers.kafka.kafka_python import AbstractTokenProvider

    class StaticToken(AbstractTokenProvider):  # type: ignore[misc]
        def token(self) -> str:
            return token

    return StaticToken()


def _run_section(values: dict[str, Any], config: RunConfig) -> None:
    for name, value in values.items():
        f = RUN_FIELDS.get(name)
        if f is None:
            raise ConfigError(f"[run]: unknown setting {name!r} (known: {', '.join(sorted(RUN_FIELDS))})")
        default = getattr(config, name)
        if name == "input_topics":
            if isinstance(value, str):
                value = [t for t in value.split(",") if t]
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                raise ConfigError("[run] input_topics must be a list of topic names")
        elif isinstance(default, float | int) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"[run] {name} must be a number")
            value = type(default)(value)
        elif not isinstance(value, str):
            raise ConfigError(f"[run] {name} must be a string")
        setattr(config, name, value)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML file ([kafka], [run] and the engine tables)")
    p.add_argument("--client", choices=CLIENTS, help="Kafka client library (default kafka-python)")
    p.add_argument("--bootstrap-servers", help="kafka bootstrap_servers (host:port,...)")
    p.add_argument("--input-topic", action="append", dest="input_topics", help="input topic (repeatable)")
    p.add_argument("--input-pattern", help="input topics by regex")
    p.add_argument("--output-topic", help="topic for Insight events")
    p.add_argument("--dead-letter-topic", help="topic for rejected input")
    p.add_argument("--group-id", help="consumer group")
    p.add_argument("--state-store", choices=STATE_STORES, help="where the state is kept (default directory)")
    p.add_argument("--state-dir", help="state store directory (--state-store directory)")
    p.add_argument("--state-topic", help="compacted topic holding the state (--state-store kafka)")
    p.add_argument("--check-config", action="store_true", help="validate, print the effective config, exit")


def load(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> RunConfig:
    """The effective configuration from ``args.config``, ``env`` and the flags; ``ConfigError`` if bad."""
    data: dict[str, Any] = {}
    if args.config:
        try:
            data = tomllib.loads(Path(args.config).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {args.config}: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{args.config}: not valid TOML: {exc}") from exc
    _apply_env(data, os.environ if env is None else env)
    config = RunConfig()
    kafka = {**config.kafka, **data.pop("kafka", {})}
    _run_section(data.pop("run", {}), config)
    flags = {
        "client": args.client,
        "input_topics": args.input_topics,
        "input_pattern": args.input_pattern,
        "output_topic": args.output_topic,
        "dead_letter_topic": args.dead_letter_topic,
        "group_id": args.group_id,
        "state_store": args.state_store,
        "state_dir": args.state_dir,
        "state_topic": args.state_topic,
    }
    _run_section({k: v for k, v in flags.items() if v is not None}, config)
    if args.bootstrap_servers:
        kafka["bootstrap_servers"] = args.bootstrap_servers
    _read_secret_files(kafka)
    config.kafka = kafka
    options = {k: v for k, v in kafka.items() if k != "sasl_oauth_token"}
    try:
        config.engine = engine_settings.engine_config(data, args.config or "settings")
        split_options(options)
    except (engine_settings.SettingsError, ValueError) as exc:
        raise ConfigError(str(exc)) from exc
    _check_client(config.client, options)
    config.engine_tables = data
    if bool(config.input_topics) == bool(config.input_pattern):
        raise ConfigError("give one of input_topics (--input-topic) and input_pattern (--input-pattern)")
    if not config.output_topic:
        raise ConfigError("output_topic (--output-topic) is required")
    if config.decode_workers < 0:
        raise ConfigError("[run] decode_workers must be 0 or more")
    if config.checkpoint_interval_s <= 0 or config.poll_max_records <= 0:
        raise ConfigError("[run] checkpoint_interval_s and poll_max_records must be positive")
    if config.state_store not in STATE_STORES:
        raise ConfigError(
            f"[run] state_store must be one of {', '.join(STATE_STORES)}, not {config.state_store!r}"
        )
    if config.state_store == "kafka" and not config.state_topic:
        raise ConfigError('state_topic (--state-topic) is required with state_store = "kafka"')
    return config


def _check_client(name: str, options: dict[str, Any]) -> None:
    """The client exists, is installed, and can take every ``[kafka]`` option."""
    try:
        client_factory(name)
        if name == "confluent-kafka":
            from consumers.kafka.confluent_options import librdkafka_config

            librdkafka_config(options)  # names the options librdkafka has no equivalent for
    except (ValueError, KafkaClientError) as exc:
        raise ConfigError(f"[run] client = {name!r}: {exc}") from exc


def client_options(config: RunConfig) -> dict[str, Any]:
    """The ``[kafka]`` options as kafka-python takes them (a static OAUTHBEARER token made a provider)."""
    options = dict(config.kafka)
    token = options.pop("sasl_oauth_token", None)
    if token is not None:
        options["sasl_oauth_token_provider"] = _oauth_provider(str(token))
    return options


def open_store(config: RunConfig) -> Store:
    """The state store ``config`` names (nothing is read or connected yet)."""
    if config.state_store == "kafka":
        return ChangelogStore(client_options(config), config.state_topic, config.group_id)
    return StateStore(config.state_dir)

"""``trailpulse run`` configuration: TOML file, then ``TRAILPULSE_<TABLE>_<KEY>`` env vars, then flags.

Layout::

    [kafka]                  # kafka-python option names, passed through (consumer and producer)
    bootstrap_servers = "broker:9092"
    security_protocol = "SASL_SSL"
    sasl_mechanism = "SCRAM-SHA-512"      # PLAIN, SCRAM-SHA-256/512, OAUTHBEARER
    sasl_plain_username = "trailpulse"
    sasl_plain_password_file = "/run/secrets/kafka"   # any key + "_file": the value from a file
    ssl_cafile = "/etc/ssl/ca.pem"

    [run]
    input_topics = ["cloudtrail"]         # or input_pattern = "cloudtrail-.*"
    output_topic = "cloudtrail-insights"
    health_host = "0.0.0.0"               # in a container; the default 127.0.0.1 is this machine only

plus the engine tables of :mod:`consumers.config.engine_settings` (``[engine]``, ``[detector]``,
``[[rule]]``, ``[[suppress]]``) and the alert sinks' ``[[alert]]`` tables (:mod:`consumers.alerts.settings`,
no variables: their secrets name their own). Every setting, its type, default, range and variable is described
once (:mod:`consumers.config.run_settings`, :mod:`consumers.config.engine_settings`); a value from a
variable or a flag is typed by its setting, so ``TRAILPULSE_KAFKA_SASL_PLAIN_PASSWORD=1e5`` is the
string ``"1e5"``. A later source replaces a key of an earlier one (``x_file`` and ``x`` included).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumers.alerts.settings import AlertSettings, alert_settings
from consumers.config import engine_settings
from consumers.config.engine_settings import DETECTOR, ENGINE
from consumers.config.run_settings import FROM_FILE, KAFKA, RUN, kafka_setting
from consumers.config.schema import ENV_PREFIX, Setting, SettingsError, unknown
from consumers.kafka.protocol import KafkaClientError, client_factory
from consumers.state.changelog_store import ChangelogStore
from consumers.state.directory_store import StateStore, Store
from insights.config import EngineConfig

TABLES = ("kafka", "run", "engine", "detector")
FLAGGED = [s for s in (*KAFKA.values(), *RUN.values()) if s.flag]


class ConfigError(SettingsError):
    """The configuration cannot be used; the message says where (file, variable, flag), which key and why."""


def _default(name: str) -> Any:
    """The default of ``[run] name``, taken from its setting (one source)."""
    return RUN[name].default


@dataclass
class RunConfig:
    """The effective ``run`` configuration: the ``[run]`` settings, the ``[kafka]`` options, the engine."""

    client: str = _default("client")
    input_topics: list[str] = field(default_factory=list)
    input_pattern: str | None = _default("input_pattern")
    output_topic: str = _default("output_topic")
    dead_letter_topic: str | None = _default("dead_letter_topic")
    reason_field: bool = _default("reason_field")
    group_id: str = _default("group_id")
    state_store: str = _default("state_store")
    state_dir: str = _default("state_dir")
    state_topic: str = _default("state_topic")
    checkpoint_interval_s: float = _default("checkpoint_interval_s")
    health_host: str = _default("health_host")
    health_port: int = _default("health_port")
    metrics_top_apis: int = _default("metrics_top_apis")
    poll_max_records: int = _default("poll_max_records")
    partition_wait_s: float = _default("partition_wait_s")
    partition_idle_s: float = _default("partition_idle_s")
    align_minutes: int = _default("align_minutes")
    max_future_minutes: int = _default("max_future_minutes")
    decode_workers: int = _default("decode_workers")
    kafka: dict[str, Any] = field(
        default_factory=lambda: {"bootstrap_servers": KAFKA["bootstrap_servers"].default}
    )
    engine: EngineConfig = field(default_factory=EngineConfig)
    alerts: list[AlertSettings] = field(default_factory=list)

    def effective(self) -> dict[str, Any]:
        """The configuration as plain data, secrets as ``"***"`` (for ``--check-config`` and logs)."""
        kafka = {}
        for name, value in sorted(self.kafka.items()):
            setting = kafka_setting(name)
            kafka[name] = setting.shown(value) if setting else "***"
        detector = self.engine.detector
        return {
            "kafka": kafka,
            "run": {name: setting.shown(getattr(self, name)) for name, setting in RUN.items()},
            "engine": {name: getattr(self.engine, name) for name in ENGINE},
            "detector": {name: getattr(detector, name) for name in DETECTOR},
            "rule": [
                {
                    "event_source": r.event_source,
                    "event_name": r.event_name,
                    "insight_type": r.insight_type,
                    **r.params,
                }
                for r in self.engine.rules
            ],
            "alert": [alert.shown() for alert in self.alerts],
        }


@dataclass(frozen=True)
class Given:
    """One value from one source: ``where`` names the file and table, the variable or the flag;
    ``text`` values (variables, flags) are typed by their setting."""

    value: Any
    where: str
    text: bool


def _oauth_provider(token: str) -> Any:
    from consumers.kafka.kafka_python import AbstractTokenProvider

    class StaticToken(AbstractTokenProvider):  # type: ignore[misc]
        def token(self) -> str:
            return token

    return StaticToken()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        help="TOML file with the [kafka] and [run] tables and the engine tables of replay --config",
    )
    for setting in FLAGGED:
        default = "" if setting.default in (None, "", []) else f" (default {setting.default})"
        if setting.kind is list:
            default = " (repeat the flag for several)"
        p.add_argument(
            str(setting.flag),
            dest=setting.name,
            choices=setting.choices or None,
            action="append" if setting.kind is list else "store",
            help=f"{setting.meaning}{default}; [{setting.table}] {setting.name}, {setting.env}",
        )
    p.add_argument(
        "--check-config",
        action="store_true",
        help="check the configuration, print it (secrets as ***) and exit",
    )
    p.add_argument(
        "--print-config-reference",
        action="store_true",
        help="print every setting (default, variable, flag, meaning) as a Markdown table and exit",
    )


def _given(
    args: argparse.Namespace, env: Mapping[str, str]
) -> tuple[dict[str, dict[str, Given]], dict[str, Any]]:
    """Every value by table and key, the later source replacing the earlier; and the parsed file."""
    data = engine_settings.read_toml(args.config) if args.config else {}
    extra = set(data) - {*TABLES, "rule", "suppress", "alert"}
    if extra:
        raise SettingsError(f"{args.config}: unknown table(s) {', '.join(sorted(extra))}")
    given: dict[str, dict[str, Given]] = {table: {} for table in TABLES}

    def put(table: str, key: str, value: Given) -> None:
        found = given[table]
        found.pop(key[: -len(FROM_FILE)] if key.endswith(FROM_FILE) else key + FROM_FILE, None)
        found[key] = value

    for table in TABLES:
        for key, value in data.get(table, {}).items():
            put(table, key, Given(value, f"{args.config} [{table}]", text=False))
    for name, text in env.items():
        rest = name[len(ENV_PREFIX) :].lower() if name.startswith(ENV_PREFIX) else ""
        table = next((t for t in TABLES if rest.startswith(t + "_")), "")
        if table:
            put(table, rest[len(table) + 1 :], Given(text, name, text=True))
    for setting in FLAGGED:
        value = getattr(args, setting.name)
        if value is not None:
            put(setting.table, setting.name, Given(value, str(setting.flag), text=isinstance(value, str)))
    return given, data


def _resolved(given: Mapping[str, Given], settings: dict[str, Setting]) -> dict[str, Any]:
    """The given values typed and checked by their settings; an unknown key names its source."""
    values = {}
    for key, g in given.items():
        if key not in settings:
            raise unknown(g.where, key, settings)
        values[key] = (
            settings[key].parse(g.value, g.where) if g.text else settings[key].check(g.value, g.where)
        )
    return values


def _kafka_options(given: Mapping[str, Given]) -> dict[str, Any]:
    """The ``[kafka]`` options, ``x_file`` read into ``x``; unknown names refused with their source."""
    options: dict[str, Any] = {"bootstrap_servers": KAFKA["bootstrap_servers"].default}
    for key, g in given.items():
        name = key[: -len(FROM_FILE)] if key.endswith(FROM_FILE) else key
        setting = kafka_setting(name)
        if setting is None:
            raise SettingsError(f"{g.where}: unknown kafka-python option {key!r}")
        if name != key:
            try:
                text = Path(str(g.value)).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise SettingsError(
                    f"{g.where}: {key}: cannot read {g.value}: {exc.strerror or exc}"
                ) from exc
            g = Given(text, f"{g.where} {key}", text=True)
        options[name] = setting.parse(g.value, g.where) if g.text else setting.check(g.value, g.where)
    return options


def load(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> RunConfig:
    """The effective configuration from ``args.config``, ``env`` and the flags; ``ConfigError`` if bad."""
    try:
        given, data = _given(args, os.environ if env is None else env)
        config = RunConfig(**_resolved(given["run"], RUN))
        config.kafka = _kafka_options(given["kafka"])
        config.engine = engine_settings.build(
            _resolved(given["engine"], ENGINE),
            _resolved(given["detector"], DETECTOR),
            engine_settings.rules(data, args.config or "settings"),
            args.config or "settings",
        )
        config.alerts = alert_settings(data, args.config or "settings", os.environ if env is None else env)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from exc
    _check_client(config.client, {k: v for k, v in config.kafka.items() if k != "sasl_oauth_token"})
    if bool(config.input_topics) == bool(config.input_pattern):
        raise ConfigError("give one of input_topics (--input-topic) and input_pattern (--input-pattern)")
    if not config.output_topic:
        raise ConfigError("output_topic (--output-topic) is required")
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
        return ChangelogStore(
            client_options(config), config.state_topic, config.group_id, client=config.client
        )
    return StateStore(config.state_dir)

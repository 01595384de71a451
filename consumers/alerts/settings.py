"""``[[alert]]`` tables: one alert sink each, checked like every other setting.

::

    [[alert]]
    kind = "slack"                          # webhook, alertmanager_webhook, alertmanager, slack, pagerduty
    name = "security-channel"               # the sink's name in logs and metrics (default: the kind)
    url_env = "SLACK_WEBHOOK_URL"           # or url_file = "/run/secrets/slack", or url = "..."

Why URLs and secrets are read from a variable or a file: Slack's and most webhook URLs *are* the
credential, so they belong with the other secrets, not in a configuration file that is committed or
printed; ``--check-config`` shows them as ``***`` and no log line carries them. ``url`` itself is
accepted for endpoints whose address is not a secret (an Alertmanager inside the cluster).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consumers.alerts.http import Endpoint, EndpointRefusedError
from consumers.alerts.signing import decode_secret
from consumers.config.schema import Setting, SettingsError, unknown
from insights.config import Bounds

KINDS = ("webhook", "alertmanager_webhook", "alertmanager", "slack", "pagerduty")
SOURCES = ("", "_env", "_file")  # a secret value given as is, by variable name, or by file path
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
POSITIVE = Bounds(low=0, low_open=True)


def _alert(name: str, kind: type, default: Any, meaning: str, **more: Any) -> Setting:
    return Setting("alert", name, kind, default, meaning, **more)


ALERT: dict[str, Setting] = {
    s.name: s
    for s in (
        _alert("kind", str, "webhook", "what the endpoint takes (see Alerting)", choices=KINDS),
        _alert("name", str, "", "the sink's name in logs and metrics (default: its kind); unique"),
        _alert("url", str, "", "endpoint URL; also url_env (a variable's name) or url_file", secret=True),
        _alert(
            "secret",
            str,
            "",
            "webhook: Standard Webhooks signing secrets (whsec_...), space-separated to rotate;"
            " also secret_env, secret_file",
            secret=True,
        ),
        _alert(
            "routing_key",
            str,
            "",
            "pagerduty: the integration's routing key; also routing_key_env, routing_key_file",
            secret=True,
        ),
        _alert("allow_private", bool, False, "allow loopback/private addresses and plain http to them"),
        _alert("ca_file", str, "", "CA bundle for the endpoint's certificate (default: the system's)"),
        _alert("timeout_s", float, 10.0, "timeout of one POST", bounds=Bounds(low=0.1, high=300)),
        _alert("queue_size", int, 10_000, "alerts held for delivery; beyond, dead-lettered", bounds=POSITIVE),
        _alert("retry_first_s", float, 1.0, "first retry's backoff ceiling (doubles)", bounds=POSITIVE),
        _alert("retry_cap_s", float, 300.0, "largest backoff between tries", bounds=POSITIVE),
        _alert("give_up_after_s", float, 3600.0, "from the first try to dead-lettering", bounds=POSITIVE),
        _alert(
            "resend_interval_s",
            float,
            60.0,
            "alertmanager: how often active alerts are posted again (below its resolve_timeout)",
            bounds=Bounds(low=1),
        ),
        _alert("dead_letter_file", str, "", "JSON lines file for alerts given up on (default: see Alerting)"),
        _alert("receiver", str, "trailpulse", "alertmanager_webhook: the payload's receiver"),
        _alert("external_url", str, "", "alertmanager, alertmanager_webhook: a link back (generatorURL)"),
    )
}
SECRET_NAMES = ("url", "secret", "routing_key")


@dataclass(frozen=True)
class AlertSettings:
    """One ``[[alert]]`` table, checked; secrets already read from their variable or file."""

    values: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        if name in ALERT:
            return self.values.get(name, ALERT[name].default)
        raise AttributeError(name)

    @property
    def label(self) -> str:
        return str(self.values.get("name") or self.values.get("kind", "webhook"))

    def shown(self) -> dict[str, Any]:
        """For ``--check-config``: every value, secrets as ``***``."""
        return {name: setting.shown(getattr(self, name)) for name, setting in ALERT.items()}


def _secret(entry: dict[str, Any], name: str, where: str, env: Mapping[str, str]) -> str | None:
    given = [name + suffix for suffix in SOURCES if name + suffix in entry]
    if len(given) > 1:
        raise SettingsError(f"{where}: give one of {', '.join(given)}")
    if not given:
        return None
    key = given[0]
    value = entry.pop(key)
    if not isinstance(value, str):
        raise SettingsError(f"{where}: {key} must be a string")
    if key.endswith("_env"):
        if value not in env:
            raise SettingsError(f"{where}: {key}: the variable {value} is not set")
        return env[value].strip()
    if key.endswith("_file"):
        try:
            return Path(value).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{where}: {key}: cannot read {value}: {exc.strerror or exc}") from exc
    return value


def alert_settings(
    data: Mapping[str, Any], where: str, env: Mapping[str, str] | None = None
) -> list[AlertSettings]:
    """Every ``[[alert]]`` of a parsed TOML file, checked; ``SettingsError`` names the table."""
    env = os.environ if env is None else env
    found: list[AlertSettings] = []
    for i, raw in enumerate(data.get("alert", [])):
        at = f"{where} [[alert]] #{i + 1}"
        if not isinstance(raw, dict):
            raise SettingsError(f"{at}: not a table")
        entry = dict(raw)
        secrets = {name: _secret(entry, name, at, env) for name in SECRET_NAMES}
        values: dict[str, Any] = {}
        for name, value in entry.items():
            if name not in ALERT:
                raise unknown(at, name, ALERT)
            values[name] = ALERT[name].check(value, at)
        values.update({name: ALERT[name].check(v, at) for name, v in secrets.items() if v is not None})
        found.append(_complete(AlertSettings(values), at))
    labels = [a.label for a in found]
    if len(set(labels)) != len(labels):
        raise SettingsError(f"{where}: two [[alert]] tables are named alike ({', '.join(labels)}): set name")
    return found


def _complete(alert: AlertSettings, at: str) -> AlertSettings:
    """What each kind needs, and the defaults that depend on the kind."""
    values = dict(alert.values)
    if alert.kind == "pagerduty":
        values.setdefault("url", PAGERDUTY_URL)
        if not alert.routing_key:
            raise SettingsError(f"{at}: pagerduty needs routing_key (or routing_key_env, routing_key_file)")
    if not values.get("url"):
        raise SettingsError(f"{at}: {alert.kind} needs url (or url_env, url_file)")
    if alert.secret and alert.kind != "webhook":
        raise SettingsError(f"{at}: secret signs webhook alerts only")
    for secret in str(alert.secret).split():
        try:
            decode_secret(secret)
        except ValueError as exc:
            raise SettingsError(f"{at}: secret: {exc}") from exc
    if alert.retry_first_s > alert.retry_cap_s:
        raise SettingsError(f"{at}: retry_first_s must be <= retry_cap_s")
    try:
        Endpoint(values["url"], alert.allow_private).check(resolve=False)  # addresses: at each post
    except EndpointRefusedError as exc:
        raise SettingsError(f"{at}: {exc}") from exc
    return AlertSettings(values)

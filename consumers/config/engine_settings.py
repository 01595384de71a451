"""Engine settings from a TOML file, validated: an unknown key or a wrong type is an error.

Layout (every table optional)::

    [engine]                      # any EngineConfig field, e.g.
    allowed_lateness_minutes = 10
    warmup_minutes = 2160

    [detector]                    # any DetectorParams field: the global sensitivity
    start_surprise = 7.0
    min_count = 5

    [[rule]]                      # per-API overrides, applied in order (later rules win)
    event_source = "ec2.amazonaws.com"
    event_name = "Describe*"
    insight_type = "ApiErrorRateInsight"   # optional, default "*"
    start_surprise = 9.0

    [[suppress]]                  # switch detection off for matching APIs
    event_source = "s3.amazonaws.com"
    event_name = "GetBucket*"
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from insights.config import DetectorParams, EngineConfig, Rule, suppress

MATCH_KEYS = {"event_source", "event_name", "insight_type"}


class SettingsError(ValueError):
    """The settings file cannot be used; the message names the file and the key."""


def _typed(
    kind: type[Any], values: dict[str, Any], where: str, skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """``values`` checked against the fields of dataclass ``kind`` (numbers coerced to its type)."""
    fields = {f.name: f for f in dataclasses.fields(kind) if f.name not in skip}
    checked: dict[str, Any] = {}
    for name, value in values.items():
        field = fields.get(name)
        if field is None:
            raise SettingsError(f"{where}: unknown setting {name!r} (known: {', '.join(sorted(fields))})")
        default = field.default
        if isinstance(default, bool) and not isinstance(value, bool):
            raise SettingsError(f"{where}: {name} must be true or false")
        if isinstance(default, int | float) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SettingsError(f"{where}: {name} must be a number")
            value = type(default)(value)
        checked[name] = value
    return checked


def _match(entry: dict[str, Any], where: str) -> tuple[dict[str, str], dict[str, Any]]:
    match = {k: v for k, v in entry.items() if k in MATCH_KEYS}
    if any(not isinstance(v, str) for v in match.values()):
        raise SettingsError(f"{where}: event_source, event_name and insight_type are glob strings")
    return match, {k: v for k, v in entry.items() if k not in MATCH_KEYS}


def engine_config(data: dict[str, Any], where: str = "settings") -> EngineConfig:
    """Build an :class:`EngineConfig` from parsed TOML."""
    unknown = set(data) - {"engine", "detector", "rule", "suppress"}
    if unknown:
        raise SettingsError(f"{where}: unknown table(s) {', '.join(sorted(unknown))}")
    engine = _typed(
        EngineConfig, data.get("engine", {}), f"{where} [engine]", frozenset({"detector", "rules"})
    )
    detector = DetectorParams(**_typed(DetectorParams, data.get("detector", {}), f"{where} [detector]"))
    rules: list[Rule] = []
    for i, entry in enumerate(data.get("rule", [])):
        match, params = _match(entry, f"{where} [[rule]] #{i + 1}")
        rules.append(Rule(**match, params=_typed(DetectorParams, params, f"{where} [[rule]] #{i + 1}")))
    for i, entry in enumerate(data.get("suppress", [])):
        match, rest = _match(entry, f"{where} [[suppress]] #{i + 1}")
        if rest:
            raise SettingsError(f"{where} [[suppress]] #{i + 1}: only event_source, event_name, insight_type")
        rules.append(suppress(**match))
    return EngineConfig(**engine, detector=detector, rules=tuple(rules))


def load(path: str | Path) -> EngineConfig:
    """Read and validate a TOML settings file."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
    return engine_config(data, str(path))

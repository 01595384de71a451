"""Engine settings from a TOML file, validated: an unknown key, a wrong type or a value out of its
range (the bounds :mod:`insights.config` gives each field) is an error naming the file and the key.

Layout (every table optional)::

    [engine]                      # any EngineConfig field, e.g.
    allowed_lateness_minutes = 35
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

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from consumers.config.schema import Setting, SettingsError, from_dataclass, unknown
from insights.config import DetectorParams, EngineConfig, Rule, suppress

__all__ = ["DETECTOR", "ENGINE", "SettingsError", "engine_config", "load", "read_toml"]

MATCH_KEYS = {"event_source", "event_name", "insight_type"}
ENGINE = from_dataclass("engine", EngineConfig, frozenset({"detector", "rules"}))
DETECTOR = from_dataclass("detector", DetectorParams)
TABLES = {"engine", "detector", "rule", "suppress"}


def checked(values: Mapping[str, Any], settings: dict[str, Setting], where: str) -> dict[str, Any]:
    """``values`` (parsed TOML) checked against ``settings``: unknown keys, types and ranges."""
    out = {}
    for name, value in values.items():
        if name not in settings:
            raise unknown(where, name, settings)
        out[name] = settings[name].check(value, where)
    return out


def _match(entry: dict[str, Any], where: str) -> tuple[dict[str, str], dict[str, Any]]:
    match = {k: v for k, v in entry.items() if k in MATCH_KEYS}
    if any(not isinstance(v, str) for v in match.values()):
        raise SettingsError(f"{where}: event_source, event_name and insight_type are glob strings")
    return match, {k: v for k, v in entry.items() if k not in MATCH_KEYS}


def rules(data: Mapping[str, Any], where: str) -> tuple[Rule, ...]:
    """The ``[[rule]]`` overrides then the ``[[suppress]]`` entries, in file order."""
    found: list[Rule] = []
    for i, entry in enumerate(data.get("rule", [])):
        at = f"{where} [[rule]] #{i + 1}"
        match, params = _match(entry, at)
        found.append(Rule(**match, params=checked(params, DETECTOR, at)))
    for i, entry in enumerate(data.get("suppress", [])):
        match, rest = _match(entry, f"{where} [[suppress]] #{i + 1}")
        if rest:
            raise SettingsError(f"{where} [[suppress]] #{i + 1}: only event_source, event_name, insight_type")
        found.append(suppress(**match))
    return tuple(found)


def build(
    engine: dict[str, Any], detector: dict[str, Any], found: tuple[Rule, ...], where: str
) -> EngineConfig:
    """The :class:`EngineConfig` of checked values; a combination it refuses names ``where``."""
    try:
        return EngineConfig(**engine, detector=DetectorParams(**detector), rules=found)
    except ValueError as exc:
        raise SettingsError(f"{where}: {exc}") from exc


def engine_config(data: dict[str, Any], where: str = "settings") -> EngineConfig:
    """Build an :class:`EngineConfig` from parsed TOML."""
    extra = set(data) - TABLES
    if extra:
        raise SettingsError(f"{where}: unknown table(s) {', '.join(sorted(extra))}")
    engine = checked(data.get("engine", {}), ENGINE, f"{where} [engine]")
    detector = checked(data.get("detector", {}), DETECTOR, f"{where} [detector]")
    return build(engine, detector, rules(data, where), where)


def read_toml(path: str | Path) -> dict[str, Any]:
    """The parsed TOML file; ``SettingsError`` naming the file if it cannot be read or parsed."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc


def load(path: str | Path) -> EngineConfig:
    """Read and validate a TOML settings file."""
    return engine_config(read_toml(path), str(path))

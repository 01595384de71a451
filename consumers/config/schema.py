"""One typed description per setting, and the checker every source goes through.

A :class:`Setting` says its table, name, type, default, range and one line of meaning; from it come
its environment variable (``TRAILPULSE_<TABLE>_<NAME>``), the parsing of text (an environment value
or a flag is typed by the setting it goes to: a secret or a topic stays a string, ``1e5`` included),
the checks, ``--check-config``'s masking and the configuration reference.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

from insights.config import Bounds, SettingsError

__all__ = ["ENV_PREFIX", "Setting", "SettingsError", "from_dataclass", "unknown"]

ENV_PREFIX = "TRAILPULSE_"
TRUE_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclass(frozen=True)
class Setting:
    """One setting of one table. ``kind`` is ``str``, ``int``, ``float``, ``bool``, ``list`` (of
    strings) or ``object`` (passed through as given); ``optional`` settings may be unset (``None``);
    ``must_exist``: the value names a file that must exist."""

    table: str
    name: str
    kind: type
    default: Any
    meaning: str
    bounds: Bounds | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False
    secret: bool = False
    must_exist: bool = False
    flag: str | None = None

    @property
    def env(self) -> str:
        return f"{ENV_PREFIX}{self.table.upper()}_{self.name.upper()}"

    def parse(self, text: str, where: str) -> Any:
        """``text`` (an environment value or a flag) as this setting's type, then :meth:`check`."""
        value: Any = text
        if self.kind is bool:
            value = TRUE_WORDS.get(text.strip().lower())
            if value is None:
                raise SettingsError(f"{where}: {self.name} must be true or false, not {text!r}")
        elif self.kind is int or self.kind is float:
            value = _number(text.strip(), self.kind)
            if value is None:
                raise SettingsError(f"{where}: {self.name} must be a number, not {text!r}")
        return self.check(value, where)  # a list's text is split at commas there

    def check(self, value: Any, where: str) -> Any:
        """``value`` (from TOML or :meth:`parse`) in this setting's type and range; ``SettingsError``."""
        if value is None and self.optional:
            return None
        value = self._typed(value, where)
        if self.bounds is not None and (problem := self.bounds.problem(value)) is not None:
            raise SettingsError(f"{where}: {self.name} {problem}, not {value!r}")
        if self.choices and value not in self.choices:
            raise SettingsError(
                f"{where}: {self.name} must be one of {', '.join(self.choices)}, not {value!r}"
            )
        if self.must_exist and not os.path.isfile(value):
            raise SettingsError(f"{where}: {self.name}: no such file {value!r}")
        return value

    def _typed(self, value: Any, where: str) -> Any:
        if self.kind is object:
            return value
        if self.kind is bool:
            if not isinstance(value, bool):
                raise SettingsError(f"{where}: {self.name} must be true or false")
            return value
        if self.kind is int:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise SettingsError(f"{where}: {self.name} must be a number (an integer)")
            return value
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
                raise SettingsError(f"{where}: {self.name} must be a number")
            return float(value)
        if self.kind is list:
            if isinstance(value, str):  # from a variable or a flag
                value = [item.strip() for item in value.split(",") if item.strip()]
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise SettingsError(f"{where}: {self.name} must be a list of strings")
            return value
        if not isinstance(value, str):
            raise SettingsError(f"{where}: {self.name} must be a string")
        return value

    def shown(self, value: Any) -> Any:
        """``value`` as ``--check-config`` prints it: a secret as ``"***"``."""
        return "***" if self.secret and value is not None else value


def _number(text: str, kind: type) -> int | float | None:
    """``text`` as a number of ``kind`` (``"5.0"`` is the integer 5); None if it is not one."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    if kind is int:
        return int(number) if number.is_integer() else None
    return number


def from_dataclass(table: str, kind: type, skip: frozenset[str] = frozenset()) -> dict[str, Setting]:
    """The settings of an engine dataclass whose fields carry ``meaning``/``bounds`` metadata."""
    settings = {}
    for f in dataclasses.fields(kind):
        if f.name in skip:
            continue
        settings[f.name] = Setting(
            table,
            f.name,
            type(f.default),
            f.default,
            f.metadata.get("meaning", ""),
            f.metadata.get("bounds"),
        )
    return settings


def unknown(where: str, name: str, known: dict[str, Setting]) -> SettingsError:
    """The error for a key no setting has, listing those it could have meant."""
    return SettingsError(f"{where}: unknown setting {name!r} (known: {', '.join(sorted(known))})")

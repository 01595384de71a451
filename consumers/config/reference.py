"""The configuration reference, a Markdown table made from the settings' own descriptions.

``trailpulse run --print-config-reference`` prints it; the README's table is this output, so it
cannot drift from what the checker accepts.
"""

from __future__ import annotations

from collections.abc import Iterable

from consumers.alerts.settings import ALERT
from consumers.config.engine_settings import DETECTOR, ENGINE
from consumers.config.run_settings import KAFKA, RUN
from consumers.config.schema import Setting

HEADER = (
    "| Setting | Default | Environment variable | Flag | Meaning |",
    "|---|---|---|---|---|",
)
EXTRA = (
    "| `[kafka]` any other kafka-python option | kafka-python's | `TRAILPULSE_KAFKA_<OPTION>` | |"
    " passed to the consumer and the producer, typed by kafka-python's default |",
    "| `[kafka]` any key + `_file` | | `TRAILPULSE_KAFKA_<KEY>_FILE` | |"
    " the key's value is read from this file (for secrets; the file must exist) |",
    "| `[[rule]]` | | | | `event_source`, `event_name`, `insight_type` (globs) and any `[detector]`"
    " setting: per-API sensitivity, later rules win |",
    "| `[[suppress]]` | | | | `event_source`, `event_name`, `insight_type` (globs): no insights for"
    " matching APIs |",
)


def _default(setting: Setting) -> str:
    value = setting.default
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def _row(setting: Setting) -> str:
    if setting.table == "alert":  # one table per sink: no variables (secrets name their own)
        key, env = f"`[[alert]] {setting.name}`", ""
    else:
        key, env = f"`[{setting.table}] {setting.name}`", f"`{setting.env}`"
    limits = [f"{setting.bounds}"] if setting.bounds else []
    if setting.choices:
        limits.append("one of " + ", ".join(setting.choices))
    meaning = setting.meaning + (f" ({'; '.join(limits)})" if limits else "")
    flag = f"`{setting.flag}`" if setting.flag else ""
    return f"| {key} | {_default(setting)} | {env} | {flag} | {meaning.replace('|', '/')} |"


def reference(tables: Iterable[dict[str, Setting]] = (KAFKA, RUN, ENGINE, DETECTOR, ALERT)) -> str:
    """Every setting: table and key, default, variable, flag, one line of meaning with its range."""
    rows = [_row(setting) for table in tables for setting in table.values()]
    return "\n".join([*HEADER, *rows, *EXTRA]) + "\n"

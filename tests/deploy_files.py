"""What the tests of ``deploy/`` read: the metric names the daemon exports (from the README's metrics
reference, which ``tests/unit/test_metrics.py`` keeps equal to the registry), the Grafana dashboard's
queries as Prometheus would run them, and the metric names a PromQL expression selects.

>>> sorted(metric_names('sum by (le) (rate(a_bucket{job=~"$job"}[5m])) / ignoring(x) b offset 1h > 2e3'))
['a_bucket', 'b']
>>> sorted(metric_names('time() - up{job="x"} and on (job) c:rec:rate5m == bool 0'))
['c:rec:rate5m', 'up']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "trailpulse-rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "trailpulse-rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "trailpulse-dashboard.json"
#: What stands for Grafana's interval macros when a test runs a panel's query itself.
RATE_INTERVAL = "1m"

_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
_KEYWORDS |= {"group_left", "group_right", "inf", "nan"}
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def exported_metric_names() -> set[str]:
    """Every series name ``/metrics`` can carry: each family of the README's reference table, and
    a histogram's ``_bucket``, ``_sum`` and ``_count``."""
    readme = (ROOT / "README.md").read_text()
    start, end = "<!-- metrics-reference:start -->\n", "<!-- metrics-reference:end -->"
    table = readme.split(start, 1)[1].split(end)[0]
    names: set[str] = set()
    for line in table.splitlines()[2:]:
        name, kind = (cell.strip().strip("`") for cell in line.strip("|").split(" | ")[:2])
        names.update(name + suffix for suffix in _SUFFIXES.get(kind, ("",)))
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects: identifiers that are not functions, keywords, label names
    (in braces or grouping clauses), strings, durations or numbers."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    found = re.finditer(r"(?<![\w.:$])([A-Za-z_:][\w:]*)(\s*\()?", text)
    return {m.group(1) for m in found if not m.group(2)} - _KEYWORDS


@dataclass(frozen=True)
class PanelQuery:
    """One target of a dashboard panel, its template variables replaced (see :func:`panel_queries`)."""

    panel: str
    ref_id: str
    expr: str
    instant: bool


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that shows data (rows apart, those nested in collapsed rows included)."""
    out: list[dict[str, Any]] = []
    for panel in board["panels"]:
        out.extend(panel.get("panels", []) if panel["type"] == "row" else [panel])
    return out


def panel_queries(board: dict[str, Any]) -> list[PanelQuery]:
    """Each panel target's expression as Prometheus gets it from Grafana with every variable at
    "All": ``$var`` is the variable's ``allValue``, the interval macros :data:`RATE_INTERVAL`."""
    values = {"__rate_interval": RATE_INTERVAL, "__interval": RATE_INTERVAL, "__range": RATE_INTERVAL}
    values |= {v["name"]: v["allValue"] for v in board["templating"]["list"] if v.get("includeAll")}

    def substitute(expr: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)

    return [
        PanelQuery(p["title"], t["refId"], substitute(t["expr"]), bool(t.get("instant")))
        for p in panels(board)
        for t in p["targets"]
    ]

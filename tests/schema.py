"""Check that a record has the shape of AWS's own Insight examples (``shared/reference``).

Why: SIEM parsers built for CloudTrail must read our records unchanged, so tests compare against
the reference file itself. Key sets, key order, constant values, JSON types and attribute names are
derived from the reference (the ``eventVersion`` 1.09 records set the strict shape); only rules the
examples cannot show (top 5, descending order, errorCode placement) are written out here.

``assert_insight_shape(record)`` is the strict 1.09 check for our output;
``assert_insight_shape(record, legacy=True)`` accepts AWS's older 1.07/1.08 examples, which lack
``sourceEventCategory``, sometimes durations and attributions, and use placeholder ids.
"""

from __future__ import annotations

import functools
import json
import math
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

REFERENCE_PATH = Path(__file__).resolve().parent / "data/aws-insight-examples/insight-examples.json"
STRICT_VERSION = "1.09"
INSIGHT_TYPES = ("ApiCallRateInsight", "ApiErrorRateInsight")
STATES = ("Start", "End")
MAX_VALUES = 5

_EVENT_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00Z")
# AWS documentation ids are UUID-like but use placeholders ("EXAMPLE-9b6f-...", "...98a2198a408x").
_LEGACY_ID = re.compile(r"[0-9A-Za-z]{4,12}(?:-[0-9A-Za-z]{4,12}){4}")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else type(value).__name__


def key_structure(value: Any) -> Any:
    """The nested keys (in order) and JSON types of a value, for comparing shapes.

    >>> key_structure({"a": [{"v": "x", "n": 1.5}], "b": 2})
    {'a': [{'v': 'string', 'n': 'number'}], 'b': 'number'}
    """
    if isinstance(value, dict):
        return {k: key_structure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [key_structure(v) for v in value]
    return _json_type(value)


@functools.cache
def reference_examples() -> tuple[dict[str, Any], ...]:
    """AWS's example records, parsed once."""
    return tuple(json.loads(REFERENCE_PATH.read_text(encoding="utf-8")))


def _strict_examples() -> list[dict[str, Any]]:
    examples = [r for r in reference_examples() if r["eventVersion"] == STRICT_VERSION]
    assert examples, f"reference has no {STRICT_VERSION} example"
    return examples


def _merge_types(template: dict[str, Any], value: Any) -> None:
    """Fold one value's JSON types into ``template`` (path → allowed types / children)."""
    template.setdefault("types", set()).add(_json_type(value))
    if isinstance(value, dict):
        fields = template.setdefault("fields", {})
        for k, v in value.items():
            _merge_types(fields.setdefault(k, {}), v)
    elif isinstance(value, list):
        for v in value:
            _merge_types(template.setdefault("items", {}), v)


@functools.cache
def _reference() -> dict[str, Any]:
    """What the reference says: strict key orders and constants, types from every example."""
    strict = _strict_examples()

    def one(keys: set[tuple[str, ...]], what: str) -> tuple[str, ...]:
        assert len(keys) == 1, f"1.09 examples disagree on {what}: {keys}"
        return next(iter(keys))

    types: dict[str, Any] = {}
    for record in reference_examples():
        _merge_types(types, record)
    contexts = [r["insightDetails"]["insightContext"] for r in strict]
    attributions = [a for c in contexts for a in c["attributions"]]
    values = [v for a in attributions for side in ("insight", "baseline") for v in a[side]]
    return {
        "top": one({tuple(r) for r in strict}, "top-level keys"),
        "constants": {
            k: one({(r[k],) for r in strict}, k)[0] for k in ("eventVersion", "eventType", "eventCategory")
        },
        "details": one({tuple(r["insightDetails"]) for r in strict}, "insightDetails keys"),
        "context": one({tuple(c) for c in contexts}, "insightContext keys"),
        "statistics": one({tuple(c["statistics"]) for c in contexts}, "statistics keys"),
        "attribution": one({tuple(a) for a in attributions}, "attribution keys"),
        "value": one({tuple(v) for v in values}, "attribution value keys"),
        "attributes": frozenset(
            a["attribute"]
            for r in reference_examples()
            for a in r["insightDetails"]["insightContext"].get("attributions", [])
        ),
        "types": types,
    }


def _check_types(value: Any, template: dict[str, Any], path: str) -> None:
    """Every key known to the reference and of a JSON type the reference uses there."""
    kind = _json_type(value)
    assert kind in template["types"], f"{path}: {kind}, reference has {sorted(template['types'])}"
    if isinstance(value, dict):
        for k, v in value.items():
            assert k in template["fields"], f"{path}: key {k!r} not in the reference"
            _check_types(v, template["fields"][k], f"{path}.{k}")
    elif isinstance(value, list) and "items" in template:
        for i, v in enumerate(value):
            _check_types(v, template["items"], f"{path}[{i}]")


def _check_keys(
    obj: dict[str, Any], expected: tuple[str, ...], required: set[str], legacy: bool, path: str
) -> None:
    """Strict: exactly ``expected`` in order. Legacy: the ``required`` keys, others in that order."""
    keys = list(obj)
    if not legacy:
        assert keys == list(expected), f"{path}: keys {keys} != {list(expected)}"
        return
    assert required <= set(keys), f"{path}: missing {sorted(required - set(keys))}"
    assert keys == [k for k in expected if k in obj], f"{path}: keys {keys} not in order {list(expected)}"


def _check_id(value: Any, legacy: bool, path: str) -> None:
    assert isinstance(value, str), f"{path}: not a string"
    if legacy:
        assert _LEGACY_ID.fullmatch(value), f"{path}: {value!r} not UUID-like"
    else:
        try:
            canonical = str(uuid.UUID(value))
        except ValueError:
            canonical = ""
        assert canonical == value, f"{path}: {value!r} not a canonical UUID"


def _check_average(value: Any, path: str) -> None:
    assert _json_type(value) == "number", f"{path}: {value!r} not a number"
    assert math.isfinite(value) and value >= 0, f"{path}: {value!r} not finite and >= 0"


def _check_duration(stats: dict[str, Any], key: str, path: str) -> None:
    if key in stats:
        value = stats[key]
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}.{key}: not an int"
        assert value >= 1, f"{path}.{key}: {value} < 1"


def _check_attributions(attributions: Any, call_rate: bool, path: str) -> None:
    ref = _reference()
    assert isinstance(attributions, list), f"{path}: not a list"
    names = [a.get("attribute") for a in attributions]
    assert len(set(names)) == len(names), f"{path}: duplicate attributes {names}"
    for i, a in enumerate(attributions):
        where = f"{path}[{i}]"
        _check_keys(a, ref["attribution"], set(), False, where)
        assert a["attribute"] in ref["attributes"], f"{where}: attribute {a['attribute']!r}"
        assert call_rate or a["attribute"] != "errorCode", f"{where}: errorCode on an error-rate insight"
        for side in ("insight", "baseline"):
            rows = a[side]
            assert len(rows) <= MAX_VALUES, f"{where}.{side}: {len(rows)} values > {MAX_VALUES}"
            for j, row in enumerate(rows):
                _check_keys(row, ref["value"], set(), False, f"{where}.{side}[{j}]")
                assert isinstance(row["value"], str), f"{where}.{side}[{j}].value: not a string"
                _check_average(row["average"], f"{where}.{side}[{j}].average")
            averages = [row["average"] for row in rows]
            assert averages == sorted(averages, reverse=True), f"{where}.{side}: not descending {averages}"


def assert_insight_shape(record: dict[str, Any], *, legacy: bool = False) -> None:
    """Raise ``AssertionError`` (naming the path) unless ``record`` has the AWS Insight shape.

    ``legacy=True`` relaxes what AWS's own pre-1.09 examples lack (see the module docstring).
    """
    ref = _reference()
    assert isinstance(record, dict), "record is not a dict"
    _check_types(record, ref["types"], "record")
    _check_keys(record, ref["top"], set(ref["top"]), legacy, "record")
    for key, value in ref["constants"].items():
        if legacy and key == "eventVersion":
            assert record[key] in {r[key] for r in reference_examples()}, f"{key}: {record[key]!r}"
        else:
            assert record[key] == value, f"{key}: {record[key]!r} != {value!r}"
    assert _EVENT_TIME.fullmatch(record["eventTime"]), f"eventTime {record['eventTime']!r}"
    datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ")  # a real date and time
    assert record["awsRegion"] and record["recipientAccountId"], "empty region or account"
    _check_id(record["eventID"], legacy, "eventID")
    _check_id(record["sharedEventID"], legacy, "sharedEventID")
    assert record["eventID"] != record["sharedEventID"], "eventID equals sharedEventID"

    details = record["insightDetails"]
    call_rate = details.get("insightType") == "ApiCallRateInsight"
    expected = tuple(k for k in ref["details"] if k != "errorCode" or not call_rate)
    required = {"state", "eventSource", "eventName", "insightType", "insightContext"}
    _check_keys(
        details, expected, required if call_rate else required | {"errorCode"}, legacy, "insightDetails"
    )
    assert details["state"] in STATES, f"state {details['state']!r}"
    assert details["insightType"] in INSIGHT_TYPES, f"insightType {details['insightType']!r}"
    for key in ("eventSource", "eventName", "errorCode", "sourceEventCategory"):
        assert details.get(key, "-"), f"insightDetails.{key} is empty"

    context = details["insightContext"]
    _check_keys(context, ref["context"], {"statistics"}, legacy, "insightContext")
    stats = context["statistics"]
    _check_keys(stats, ref["statistics"], {"baseline", "insight"}, legacy, "statistics")
    for side in ("baseline", "insight"):
        _check_keys(stats[side], ("average",), {"average"}, legacy, f"statistics.{side}")
        _check_average(stats[side]["average"], f"statistics.{side}.average")
    _check_duration(stats, "insightDuration", "statistics")
    _check_duration(stats, "baselineDuration", "statistics")
    if "attributions" in context:
        _check_attributions(context["attributions"], call_rate, "attributions")

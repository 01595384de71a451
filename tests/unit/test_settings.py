"""The TOML settings file: every knob reachable, mistakes refused with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.config.engine_settings import SettingsError, load

GOOD = """
[engine]
warmup_minutes = 100
allowed_lateness_minutes = 15
analyse_data_events = true

[detector]
start_surprise = 8
min_count = 3

[[rule]]
event_source = "ec2.amazonaws.com"
event_name = "Describe*"
insight_type = "ApiErrorRateInsight"
min_count = 10

[[suppress]]
event_source = "s3.amazonaws.com"
"""


def test_settings_reach_engine_detector_rules_and_suppression(tmp_path: Path) -> None:
    path = tmp_path / "trailpulse.toml"
    path.write_text(GOOD)
    config = load(path)
    assert config.warmup_minutes == 100 and config.allowed_lateness_minutes == 15
    assert config.analyse_data_events is True
    assert config.detector.start_surprise == 8.0 and config.detector.min_count == 3.0
    described = config.params_for("ApiErrorRateInsight", "ec2.amazonaws.com", "DescribeInstances")
    assert described.min_count == 10.0 and described.start_surprise == 8.0
    assert config.params_for("ApiCallRateInsight", "ec2.amazonaws.com", "DescribeInstances").min_count == 3.0
    assert config.params_for("ApiCallRateInsight", "s3.amazonaws.com", "PutBucketPolicy").enabled is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[detector]\nstart_surprize = 3\n", "unknown setting 'start_surprize'"),
        ("[engine]\nwarmup_minutes = 'soon'\n", "warmup_minutes must be a number"),
        ("[engine]\nanalyse_data_events = 1\n", "must be true or false"),
        ("[[suppress]]\nevent_name = 'X'\nmin_count = 3\n", "only event_source"),
        ("[[rule]]\nevent_name = 3\n", "glob strings"),
        ("[detectors]\n", "unknown table"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_mistakes_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=message.replace("[", r"\[")):
        load(path)

"""The configuration reference comes from the settings themselves, and so does ``run --help``."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from consumers.commands import run
from consumers.config.engine_settings import DETECTOR, ENGINE
from consumers.config.reference import reference
from consumers.config.run_settings import KAFKA, RUN


def test_every_setting_has_a_row_with_its_variable_and_meaning() -> None:
    table = reference()
    for settings in (KAFKA, RUN, ENGINE, DETECTOR):
        for setting in settings.values():
            row = next(line for line in table.splitlines() if f"`[{setting.table}] {setting.name}`" in line)
            assert f"`{setting.env}`" in row
            assert setting.meaning and setting.meaning in row
    health = next(line for line in table.splitlines() if "`[run] health_host`" in line)
    assert '`"127.0.0.1"`' in health and "`--health-host`" in health
    lateness = next(line for line in table.splitlines() if "`[engine] allowed_lateness_minutes`" in line)
    assert "`35`" in lateness and "(>= 0)" in lateness


def test_the_run_command_prints_the_reference() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "consumers.cli", "run", "--print-config-reference"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == reference()


def test_run_flag_help_speaks_of_settings_not_code() -> None:
    parser = argparse.ArgumentParser(prog="trailpulse")  # not sys.argv[0]: python -m pytest's is a .py
    run.add_parser(parser.add_subparsers())
    sub = parser._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    text = sub.format_help()
    assert "consumers." not in text and ".py" not in text
    assert "TRAILPULSE_RUN_HEALTH_HOST" in text and "--health-port" in text


def test_the_readme_table_is_the_reference() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("<!-- config-reference:start -->\n", 1)[1].split(
        "\n<!-- config-reference:end -->", 1
    )[0]
    assert table == reference().rstrip("\n"), (
        "run: trailpulse run --print-config-reference, paste into README.md"
    )

"""The ``trailpulse`` command itself: its version, help written for users, a quiet end on a closed pipe."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from consumers.cli import CLOSED_PIPE_STATUS, COMMANDS, main

# What a user should never have to read in a help text: our module paths, function names, reST markup.
INTERNALS = re.compile(r"consumers\.|insights\.|:mod:|:func:|``|\w+\(\)|\.py\b|DESIGN")


def help_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"trailpulse {version('trailpulse')}\n"


def test_top_level_help_summarises_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text([], capsys)
    assert not INTERNALS.search(text), INTERNALS.search(text)
    flat = " ".join(text.split())
    for name, (_, summary) in COMMANDS.items():
        assert f"{name} {summary}" in flat, name
    assert "--version" in text


def undescribed_options(text: str) -> list[str]:
    """Options a help text lists with no description beside them (or on the line below, if long)."""
    lines = [*text.splitlines(), ""]
    missing = []
    for line, below in itertools.pairwise(lines):
        option = re.fullmatch(r"  (-\S+(?:,? \S+)*)( {2,}\S.*)?", line)
        if option and option.group(2) is None and not re.match(r" {10,}\S", below):
            missing.append(option.group(1))
    return missing


@pytest.mark.parametrize("command", ["generate", "score-series"])
def test_command_help_is_for_users(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text([command], capsys)
    assert not INTERNALS.search(text), INTERNALS.search(text)
    assert "--output" in text or "--out" in text
    assert undescribed_options(text) == []
    assert undescribed_options("  --seed SEED\n  --days DAYS  trace length\n") == ["--seed SEED"]


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    """A real pipe, closed by its reader after one line, as ``| head -1`` does: no traceback."""
    series = tmp_path / "series.csv"
    rows = (f"2026-01-05T{m // 60 % 24:02d}:{m % 60:02d}:00Z,{m % 7}" for m in range(20_000))
    series.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    with subprocess.Popen(
        [sys.executable, "-m", "consumers.cli", "score-series", str(series)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"timestamp,value,baseline,score,insight,direction\n"
        proc.stdout.close()
        errors = proc.stderr.read().decode()
        status = proc.wait(timeout=120)
    assert errors == ""
    assert status == CLOSED_PIPE_STATUS == 141

"""``trailpulse replay`` on the inputs a real S3 sync holds: what it reads, skips, rejects and says."""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
from pathlib import Path

import pytest

from consumers.cli import main
from consumers.files.discover import LogFile
from consumers.files.read import STREAM_BYTES, streamed
from insights.decode import DecodeLimits

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "cloudtrail-sample"
NAME = "111122223333_CloudTrail_us-east-1_20230710T{}Z_{}.json"


def _records() -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    for path in sorted(SAMPLE.glob("*.json")):
        records += json.loads(path.read_bytes())["Records"]
    return records


def _replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = main(["replay", *args])
    return status, capsys.readouterr().err


def _summary(err: str) -> dict[str, str]:
    (line,) = [line for line in err.splitlines() if line.startswith("replay: ")]
    return dict(part.split("=") for part in line.removeprefix("replay: ").split())


def test_an_unreadable_file_is_named_and_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / NAME.format("1145", "good")
    good.write_bytes((SAMPLE / os.listdir(SAMPLE)[0]).read_bytes())
    fifo = tmp_path / NAME.format("1150", "fifo")
    os.mkfifo(fifo)
    status, err = _replay(capsys, str(tmp_path))
    assert status == 0, err
    assert f"trailpulse replay: cannot read {fifo}: not a regular file (skipped)" in err.splitlines()
    summary = _summary(err)
    assert summary["files"] == "1" and summary["unreadable"] == "1" and int(summary["records"]) > 0

    status, err = _replay(capsys, str(tmp_path), "--strict")
    assert status == 2 and err == f"trailpulse replay: cannot read {fifo}: not a regular file\n"

    good.unlink()
    status, err = _replay(capsys, str(tmp_path))
    assert status == 2, "nothing at all could be read"
    assert err == f"trailpulse replay: cannot read {fifo}: not a regular file\n"


def test_digest_and_insight_files_are_skipped_not_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = tmp_path / "AWSLogs" / "111122223333"
    log = account / "CloudTrail/us-east-1/2023/07/10" / (NAME.format("1145", "log") + ".gz")
    digest = account / "CloudTrail-Digest/us-east-1/2023/07/10" / "x_CloudTrail-Digest_y.json.gz"
    insight = account / "CloudTrail-Insight/us-east-1/2023/07/10" / "x_CloudTrail-Insight_y.json.gz"
    for path in (log, digest, insight):
        path.parent.mkdir(parents=True)
    log.write_bytes(gzip.compress(json.dumps({"Records": _records()[:20]}).encode()))
    digest.write_bytes(gzip.compress(b'{"awsAccountId": "111122223333", "digestStartTime": "x"}'))
    insight.write_bytes(b"not even json")
    status, err = _replay(capsys, str(tmp_path))
    summary = _summary(err)
    assert status == 0 and summary["rejected"] == "0" and summary["files"] == "1"
    assert summary["skipped.digest_files"] == "1" and summary["skipped.insight_files"] == "1"


def test_every_reject_names_its_file_and_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = _records()[:30]
    for i in range(3, 24, 3):  # seven records with a bad name
        records[i] = {**records[i], "eventName": "Not A Name"}
    s3 = tmp_path / NAME.format("1145", "s3")
    s3.write_text(json.dumps({"Records": records}))
    lines = tmp_path / "extra.jsonl"
    lines.write_text(json.dumps(records[0]) + "\n{oops\n")
    out = tmp_path / "rejects.jsonl"
    status, err = _replay(capsys, str(tmp_path), "--rejects", str(out))
    assert status == 0
    shown = [line for line in err.splitlines() if " rejected " in line]
    # A file without a time in its name is read first (files are read in the order of that time).
    assert shown[0].startswith(f"trailpulse replay: rejected {lines}, line 2: invalid_json: ")
    assert shown[1:] == [
        f"trailpulse replay: rejected {s3}, record {i}: bad_name: eventName 'Not A Name'"
        for i in (3, 6, 9, 12, 15)
    ]
    assert "trailpulse replay: 2 more bad_name rejects not shown" in err.splitlines()
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(w["file"], w["record"], w["line"], w["reason"]) for w in written] == [
        (str(lines), None, 2, "invalid_json"),
        *((str(s3), i, None, "bad_name") for i in range(3, 24, 3)),
    ]
    summary = _summary(err)
    assert summary["rejected"] == "8" and summary["rejected.bad_name"] == "7"
    _, err = _replay(capsys, str(tmp_path))
    assert "(--rejects FILE lists them all)" in err


def test_a_replay_shorter_than_the_warmup_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = _replay(capsys, str(SAMPLE))
    assert status == 0
    note = err.splitlines()[-1]
    assert note.startswith("trailpulse replay: note: the replayed records span ")
    assert "36 h of history (warmup_minutes=2160)" in note and "--warmup-minutes" in note
    _, err = _replay(capsys, str(SAMPLE), "--warmup-minutes", "30")
    assert "note:" not in err


def test_a_large_file_is_replayed_like_the_same_records_in_small_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One file of the whole sample (decoded in parts, being over a MiB) gives what the sample gives."""
    big = tmp_path / NAME.format("1145", "all")
    big.write_bytes(gzip.compress(json.dumps({"Records": _records()}).encode()))
    assert len(gzip.decompress(big.read_bytes())) > 1 << 20
    outputs = []
    for path in (SAMPLE, big):
        status, err = _replay(capsys, str(path), "--warmup-minutes", "5", "-o", str(tmp_path / "out"))
        assert status == 0, err
        summary = _summary(err)
        outputs.append(((tmp_path / "out").read_bytes(), summary["records"], summary["analysed"]))
    assert outputs[0] == outputs[1] and outputs[0][1] == str(len(_records()))


def test_a_file_over_the_message_limit_is_read_not_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over 64 MiB once decompressed (a Kafka message's limit), made of blanks between real records."""
    records = [json.dumps(r).encode() for r in _records()[:100]]
    path = tmp_path / (NAME.format("1145", "large") + ".gz")
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(b'{"Records": [' + b",".join(records[:50]) + b",")
        for _ in range(DecodeLimits().max_message_bytes >> 20):
            out.write(b" " * (1 << 20))
        out.write(b",".join(records[50:]) + b"]}")
    status, err = _replay(capsys, str(path))
    summary = _summary(err)
    assert status == 0 and summary["records"] == "100" and summary["rejected"] == "0", err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--workers", "-3", "-3 is out of range: from 1 to 256"),
        ("--workers", "0", "0 is out of range"),
        ("--workers", "two", "'two' is not a whole number"),
        ("--warmup-minutes", "1e9", "invalid int value: '1e9'"),
    ],
)
def test_nonsense_flags_are_refused(
    flag: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """(Out-of-range minutes, e.g. ``--lateness -5``, are the engine settings' to refuse: see
    ``tests/unit/test_config_ranges.py``.)"""
    with pytest.raises(SystemExit) as stopped:
        main(["replay", str(SAMPLE), flag, value])
    assert stopped.value.code == 2
    assert f"argument {flag}: {message}" in capsys.readouterr().err


def test_help_describes_the_command_for_users(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    text = capsys.readouterr().out
    assert "--strict" in text and "--rejects" in text
    assert "consumers" not in text and ".py" not in text


@pytest.mark.parametrize("kind", ["plain", "gzip", "gzip of blanks"])
def test_a_large_json_lines_file_is_read_in_pieces_like_the_same_bytes_on_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Over the size read whole (records padded with random text, which gzip cannot shrink much, or
    with blank lines, which it shrinks 100 times), then a bad line: every record is read, and the
    reject names the bad line's number in the file, as for the same bytes on stdin."""
    records = _records()
    if kind == "gzip of blanks":
        lines = [json.dumps(r).encode() for r in records[:100]] + [b" " * 1023] * ((STREAM_BYTES >> 10) + 64)
    else:
        lines = [
            json.dumps({**records[i % len(records)], "pad": os.urandom(1000).hex()}).encode()
            for i in range(5100)
        ]
    body = b"\n".join([*lines, b"not json", b""])
    path = tmp_path / ("export.jsonl" if kind == "plain" else "export.jsonl.gz")
    path.write_bytes(body if kind == "plain" else gzip.compress(body, compresslevel=1))
    assert streamed(LogFile("", str(path))) and len(body) > STREAM_BYTES
    expected = ("100", len(lines) + 1) if kind == "gzip of blanks" else ("5100", 5101)
    seen = []
    for source in (str(path), "-"):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(body)))
        rejects = tmp_path / "rejects.jsonl"
        status, err = _replay(capsys, source, "--rejects", str(rejects), "-o", str(tmp_path / "out"))
        (reject,) = [json.loads(line) for line in rejects.read_text().splitlines()]
        summary = _summary(err)
        outcome = (
            status,
            summary["files"],
            summary["records"],
            summary["analysed"],
            (tmp_path / "out").read_bytes(),
        )
        seen.append((*outcome, reject["reason"], reject["line"]))
    assert seen[0] == seen[1] and seen[0][:3] == (0, "1", expected[0])
    assert seen[0][-2:] == ("invalid_json", expected[1])

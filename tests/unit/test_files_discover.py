"""Finding log files in what ``aws s3 sync`` leaves on disk: links, loops, digests, unreadable paths."""

from __future__ import annotations

import os
from pathlib import Path

from consumers.files.discover import discover

LOG = "111122223333_CloudTrail_us-east-1_20230710T{}Z_abc.json.gz"
PREFIX = "AWSLogs/111122223333"


def _touch(path: Path, data: bytes = b"{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _sync(root: Path) -> dict[str, Path]:
    """A small S3 sync: two log files, a digest, an Insight file, AWS Config's and an editor's litter."""
    day = root / PREFIX / "CloudTrail/us-east-1/2023/07/10"
    return {
        "late": _touch(day / LOG.format("1150")),
        "early": _touch(day / LOG.format("1145")),
        "digest": _touch(
            root
            / PREFIX
            / "CloudTrail-Digest/us-east-1/2023/07/10"
            / "111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20230710T1200Z.json.gz"
        ),
        "insight": _touch(
            root
            / PREFIX
            / "CloudTrail-Insight/us-east-1/2023/07/10"
            / "111122223333_CloudTrail-Insight_us-east-1_20230710T1200Z_xyz.json.gz"
        ),
        "litter": _touch(day / ".DS_Store"),
        "config": _touch(
            root
            / PREFIX
            / "Config/us-east-1/2023/7/10/ConfigHistory"
            / "111122223333_Config_us-east-1_ConfigHistory_AWS::S3::Bucket_20230710T120000Z_1.json.gz"
        ),
    }


def test_an_s3_sync_gives_its_log_files_in_time_order_and_counts_the_rest(tmp_path: Path) -> None:
    files = _sync(tmp_path)
    found = discover([str(tmp_path)])
    assert [f.path for f in found.files] == [str(files["early"]), str(files["late"])]
    assert found.skipped == {"digest_files": 1, "insight_files": 1, "config_files": 1, "other_files": 1}
    assert not found.unreadable
    named = discover([str(files["digest"]), str(files["litter"])])  # named: any name but a digest
    assert [f.path for f in named.files] == [str(files["litter"])]
    assert named.skipped == {"digest_files": 1}


def test_links_are_followed_once_and_loops_end(tmp_path: Path) -> None:
    files = _sync(tmp_path / "sync")
    elsewhere = _touch(tmp_path / "elsewhere" / LOG.format("1200"))
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "sync").symlink_to(tmp_path / "sync", target_is_directory=True)
    (inputs / "again").symlink_to(tmp_path / "sync", target_is_directory=True)  # the same directory
    (inputs / "loop").symlink_to(inputs, target_is_directory=True)  # back up the tree
    (inputs / "linked.json.gz").symlink_to(elsewhere)
    (inputs / "same-file.json.gz").symlink_to(files["early"])
    found = discover([str(inputs), str(tmp_path / "sync")])
    assert sorted(os.path.realpath(f.path) for f in found.files) == sorted(
        os.path.realpath(p) for p in (files["early"], files["late"], elsewhere)
    )
    assert found.skipped["digest_files"] == 1 and not found.unreadable


def test_unreadable_paths_are_named_and_the_rest_is_found(tmp_path: Path) -> None:
    files = _sync(tmp_path)
    day = files["early"].parent
    (day / ("gone_" + LOG.format("1300"))).symlink_to(tmp_path / "deleted.json.gz")
    (day / "gone-directory").symlink_to(tmp_path / "deleted", target_is_directory=True)
    os.mkfifo(day / LOG.format("1400"))  # opening a FIFO would wait for a writer for ever
    deep = _path_too_long(tmp_path / PREFIX)
    found = discover([str(tmp_path), str(tmp_path / "missing")])
    assert [f.path for f in found.files] == [str(files["early"]), str(files["late"])]
    messages = sorted(str(error) for error in found.unreadable)
    assert messages == sorted(
        [
            f"cannot read {day / ('gone_' + LOG.format('1300'))}: No such file or directory",
            f"cannot read {day / 'gone-directory'}: No such file or directory",
            f"cannot read {day / LOG.format('1400')}: not a regular file",
            f"cannot read {tmp_path / 'missing'}: No such file or directory",
            f"cannot read {deep}: File name too long",
        ]
    )


def _path_too_long(parent: Path) -> str:
    """Make directories nested past PATH_MAX; return the path of the first that cannot be listed.

    Tests run as root here, so permissions cannot make a directory unreadable; a path the kernel
    refuses as too long is a real listing error that root gets too (made with relative ``mkdir``).
    """
    name = "d" * 250
    fd = os.open(parent, os.O_RDONLY)
    try:
        for _ in range(20):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)
    path = str(parent)
    while len(os.fsencode(path)) < os.pathconf("/", "PC_PATH_MAX"):
        path = os.path.join(path, name)
    return path

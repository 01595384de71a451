#!/usr/bin/env bash
# Regenerates the lock files that scripts/setup-venv.sh installs from, after a change to the
# dependencies in pyproject.toml; with --upgrade, every pin moves to the newest release allowed.
#   requirements/runtime.lock  what `trailpulse` needs to run, `plot` included (scripts/demo.sh, the Dockerfile)
#   requirements/dev.lock      the same pins plus the test and lint tools (scripts/test.sh, CI)
# Both pin every package, transitive ones included, with the sha256 of each of its files on PyPI, for
# any OS and any Python from the project's minimum up (uv's universal resolution): one lock for
# laptops, CI and containers. dev.lock is resolved under runtime.lock's pins, so the two never
# disagree. Needs only PyPI: uv itself comes from there, into .lock-tools/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
PY=${PYTHON:-python3}
tools=.lock-tools
if [ ! -x "$tools/bin/uv" ] || [ "$("$tools/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  "$PY" -m venv "$tools"
  "$tools/bin/python" -m pip install -q "uv==$UV_VERSION"
fi
upgrade=()
if [ "${1:-}" = --upgrade ]; then
  upgrade=(--upgrade)
elif [ -n "${1:-}" ]; then
  echo "usage: scripts/lock.sh [--upgrade]" >&2
  exit 2
fi
# An existing lock's pins are kept (uv prefers them) unless --upgrade: adding a dependency changes
# only what it brings.
compile=("$tools/bin/uv" pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes
  --quiet --custom-compile-command scripts/lock.sh
  --index-url https://pypi.org/simple "${upgrade[@]}")
mkdir -p requirements
"${compile[@]}" --extra plot --output-file requirements/runtime.lock
"${compile[@]}" --extra dev --constraint requirements/runtime.lock --output-file requirements/dev.lock
echo "requirements/runtime.lock: $(grep -c '^[a-z0-9]' requirements/runtime.lock) packages;" \
  "requirements/dev.lock: $(grep -c '^[a-z0-9]' requirements/dev.lock) packages" >&2

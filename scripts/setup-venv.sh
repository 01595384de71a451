#!/usr/bin/env bash
# Creates (or refreshes) the virtual environment at .venv/ in the repo root, with trailpulse installed
# in editable mode and the development tools. Safe to run again: pip skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

#!/usr/bin/env bash
# Creates (or refreshes) the virtual environment at .venv/ in the repo root from the lock files, with
# trailpulse itself installed in editable mode. Usage: scripts/setup-venv.sh [runtime|dev]
#   runtime  what `trailpulse` needs to run (requirements/runtime.lock): scripts/demo.sh
#   dev      the same plus the test and lint tools (requirements/dev.lock): scripts/test.sh (default)
# Safe to run again: a stamp in .venv/ records which lock (and which pyproject.toml) it was built from,
# so nothing is installed when nothing changed. A dev environment also serves runtime. To change a
# pinned version or add a dependency: edit pyproject.toml, then run scripts/lock.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-dev}
case "$mode" in
  runtime | dev) ;;
  *)
    echo "usage: scripts/setup-venv.sh [runtime|dev]" >&2
    exit 2
    ;;
esac
PY=${PYTHON:-python3}
stamp=.venv/.trailpulse-setup

# "<mode> <sha256 of the lock and pyproject.toml>": what an environment built for this mode holds.
fingerprint() {
  echo "$1 $(cat "requirements/$1.lock" pyproject.toml | sha256sum | cut -d' ' -f1)"
}

if [ -x .venv/bin/python ] && [ -f "$stamp" ]; then
  built=$(cat "$stamp")
  if [ "$built" = "$(fingerprint "$mode")" ] || { [ "$mode" = runtime ] && [ "$built" = "$(fingerprint dev)" ]; }; then
    exit 0
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
rm -f "$stamp"
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r "requirements/$mode.lock"
# setuptools warns on every editable install that a same-named folder in the working directory could
# shadow the package: here that folder *is* the package, so that one warning is filtered out.
PYTHONWARNINGS="ignore:Editable installation" \
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
fingerprint "$mode" > "$stamp"

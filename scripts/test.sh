#!/usr/bin/env bash
# The whole test suite: lint, types, then every test tier. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest -n 2 insights consumers tests "$@"

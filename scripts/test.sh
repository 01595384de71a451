#!/usr/bin/env bash
# The whole test suite: lint, types, then every test tier. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh dev   # the runtime lock plus pytest, hypothesis, ruff, mypy
scripts/kafka.sh fetch   # the test broker's jars (Maven Central; cached in ~/.m2 and kafka-broker/lib/)
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# Engine, pipeline and CLI tests on both cores; then the tests against the real Kafka broker in one
# process, so that the whole session shares one broker.
.venv/bin/pytest -n 2 --timeout 900 -m "not kafka" insights consumers tests "$@"
.venv/bin/pytest --timeout 900 -m kafka tests "$@"

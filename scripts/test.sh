#!/usr/bin/env bash
# Sets everything up and runs the test suite (unit and integration tests against real servers).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${EXTRAS:-test}" bash scripts/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"

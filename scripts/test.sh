#!/usr/bin/env bash
# Sets everything up (including torch, for image classification) and runs the test suite: unit
# tests, and integration tests with real boto3 and SageMaker SDK clients against real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${EXTRAS:-test,torch}" bash scripts/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"

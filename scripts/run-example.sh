#!/usr/bin/env bash
# Sets everything up, starts the emulator (--backend auto: docker when an engine answers and the
# images are built, else the embedded process backend) and runs the
# MNIST k-means example against it; stops the emulator afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${EXTRAS:-examples}" bash scripts/setup.sh

PORT="${PORT:-4566}"
DATA_DIR="${DATA_DIR:-out/emulator-data}"
mkdir -p out
.venv/bin/sagemaker-emulator serve --port "$PORT" --data-dir "$DATA_DIR" > out/emulator.log 2>&1 &
SERVER=$!
trap 'kill -TERM "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    if .venv/bin/python -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
        "http://127.0.0.1:$PORT/_emulator/health" 2>/dev/null; then break; fi
    if ! kill -0 "$SERVER" 2>/dev/null; then cat out/emulator.log; exit 1; fi
    sleep 0.2
done
echo "emulator running on http://127.0.0.1:$PORT (log: out/emulator.log)"
eval "$(.venv/bin/sagemaker-emulator env --endpoint-url "http://127.0.0.1:$PORT")"
.venv/bin/python examples/kmeans_mnist.py "$@"

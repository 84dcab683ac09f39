#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, in one command (CI has none): image classification's unit
# tests (training and serving on the GPU where CUDA is present, the CUDA-only ones included), image
# classification through boto3 against a real server, two hosts training together on one machine,
# and the GPU benchmark with its share of the device's bf16 peak.
#
#   bash scripts/gpu-check.sh            # logs in $OUT, or ./gpu-check
#
# Needs a python3 with torch and torchvision that sees CUDA. Packages it lacks can be put as wheels
# in .whl/ (installed to /tmp/site, nothing else is touched).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/gpu-check}
mkdir -p "$out"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 SAGEMAKER_SUPPRESS_V2_WARNING=1

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__,
'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"

status=0
python3 -m pytest -q -p no:cacheprovider -rs --durations=5 \
    tests/unit/algorithms/test_image_classification_*.py \
    tests/integration/test_image_classification.py \
    tests/integration/test_image_classification_multihost.py \
    "$@" 2>&1 | tee "$out/tests.log" || status=1

python3 -m benchmarks.image_classification --models 18,50 --batch-size "${BATCH_SIZE:-256}" --precision float16 \
    --images "${IMAGES:-8192}" --warmup 5 --batches 40 --breakdown 2>&1 | tee "$out/benchmark.log" || status=1
exit $status

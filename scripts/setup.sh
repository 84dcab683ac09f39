#!/usr/bin/env bash
# Creates .venv (if missing) and installs the project with the extras named in $EXTRAS
# (default: test; add `torch` for image classification). Idempotent: re-running only installs what
# changed.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${EXTRAS:-test}"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
case ",$EXTRAS," in
    *,torch,*)  # pin torch first, so that the extra's `torch>=2.13` does not pull a newer, larger build
        .venv/bin/python -c "import torch" 2>/dev/null ||
            .venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==${TORCH_VERSION:-2.13.0}" ;;
esac
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${EXTRAS}]"

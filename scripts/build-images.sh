#!/usr/bin/env bash
# Builds and tags the emulator's images (containers/README.md): the NumPy algorithms' and image
# classification's by default, from a base built locally with debootstrap (no registry needed).
#   bash scripts/build-images.sh                  # numpy + torch
#   bash scripts/build-images.sh all             # and the emulator's own image (docker-compose.yml)
#   bash scripts/build-images.sh --base public   # FROM python:3.11-slim-bookworm, pip from PyPI
#   bash scripts/build-images.sh torch --cuda    # image classification with torch's CUDA build
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${EXTRAS:-test}" bash scripts/setup.sh
exec .venv/bin/python containers/build.py "$@"

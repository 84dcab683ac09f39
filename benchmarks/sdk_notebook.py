"""The SageMaker SDK's high-level k-means notebook end to end (all 50,000 training digits), run
unchanged in its own Python process with the environment from `sagemaker-emulator env`.

    .venv/bin/python -m benchmarks.sdk_notebook [--repeats 3]

Target: <= 60 s wall. The SDK itself sleeps 5 s in fit(), 30 s in deploy() and 5 s in attach().
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from benchmarks.support import emulator, median
from tests.integration.test_sdk_notebooks import run_notebook


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    server = emulator()
    runs = []
    try:
        for _ in range(args.repeats):
            workdir = Path(tempfile.mkdtemp(prefix="notebook-"))
            started = time.perf_counter()
            code, output, refused = run_notebook(server, "kmeans_mnist_sdk.py", workdir, timeout=600)
            wall = time.perf_counter() - started
            if code != 0 or refused:
                raise SystemExit(f"notebook failed ({code}), refused {refused}:\n{output[-4000:]}")
            cells = dict(re.findall(r"\[time\] (.+?): ([\d.]+) s", output))
            runs.append((wall, cells))
    finally:
        server.stop()
    names = [name for name in runs[0][1] if name != "total"]
    for name in names:
        print(f"{name:<55} " + " ".join(f"{float(cells[name]):6.1f}" for _, cells in runs))
    print(f"{'notebook, cell to cell (total)':<55} " + " ".join(f"{float(cells['total']):6.1f}" for _, cells in runs))
    print(f"{'process wall time incl. interpreter start and imports':<55} " + " ".join(f"{wall:6.1f}" for wall, _ in runs))
    print(f"median notebook time: {median([float(cells['total']) for _, cells in runs]):.1f} s (target <= 60 s)")


if __name__ == "__main__":
    main()

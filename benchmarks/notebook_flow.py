"""The whole low-level k-means flow on MNIST (upload to DeleteEndpoint) with boto3's default waiters.

    .venv/bin/python -m benchmarks.notebook_flow [--repeats 3]

Target: under 30 s wall (real SageMaker: 15-20 minutes).
"""

from __future__ import annotations

import argparse

from benchmarks.support import emulator, median, point_boto3_at


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from examples.kmeans_mnist import purity, run_flow
    from sagemaker_emulator.datasets import load_mnist

    (train_x, _), (valid_x, valid_y), _ = load_mnist()
    server = emulator()
    point_boto3_at(server)
    try:
        results = [run_flow(train_x, valid_x) for _ in range(args.repeats)]
    finally:
        server.stop()
    steps = ("upload", "training", "deploy", "predict", "delete", "flow")
    print(f"{'run':>4} " + " ".join(f"{step:>9}" for step in steps) + f" {'purity':>7}")
    for index, result in enumerate(results, 1):
        print(f"{index:>4} " + " ".join(f"{result['timings'][step]:9.2f}" for step in steps)
              + f" {purity(result['clusters'], valid_y):7.3f}")
    flows = [result["timings"]["flow"] for result in results]
    print(f"median flow, upload to DeleteEndpoint with boto3's default waiters: {median(flows):.2f} s (target < 30 s)")


if __name__ == "__main__":
    main()

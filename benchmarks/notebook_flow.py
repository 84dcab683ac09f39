"""The whole low-level k-means flow on MNIST (upload to DeleteEndpoint) with boto3's default waiters.

    .venv/bin/python benchmarks/notebook_flow.py [--repeats 3]

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
    print(f"{'run':>4} {'upload':>8} {'training':>9} {'deploy':>7} {'predict':>8} {'total':>7} {'purity':>7}")
    for index, result in enumerate(results, 1):
        t = result["timings"]
        print(f"{index:>4} {t['upload']:8.2f} {t['training']:9.2f} {t['deploy']:7.2f} {t['predict']:8.2f} "
              f"{t['total']:7.2f} {purity(result['clusters'], valid_y):7.3f}")
    totals = [result["timings"]["total"] for result in results]
    print(f"median total: {median(totals):.2f} s (target < 30 s)")


if __name__ == "__main__":
    main()

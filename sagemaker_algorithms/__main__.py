"""``python -m sagemaker_algorithms train|serve``: the container entry point.

The algorithm comes from ``$SAGEMAKER_ALGORITHM`` (``kmeans`` ...), the base directory from
``$SAGEMAKER_BASE_DIR`` (``/opt/ml`` by default) and the serving port from
``$SAGEMAKER_BIND_TO_PORT`` (8080).
"""

from __future__ import annotations

import atexit
import os
import sys

from . import registry
from .common import contract

USAGE = "usage: python -m sagemaker_algorithms {train|serve}  (with SAGEMAKER_ALGORITHM set)"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in ("train", "serve"):
        print(USAGE, file=sys.stderr)
        return 2
    command = args[0]
    paths = contract.paths_from_environment()
    name = os.environ.get(contract.ALGORITHM_ENV, "")
    try:
        if not name:
            raise KeyError(f"{contract.ALGORITHM_ENV} is not set; known algorithms: {', '.join(registry.available())}")
        module = registry.load(name)
    except KeyError as error:
        message = error.args[0]
        print(message, file=sys.stderr)
        if command == "train":
            contract.write_failure(paths, f"AlgorithmError: {message} (caused by KeyError)")
        return 2
    return int(module.train(paths) if command == "train" else module.serve(paths))


def exit_without_teardown(code: int) -> None:
    """End the process without the interpreter's teardown: the exit handlers run (log handlers,
    multiprocessing children, process groups) and the output is flushed, but the modules, the job's
    arrays and the native libraries' static objects are not destroyed one by one. That teardown
    takes tens of milliseconds of a short training job, and a model server that used CUDA aborted
    in it once after SIGTERM ("terminate called without an active exception", on an H100; not
    reproduced in 14 further runs)."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    exit_without_teardown(main())

"""``python -m sagemaker_algorithms train|serve`` ends without the interpreter's teardown: what
must still happen at exit does."""

from __future__ import annotations

import subprocess
import sys

from .helpers import REPO_ROOT

PROGRAM = """
import atexit, logging, sys
from sagemaker_algorithms.__main__ import exit_without_teardown
atexit.register(lambda: print("exit handler ran", flush=True))
logging.basicConfig(stream=sys.stderr, format="%(message)s")
logging.getLogger("job").warning("last log line")
print("unterminated output", end="")
exit_without_teardown(3)
print("never printed")
"""


def test_exit_without_teardown_runs_exit_handlers_flushes_and_keeps_the_status():
    result = subprocess.run([sys.executable, "-c", PROGRAM], cwd=str(REPO_ROOT), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 3
    assert result.stdout == "unterminated outputexit handler ran\n"
    assert result.stderr == "last log line\n"

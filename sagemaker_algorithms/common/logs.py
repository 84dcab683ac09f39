"""Logging in the built-in algorithms' format, and the metric lines the service's regexes read.

Every line goes to stdout as ``[MM/DD/YYYY HH:MM:SS LEVEL <thread-id>] message`` and is flushed at
once, so the emulator (which tails the process) sees it immediately.

Metric lines (the value is ``repr(float(value))``, e.g. ``0.06404909491539001``)::

    #quality_metric: host=algo-1, train msd <loss>=0.064
    #quality_metric: host=algo-1, test ssd <loss>=12.5
    #quality_metric: host=algo-1, test accuracy <score>=0.92
    #quality_metric: host=algo-1, epoch=3, validation mse <loss>=0.1
    #progress_metric: host=algo-1, completed 100.0 % of epochs
    #throughput_metric: host=algo-1, train throughput=54276.96 records/second
    #test_score (algo-1) : ('msd', 0.5)
"""

from __future__ import annotations

import logging
import sys

LOG_FORMAT = "[%(asctime)s %(levelname)s %(thread)d] %(message)s"
DATE_FORMAT = "%m/%d/%Y %H:%M:%S"

_HANDLER_MARK = "_sagemaker_algorithms_handler"


def configure_logging(level: str | int = logging.INFO, stream=None) -> logging.Logger:
    """Route the root logger to stdout in SageMaker's format (idempotent)."""
    stream = sys.stdout if stream is None else stream
    try:
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        pass
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt=DATE_FORMAT))
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    if isinstance(level, str):
        level = getattr(logging, level.upper(), logging.INFO)
    root.setLevel(level)
    return root


def _number(value: float) -> str:
    return repr(float(value))


def quality_metric_line(host: str, channel: str, name: str, value: float, *, kind: str = "loss",
                        epoch: int | None = None) -> str:
    """``#quality_metric: host=algo-1, [epoch=N, ]<channel> <name> <loss|score>=<value>``."""
    epoch_part = "" if epoch is None else f"epoch={epoch}, "
    return f"#quality_metric: host={host}, {epoch_part}{channel} {name} <{kind}>={_number(value)}"


def progress_metric_line(host: str, percent: float) -> str:
    return f"#progress_metric: host={host}, completed {_number(percent)} % of epochs"


def throughput_metric_line(host: str, records_per_second: float) -> str:
    return f"#throughput_metric: host={host}, train throughput={_number(records_per_second)} records/second"


def score_line(channel: str, host: str, name: str, value: float) -> str:
    """The human-readable echo, e.g. ``#test_score (algo-1) : ('msd', 0.5)``."""
    return f"#{channel}_score ({host}) : ({name!r}, {_number(value)})"


# Regexes that capture the value of each line above (group 1); the emulator's MetricDefinitions
# for built-ins can use these. ``\S+`` matches any host.
QUALITY_METRIC_REGEX = r"#quality_metric: host=\S+, {channel} {name} <(?:loss|score)>=(\S+)"
PROGRESS_METRIC_REGEX = r"#progress_metric: host=\S+, completed (\S+) % of epochs"
THROUGHPUT_METRIC_REGEX = r"#throughput_metric: host=\S+, train throughput=(\S+) records/second"

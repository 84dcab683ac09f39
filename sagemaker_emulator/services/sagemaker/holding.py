"""Holding a Describe answer while a resource is about to settle.

boto3's waiters describe once, then sleep (120 s for training jobs, 30 s for endpoints); the
SageMaker Python SDK polls every 5 to 30 s. A job that finishes two seconds after the first describe
would cost such a caller a whole interval. So when the caller is one of those pollers, a Describe of
a resource in a transient status waits, up to ``--describe-hold-seconds``, for it to settle, and
answers as soon as it does (or with the transient status when the time is up). Nothing else about
the answer changes, and other callers (a script polling by hand for progress) are answered at once.

Pollers are recognised by their User-Agent: botocore marks waiter calls with the feature id ``B`` in
its ``m/`` metrics field, and the SageMaker SDK adds ``AWS-SageMaker-Python-SDK``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool

from sagemaker_emulator.aws.dispatch import RequestContext

POLL_SECONDS = 0.05
_WAITER_FEATURE = "B"
_METRICS = re.compile(r"(?:^|\s)m/([A-Za-z0-9,+\-]+)")


def caller_polls_slowly(ctx: RequestContext) -> bool:
    user_agent = ctx.headers.get("user-agent", "")
    if "AWS-SageMaker-Python-SDK" in user_agent:
        return True
    match = _METRICS.search(user_agent)
    return bool(match) and _WAITER_FEATURE in match.group(1).split(",")


async def describe_when_settled(
    ctx: RequestContext,
    load: Callable[[], dict[str, Any] | None],
    transient: Callable[[dict[str, Any]], bool],
) -> dict[str, Any] | None:
    hold = float(getattr(ctx.emulator.settings, "describe_hold_seconds", 0) or 0) if caller_polls_slowly(ctx) else 0.0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + hold
    while True:
        document = await run_in_threadpool(load)
        if document is None or not transient(document) or loop.time() >= deadline:
            return document
        await asyncio.sleep(POLL_SECONDS)

"""The uvicorn server the CLI runs in the foreground."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

import uvicorn


class ForegroundServer(uvicorn.Server):
    """uvicorn's server, except that a shutdown on SIGTERM or SIGINT ends the process with status 0.

    uvicorn re-raises the signal once it has shut down, which turns a clean shutdown into exit
    status -15; the emulator's lifespan has already stopped every child by then.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {signum: signal.signal(signum, self.handle_exit) for signum in handled}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

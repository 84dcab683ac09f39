"""The ``serve`` harness: an HTTP/1.1 keep-alive server answering ``/ping`` and ``/invocations``.

Built on the standard library's ``ThreadingHTTPServer`` (one thread per connection) with the
per-request work kept small: Nagle off, each response written with one ``send`` (status line,
headers and body together), no access log. The model is loaded before the socket is bound, so
``GET /ping`` answers 200 as soon as connections are accepted.

Routes: ``GET /ping`` → 200; ``GET /execution-parameters`` → batch-transform hints (JSON);
``POST /invocations`` → :func:`.inference.invoke`, or the model's own
``handle_invocation(body, content_type, accept) -> (status, content_type, body)`` when it has one
(models whose requests are not feature rows, such as image classification). Unknown paths get
404, wrong methods 405. Bad requests never produce a 5xx; an unexpected exception while
predicting is a 500 with a one-line message (and a traceback in the log).

SIGTERM (and SIGINT) end :func:`run_serving` cleanly with exit code 0.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from . import contract
from .errors import AlgorithmFailure
from .inference import TEXT_PLAIN, ServableModel, invoke
from .logs import configure_logging

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 100 * 1024 * 1024  # batch transform's largest MaxPayloadInMB
EXECUTION_PARAMETERS = {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}
_REASONS = {status.value: status.phrase for status in HTTPStatus}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "sagemaker-algorithms"
    sys_version = ""
    server: "InferenceServer"

    def log_message(self, format, *args):  # noqa: A002 - silence the per-request access log
        pass

    def do_GET(self):  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path == "/ping":
            self._reply(200, b"", TEXT_PLAIN)
        elif path == "/execution-parameters":
            self._reply(200, json.dumps(EXECUTION_PARAMETERS).encode(), "application/json")
        elif path == "/invocations":
            self._reply(405, b"Use POST for /invocations", TEXT_PLAIN)
        else:
            self._reply(404, f"No route for GET {path}".encode(), TEXT_PLAIN)

    def do_POST(self):  # noqa: N802
        body = self._read_body()
        if body is None:
            return
        path = self.path.split("?", 1)[0]
        if path != "/invocations":
            self._reply(404, f"No route for POST {path}".encode(), TEXT_PLAIN)
            return
        headers = self.headers
        model = self.server.model
        own_invoke = getattr(model, "handle_invocation", None)
        try:
            if callable(own_invoke):
                status, content_type, payload = own_invoke(body, headers.get("Content-Type"), headers.get("Accept"))
            else:
                status, content_type, payload = invoke(model, body, headers.get("Content-Type"), headers.get("Accept"))
        except Exception as error:  # noqa: BLE001 - a bug in the model, not the request
            logger.exception("Inference failed")
            message = error.message if isinstance(error, AlgorithmFailure) else str(error) or type(error).__name__
            status, content_type, payload = 500, TEXT_PLAIN, f"Inference failed: {message}".encode()
        self._reply(status, payload, content_type)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            self._reply(400, b"Invalid Content-Length", TEXT_PLAIN)
            return None
        if length > MAX_PAYLOAD_BYTES:
            self.close_connection = True
            self._reply(413, b"Payload too large", TEXT_PLAIN)
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        chunks = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                self.close_connection = True
                self._reply(400, b"Invalid chunked encoding", TEXT_PLAIN)
                return None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_PAYLOAD_BYTES:
                self.close_connection = True
                self._reply(413, b"Payload too large", TEXT_PLAIN)
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        head = (f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"
                f"Content-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n")
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write(head.encode("latin-1") + b"\r\n" + body)


class InferenceServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one loaded model."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, model: ServableModel, address: tuple[str, int]) -> None:
        self.model = model
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start_background(self) -> threading.Thread:
        """Serve on a daemon thread (tests, embedding); stop with :meth:`shutdown`."""
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        return thread


class _Terminate(BaseException):
    pass


def run_serving(load_model: Callable[[contract.ContainerPaths], ServableModel],
                paths: contract.ContainerPaths | None = None, *, host: str = "0.0.0.0",
                port: int | None = None) -> int:
    """Load the model from ``paths.model_dir`` and serve until SIGTERM; returns the exit code."""
    configure_logging()
    paths = paths or contract.paths_from_environment()
    port = contract.serving_port() if port is None else port
    try:
        model = load_model(paths)
    except AlgorithmFailure as error:
        logger.error("Unable to load the model: %s", error.message)
        return 1
    except Exception:  # noqa: BLE001
        logger.exception("Unable to load the model")
        return 1

    def terminate(signum, frame):  # noqa: ARG001
        raise _Terminate()

    previous = {sig: signal.signal(sig, terminate) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server = InferenceServer(model, (host, port))
    except OSError as error:
        logger.error("Unable to listen on %s:%d: %s", host, port, error)
        return 1
    logger.info("Serving on %s:%d (model expects %d features)", host, server.port, model.feature_dim)
    try:
        server.serve_forever(poll_interval=0.5)
    except _Terminate:
        logger.info("Received a termination signal; shutting down")
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0

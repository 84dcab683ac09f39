"""The server: one FastAPI app, one port, every protocol; the Emulator holds the running state."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response

from sagemaker_emulator import __version__
from sagemaker_emulator.aws import gateway
from sagemaker_emulator.settings import Settings
from sagemaker_emulator.state.database import Database

log = logging.getLogger("sagemaker_emulator")

AWS_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


class Emulator:
    """Everything a request handler may reach through ``ctx.emulator``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.account_id = settings.account_id
        self.region = settings.region
        self.hostnames = ["localhost", "127.0.0.1", settings.host]
        self.ready = False

    def start(self) -> None:
        from sagemaker_emulator.execution.backends import create_backend
        from sagemaker_emulator.services.logs import LogStore
        from sagemaker_emulator.services.s3.sample_data import seed_sample_data
        from sagemaker_emulator.services.s3.store import ObjectStore
        from sagemaker_emulator.services.sagemaker.hosting import HostingService
        from sagemaker_emulator.services.sagemaker.store import ResourceStore
        from sagemaker_emulator.services.sagemaker.training import TrainingService

        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(data_dir / "metadata.sqlite3")
        self.objects = ObjectStore(self.db, data_dir / "s3", self.account_id, self.region)
        seed_sample_data(self.objects, data_dir / "cache")
        self.logs = LogStore(self.db)
        self.resources = ResourceStore(self.db)
        self.backend = create_backend(self.settings.backend, data_dir)
        self.training = TrainingService(self)
        self.hosting = HostingService(self)
        gateway.warm_up()  # load the service models and routing tables before the first request
        self.training.recover()
        self.hosting.recover()
        # Decode every resource once, in the background, so the first Search or List is not the one
        # that pays for it (about 2 s at 10,000 training jobs).
        threading.Thread(target=self._warm_resource_cache, name="warm-cache", daemon=True).start()
        self.ready = True
        log.info(
            "sagemaker-emulator %s ready on %s (backend %s, data dir %s)",
            __version__,
            self.settings.endpoint_url,
            self.backend.name,
            data_dir,
        )

    def _warm_resource_cache(self) -> None:
        for kind in ("TrainingJob", "Model", "EndpointConfig", "Endpoint"):
            self.resources.snapshot(kind)

    def stop(self) -> None:
        self.ready = False
        for component in ("training", "hosting"):
            service = getattr(self, component, None)
            if service is not None:
                service.shutdown()
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.shutdown()  # the docker backend removes every container it still has
        logs = getattr(self, "logs", None)
        if logs is not None:
            logs.close()
        db = getattr(self, "db", None)
        if db is not None:
            db.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    emulator = Emulator(settings or Settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        emulator.start()
        try:
            yield
        finally:
            await emulator.hosting.aclose()
            emulator.stop()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.emulator = emulator

    @app.get("/_emulator/health")
    async def health() -> JSONResponse:
        status = 200 if emulator.ready else 503
        return JSONResponse(
            {"status": "ok" if emulator.ready else "starting", "version": __version__,
             "backend": getattr(getattr(emulator, "backend", None), "name", emulator.settings.backend)},
            status_code=status,
        )

    async def aws(request: Request) -> Response:
        return await gateway.handle(request, emulator)

    # A plain Starlette route: no FastAPI body parsing or dependency resolution on the AWS path.
    app.router.add_route("/{path:path}", aws, methods=AWS_METHODS, include_in_schema=False)
    return app

"""The FastAPI application: `create_app(settings)` wires one router per concern (validate,
mutate, health) to state built once at start-up (the engine, the judging worker processes, the
metrics).

A POST to /validate or /mutate goes straight to its endpoint, ahead of FastAPI's own
per-request work (its telemetry check reads the environment), the middleware stack and the
router: those answer every other request (a GET to /validate included, with its 405), while the
admission endpoints handle their own errors and never raise. Those layers and the request and
response objects cost about a tenth of an admission's own time (py-spy on the server under
bench/webhook_latency.py's load).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ProcessPoolExecutor, wait
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from mllint.webhook import health, judging, mutate, validate
from mllint.webhook.handler import AdmissionEndpoint, AdmissionHandler
from mllint.webhook.metrics import Metrics
from mllint.webhook.review import Admission
from mllint.webhook.settings import WebhookSettings, get_settings
from mllint.webhook.tls import CertificateStore, Reload

log = logging.getLogger("mllint.webhook")


class WebhookApp(FastAPI):
    """FastAPI, with the admission endpoints called directly for the requests they serve."""

    admission_paths: Mapping[str, AdmissionEndpoint] = {
        "/validate": validate.endpoint,
        "/mutate": mutate.endpoint,
    }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.admission_paths.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self
                await endpoint(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: WebhookSettings | None = None,
    *,
    admission: Admission | None = None,
    certificates: CertificateStore | None = None,
) -> FastAPI:
    """The webhook app. `admission` may be built beforehand (so that configuration errors are
    reported before the port is bound); `certificates` are watched for rotation."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = admission
        if built is None:
            built = await asyncio.to_thread(Admission.from_settings, settings)
        engine = built.engine
        metrics.known_kinds = frozenset(
            {k.kind for k in engine.kinds} | {k[3] for k in engine.admission_kinds()}
        )
        # Everything loaded so far lives as long as the process: freezing it keeps the
        # collector's full passes, which would scan it all, from stalling requests, and keeps
        # the pages the workers share with this process shared.
        gc.collect()
        gc.freeze()
        pools: list[ProcessPoolExecutor] = []

        def start_workers() -> ProcessPoolExecutor:
            for old in pools:
                old.shutdown(wait=False, cancel_futures=True)
            pool = ProcessPoolExecutor(
                settings.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=judging.start_worker,
                initargs=(built,),
            )
            # Fork them all now, while this process has few threads and nothing in flight.
            wait([pool.submit(_ready) for _ in range(settings.workers)])
            pools[:] = [pool]
            return pool

        app.state.handler = AdmissionHandler(built, start_workers, metrics)
        watcher = None
        if certificates is not None:
            metrics.certificate_expiry.set(certificates.current.not_after.timestamp())
            watcher = asyncio.create_task(
                _watch(certificates, metrics, settings.cert_poll_interval)
            )
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            if watcher is not None:
                watcher.cancel()
            for pool in pools:
                pool.shutdown(wait=False, cancel_futures=True)

    app = WebhookApp(
        title="mllint admission webhook",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.ready = False
    app.state.draining = False
    app.include_router(validate.router)
    app.include_router(mutate.router)
    app.include_router(health.router)
    return app


def _ready() -> None:
    """A worker's first task: it exists."""


def start_draining(app: FastAPI) -> None:
    """Shutdown has begun: readiness fails and every response closes its connection."""
    app.state.draining = True
    handler: AdmissionHandler | None = getattr(app.state, "handler", None)
    if handler is not None:
        handler.draining = True


async def _watch(store: CertificateStore, metrics: Metrics, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            result = await asyncio.to_thread(store.reload_if_changed)
        except Exception as exc:  # the watcher must outlive any one bad rotation
            log.error("certificate check failed", exc_info=exc)
            continue
        if result is Reload.RELOADED:
            metrics.certificate_expiry.set(store.current.not_after.timestamp())
        if result in (Reload.RELOADED, Reload.FAILED):
            metrics.certificate_reloads.labels(result).inc()

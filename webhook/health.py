"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from mllint.webhook.deps import MetricsDep
from mllint.webhook.metrics import CONTENT_TYPE

router = APIRouter()


@router.get("/healthz")
async def healthz() -> Response:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """Ready once the engine is built and the certificate loaded, until shutdown begins."""
    state = request.app.state
    if getattr(state, "draining", False):
        return JSONResponse({"status": "shutting down"}, status_code=503)
    if not getattr(state, "ready", False):
        return JSONResponse({"status": "starting"}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics")
async def prometheus(metrics: MetricsDep) -> Response:
    return Response(metrics.exposition(), media_type=CONTENT_TYPE)

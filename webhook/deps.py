"""Dependencies of the routes, as `Annotated` aliases. They are `async def` so that FastAPI
calls them in the event loop: a plain `def` dependency costs a round trip to a worker thread."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mllint.webhook.metrics import Metrics


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]

"""POST /validate: the ValidatingAdmissionWebhook's endpoint. It never returns a patch."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from mllint.webhook.handler import AdmissionHandler, Endpoint

router = APIRouter()


async def validate(request: Request) -> Response:
    handler: AdmissionHandler = request.app.state.handler
    return await handler.handle(request, Endpoint.VALIDATE)


# A plain route: the handler reads the raw body itself, and FastAPI's parameter resolution costs
# about as much per request as evaluating a Deployment (measured with bench/webhook_latency.py).
router.add_route("/validate", validate, methods=["POST"])

"""POST /mutate: the MutatingAdmissionWebhook's endpoint. It allows, with the safe fixes of the
rules configured to mutate as one JSON Patch when there is anything to fix."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from mllint.webhook.handler import AdmissionHandler, Endpoint

router = APIRouter()


async def mutate(request: Request) -> Response:
    handler: AdmissionHandler = request.app.state.handler
    return await handler.handle(request, Endpoint.MUTATE)


# A plain route, as /validate's: no FastAPI parameter resolution on the admission path.
router.add_route("/mutate", mutate, methods=["POST"])

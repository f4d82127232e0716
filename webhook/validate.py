"""POST /validate: the ValidatingAdmissionWebhook's endpoint. It never returns a patch."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Route

from mllint.webhook.handler import AdmissionEndpoint, Endpoint

endpoint = AdmissionEndpoint(Endpoint.VALIDATE)
router = APIRouter()
router.routes.append(Route("/validate", endpoint, methods=["POST"]))

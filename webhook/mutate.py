"""POST /mutate: the MutatingAdmissionWebhook's endpoint. It allows, with the safe fixes of the
rules configured to mutate as one JSON Patch when there is anything to fix."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Route

from mllint.webhook.handler import AdmissionEndpoint, Endpoint

endpoint = AdmissionEndpoint(Endpoint.MUTATE)
router = APIRouter()
router.routes.append(Route("/mutate", endpoint, methods=["POST"]))

"""Prometheus metrics, in a registry of the app's own (so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
OTHER = "other"
"""The label of a value that comes from a request and is not one mllint knows: label values
must stay a small set, whatever clients send."""


class Metrics:
    def __init__(self) -> None:
        self.known_kinds: frozenset[str] = frozenset()
        """The kinds the engine judges; set once it is built."""
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "mllint_webhook_requests",
            "Admission requests answered, by endpoint, operation, kind, decision and dry run",
            ["endpoint", "operation", "kind", "decision", "dry_run"],
            registry=r,
        )
        self.latency = Histogram(
            "mllint_webhook_request_duration_seconds",
            "Time from receiving an admission request to answering it",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.violations = Counter(
            "mllint_webhook_violations",
            "Findings on admitted objects, by rule and enforcement action",
            ["rule", "action"],
            registry=r,
        )
        self.patch_operations = Counter(
            "mllint_webhook_patch_operations",
            "JSON Patch operations returned by /mutate",
            registry=r,
        )
        self.bad_requests = Counter(
            "mllint_webhook_bad_requests",
            "Requests refused with a 4xx before any decision, by reason",
            ["endpoint", "reason"],
            registry=r,
        )
        self.failures = Counter(
            "mllint_webhook_failures",
            "Objects that could not be evaluated and were answered by the failure mode",
            ["endpoint", "reason", "mode"],
            registry=r,
        )
        self.certificate_expiry = Gauge(
            "mllint_webhook_certificate_expiry_timestamp_seconds",
            "When the serving certificate expires (Unix time)",
            registry=r,
        )
        self.certificate_reloads = Counter(
            "mllint_webhook_certificate_reloads",
            "Serving certificate reloads after its files changed, by result",
            ["result"],
            registry=r,
        )

    def kind(self, kind: str) -> str:
        return kind if kind in self.known_kinds else OTHER

    @staticmethod
    def operation(operation: str) -> str:
        return operation if operation in OPERATIONS else OTHER

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

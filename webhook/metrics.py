"""Prometheus metrics, in a registry of the app's own (so several apps can live in one process),
or, under `mllint serve --processes N`, in files that every server process reads (see
`share_between_processes`)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric

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


def share_between_processes(directory: Path) -> None:
    """From now on, metrics made in this process and in the processes it forks keep their
    values in files in `directory`, and each one's /metrics sums every process's files
    (prometheus_client's multiprocess mode, chosen here rather than by its environment variable
    at import, which would be too late). Call before any `Metrics` is made."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


class _Files(multiprocess.MultiProcessCollector):
    """prometheus_client's collector of the processes' files, leaving out a file another process
    has just created and not yet sized: read then, it would fail the whole scrape."""

    def collect(self) -> Iterable[Metric]:
        files = [f for f in glob.glob(os.path.join(self._path, "*.db")) if os.path.getsize(f)]
        return self.merge(files, accumulate=True)  # type: ignore[no-untyped-call, no-any-return]


class Metrics:
    def __init__(self) -> None:
        self.known_kinds: frozenset[str] = frozenset()
        """The kinds the engine judges; set once it is built."""
        self.registry = CollectorRegistry(auto_describe=True)
        r: CollectorRegistry | None = self.registry
        if getattr(values.ValueClass, "_multiprocess", False):
            # Every metric of every process is in the files: the collector exports them all.
            _Files(self.registry)  # type: ignore[no-untyped-call]
            r = None
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
            multiprocess_mode="min",  # the earliest any server process serves
        )
        self.certificate_reloads = Counter(
            "mllint_webhook_certificate_reloads",
            "Serving certificate reloads after its files changed, by result",
            ["result"],
            registry=r,
        )

        self._children: dict[tuple[Any, ...], Any] = {}

    def request_counter(
        self, endpoint: str, operation: str, kind: str, decision: str, dry_run: str
    ) -> Any:
        """The requests counter of these labels: `labels()` checks and locks on every call,
        which costs more than the count itself, so each child is looked up once. The label
        values are a small set (see OTHER), and so is this cache."""
        key = (endpoint, operation, kind, decision, dry_run)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.requests.labels(*key)
        return child

    def latency_of(self, endpoint: str) -> Any:
        """The latency histogram of an endpoint, looked up once as `request_counter`'s."""
        key = ("latency", endpoint)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.latency.labels(endpoint)
        return child

    def kind(self, kind: str) -> str:
        return kind if kind in self.known_kinds else OTHER

    @staticmethod
    def operation(operation: str) -> str:
        return operation if operation in OPERATIONS else OTHER

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

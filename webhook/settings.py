"""The webhook's settings: one pydantic-settings class read from `MLLINT_*` environment variables
(lists and maps as JSON, e.g. `MLLINT_ENFORCEMENT='{"ML101": "warn"}'`), overridden by the flags
of `mllint serve`. Which rules run, their severities and options live in the rules configuration
(the same YAML file the linter reads), named by `config`.
"""

from __future__ import annotations

import enum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mllint.rules import Config, ConfigError, parse_config

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
CONTROLLER_USERS = (
    # kube-controller-manager: one service account per controller in kube-system (job-controller,
    # replicaset-controller, cronjob-controller, ...), or its own user without
    # --use-service-account-credentials. Only cluster admins make service accounts there.
    "system:serviceaccount:kube-system:*",
    "system:kube-controller-manager",
    # The operators mllint knows, as their default installs name their service accounts.
    "system:serviceaccount:kubeflow:training-operator",
    "system:serviceaccount:kubeflow-system:kubeflow-trainer-controller-manager",
    "system:serviceaccount:mpi-operator:mpi-operator",
    "system:serviceaccount:ray-system:kuberay-operator",
    "system:serviceaccount:kserve:kserve-controller-manager",
    "system:serviceaccount:seldon-system:seldon-manager",
    "system:serviceaccount:argo:argo",
    "system:serviceaccount:jobset-system:jobset-controller-manager",
    "system:serviceaccount:lws-system:lws-controller-manager",
    "system:serviceaccount:volcano-system:volcano-controllers",
)
"""Users whose objects with a controller owner reference are not judged again."""
MAX_PROCESSES = 64
"""The most server processes `mllint serve` runs; a pod with more cores is better split in
replicas."""
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
"""Where Kubernetes tells a pod its own namespace."""


class Action(enum.StrEnum):
    """What a finding does to an admission request (Gatekeeper's and Kyverno's vocabulary)."""

    DENY = "deny"
    WARN = "warn"
    AUDIT = "audit"


class FailureMode(enum.StrEnum):
    """How to answer when mllint cannot evaluate an object (an internal error, a timeout)."""

    OPEN = "open"
    """Allow, with a warning and an audit annotation saying nothing was checked."""
    CLOSED = "closed"
    """Deny, explaining why."""


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLLINT_", extra="forbid", frozen=True)

    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=0, le=65535)] = 8443
    """0 picks a free port."""
    cert_file: Path | None = None
    """PEM serving certificate (with its chain); reloaded when the file changes."""
    key_file: Path | None = None
    client_ca_file: Path | None = None
    """When set, clients (the API server) must present a certificate signed by this CA."""
    config: Path | None = None
    """The rules configuration (YAML, the linter's `.mllint.yaml` format)."""

    failure_mode: FailureMode = FailureMode.OPEN
    audit_mode: bool = False
    """Deny and warn nothing: every finding only goes to the audit annotations."""
    enforcement: dict[str, Action] = {}
    """Action per rule (code or name); by default error denies, warning warns, info audits."""
    mutate: tuple[str, ...] = ("ALL",)
    """Rules whose safe fixes /mutate applies (codes, names, code prefixes or ALL)."""
    mutate_ignore: tuple[str, ...] = ()

    exempt_namespaces: tuple[str, ...] = SYSTEM_NAMESPACES
    """Globs; the webhook's own namespace is always exempt as well."""
    namespace: str | None = None
    """The webhook's own namespace; read from the service account when unset."""
    exempt_users: tuple[str, ...] = ()
    exempt_groups: tuple[str, ...] = ()
    judge_controlled: bool = False
    """Also judge objects a controller creates (a Deployment's ReplicaSets and Pods, a CronJob's
    Jobs); by default only the object a user wrote is judged, once."""
    controller_users: tuple[str, ...] = CONTROLLER_USERS
    """User name globs of the controllers whose objects are not judged again. An owner
    reference alone proves nothing: anyone may write one, so it counts only from these."""
    controller_groups: tuple[str, ...] = ()
    """Group globs of such controllers."""

    default_timeout: Annotated[float, Field(gt=0)] = 10.0
    """The answer budget when the API server sends no `?timeout=` (its own default is 10s)."""
    max_body_bytes: Annotated[int, Field(gt=0)] = 3 * 1024 * 1024
    """The largest AdmissionReview judged; larger ones are answered by the failure mode."""
    processes: Annotated[int, Field(ge=1, le=MAX_PROCESSES)] = 1
    """Server processes answering on the port, each with its own event loop (and its own
    `workers`): for a pod given more than one core."""
    workers: Annotated[int, Field(ge=1)] = 2
    """Worker processes that judge the bodies larger than `inline_bytes`, off the event loop:
    at most this many are judged at once, the others wait (within their time budget)."""
    inline_bytes: Annotated[int, Field(ge=0)] = 64 * 1024
    """Bodies up to this size are judged in the server's own process, where a judgement takes
    about a millisecond at most and a hop to a worker would cost more than the judgement; 0
    sends every body to the workers."""
    max_connections: Annotated[int, Field(ge=1)] = 256
    """Open connections (idle keep-alive ones included) and requests in flight; beyond, new
    requests get a 503."""
    max_reading: Annotated[int, Field(ge=1)] = 8
    """Request bodies read at once; the others wait, so buffered bodies stay bounded."""
    header_timeout: Annotated[float, Field(gt=0)] = 10.0
    """Seconds for a request's headers to arrive, from its first byte (or from the connection's
    start); a connection that trickles them is closed."""
    body_timeout: Annotated[float, Field(gt=0)] = 10.0
    """Seconds for a request's body to arrive (at most its time budget); else a 408, closed."""
    cert_poll_interval: Annotated[float, Field(gt=0)] = 2.0
    keep_alive_timeout: Annotated[float, Field(gt=0)] = 120.0
    """Longer than the API server's 90-second idle timeout, so the server never closes a
    connection the API server is about to reuse."""
    shutdown_delay: Annotated[float, Field(ge=0)] = 0.0
    """On SIGTERM, keep accepting for this long (readiness failing) while endpoints update."""
    graceful_timeout: Annotated[float, Field(gt=0)] = 25.0
    """How long requests in flight may take to finish after SIGTERM."""

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_bodies: bool = False
    """Include the admitted object in admission log lines (it may hold secrets in env values)."""

    def own_namespace(self) -> str | None:
        if self.namespace:
            return self.namespace
        try:
            return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or None
        except OSError:
            return None


@lru_cache
def get_settings() -> WebhookSettings:
    """The settings from the environment, read once; tests build their own instead."""
    return WebhookSettings()


def load_rules_config(path: Path | None) -> Config:
    """The rules configuration from a YAML file (no file: the defaults)."""
    if path is None:
        return Config()
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the configuration is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None
    return parse_config(data, str(path))

"""The cluster objects that register the webhook: its namespace, its TLS Secret and the
Validating/MutatingWebhookConfigurations, as plain dicts ready to print or to apply.

The kinds the configurations intercept come from the engine (`Engine.admission_kinds()`), so a
kind the engine learns is a kind the webhook sees, with no list to keep in step here.
Shapes follow admissionregistration.k8s.io/v1:
https://kubernetes.io/docs/reference/kubernetes-api/extend-resources/validating-webhook-configuration-v1/
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mllint.rules import Config, Engine
from mllint.webhook.certs import CA_FILE, CERT_FILE, KEY_FILE, ServingCerts
from mllint.webhook.settings import SYSTEM_NAMESPACES

NAMESPACE = "mllint-system"
SERVICE = "mllint-webhook"
SECRET = "mllint-webhook-tls"
CONFIGURATION = "mllint-webhook"
SERVICE_PORT = 443
VALIDATE_PATH = "/validate"
MUTATE_PATH = "/mutate"

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace to its name (immutable), so selectors can use it."""

INJECT_CA_FROM = "cert-manager.io/inject-ca-from"

LABELS: Mapping[str, str] = {
    "app.kubernetes.io/name": "mllint",
    "app.kubernetes.io/component": "admission-webhook",
}

FailurePolicy = Literal["Ignore", "Fail"]
AdmissionKind = tuple[str, tuple[str, ...], str, str]
"""(group, versions, plural, kind), as `Engine.admission_kinds()` returns them."""


@dataclass(frozen=True)
class WebhookOptions:
    service: str = SERVICE
    namespace: str = NAMESPACE
    name: str = CONFIGURATION
    failure_policy: FailurePolicy = "Ignore"
    timeout_seconds: int = 5
    exempt_namespaces: Sequence[str] = ()
    """Exempt in addition to the system namespaces and the webhook's own."""
    ca_bundle: bytes | None = None
    """PEM CA certificates the API server trusts for the Service."""
    inject_ca_from: str | None = None
    """`namespace/certificate` of a cert-manager Certificate whose CA cert-manager injects."""

    @property
    def exempt(self) -> list[str]:
        """Every exempt namespace, in a stable order, without repeats: the control plane's own
        (which must never wait on mllint, and which the server exempts as well), the webhook's,
        and the user's."""
        names = [*SYSTEM_NAMESPACES, self.namespace, *self.exempt_namespaces]
        return list(dict.fromkeys(names))


def admission_kinds(config: Config | None = None) -> list[AdmissionKind]:
    """The kinds the engine can judge on admission: its own, the custom kinds the rules
    configuration declares, and the other kinds its active rules check."""
    return Engine(config).admission_kinds()


def webhook_rules(kinds: Iterable[AdmissionKind]) -> list[dict[str, Any]]:
    """One rule per (group, versions): a rule matches the cross product of its groups, versions
    and resources, so grouping only kinds that share both keeps the match exact."""
    grouped: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    for group, versions, plural, _kind in kinds:
        grouped[(group, versions)].add(plural)
    return [
        {
            "apiGroups": [group],
            "apiVersions": list(versions),
            "resources": sorted(plurals),
            "operations": ["CREATE", "UPDATE"],
            # Some kinds are cluster-scoped (Argo's ClusterWorkflowTemplate, KServe's
            # ClusterServingRuntime); the namespace exemption cannot apply to those.
            "scope": "*",
        }
        for (group, versions), plurals in sorted(grouped.items())
    ]


def _webhook(
    opts: WebhookOptions, name: str, path: str, rules: list[dict[str, Any]]
) -> dict[str, Any]:
    client: dict[str, Any] = {
        "service": {
            "name": opts.service,
            "namespace": opts.namespace,
            "path": path,
            "port": SERVICE_PORT,
        }
    }
    if opts.ca_bundle is not None:
        client["caBundle"] = base64.b64encode(opts.ca_bundle).decode("ascii")
    return {
        "name": name,
        "admissionReviewVersions": ["v1"],
        "clientConfig": client,
        "rules": rules,
        "failurePolicy": opts.failure_policy,
        "matchPolicy": "Equivalent",
        "namespaceSelector": {
            "matchExpressions": [
                {"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": opts.exempt}
            ]
        },
        "sideEffects": "None",
        "timeoutSeconds": opts.timeout_seconds,
    }


def _metadata(opts: WebhookOptions) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": opts.name, "labels": dict(LABELS)}
    if opts.inject_ca_from is not None:
        meta["annotations"] = {INJECT_CA_FROM: opts.inject_ca_from}
    return meta


def webhook_configurations(
    opts: WebhookOptions, kinds: Iterable[AdmissionKind] | None = None
) -> list[dict[str, Any]]:
    """The ValidatingWebhookConfiguration and the MutatingWebhookConfiguration, in that order."""
    rules = webhook_rules(admission_kinds() if kinds is None else kinds)
    mutate = _webhook(opts, "mutate.mllint.io", MUTATE_PATH, rules)
    # Another mutating webhook may add a container after mllint ran; run mllint again then.
    mutate["reinvocationPolicy"] = "IfNeeded"
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": _metadata(opts),
            "webhooks": [_webhook(opts, "validate.mllint.io", VALIDATE_PATH, rules)],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": _metadata(opts),
            "webhooks": [mutate],
        },
    ]


def namespace(name: str) -> dict[str, Any]:
    """The webhook's namespace; the server runs under the `restricted` Pod Security Standard."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {**LABELS, "pod-security.kubernetes.io/enforce": "restricted"},
        },
    }


def tls_secret(certs: ServingCerts, name: str, namespace: str) -> dict[str, Any]:
    """The certificates as a `kubernetes.io/tls` Secret with the keys cert-manager writes
    (`tls.crt`, `tls.key`, `ca.crt`), so the Deployment mounts the same files either way."""
    data = {CERT_FILE: certs.cert, KEY_FILE: certs.key, CA_FILE: certs.ca}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(LABELS)},
        "type": "kubernetes.io/tls",
        "data": {k: base64.b64encode(v).decode("ascii") for k, v in data.items()},
    }

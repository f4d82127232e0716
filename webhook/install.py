"""`mllint install`: server-side apply of the webhook's namespace, TLS Secret and configurations,
or (`--policies`) of the admission policies that stand in for the webhook.

Server-side apply (a PATCH with `application/apply-patch+yaml`) creates an object that is missing
and updates one that exists in a single request, and records mllint as the manager of the fields
it sets, so running install again is safe. The official `kubernetes` client is imported here
only, when a cluster is actually contacted.
https://kubernetes.io/docs/reference/using-api/server-side-apply/
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mllint.webhook.certs import ServingCerts
from mllint.webhook.config_objects import (
    AdmissionKind,
    WebhookOptions,
    namespace,
    tls_secret,
    webhook_configurations,
)

APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "mllint"
REQUEST_TIMEOUT = 30
"""Seconds per request: long enough for a busy API server, short enough not to look hung."""


class InstallError(Exception):
    """Install cannot proceed; `code` is the exit status (2: bad input, 1: the cluster refused)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Applied:
    kind: str
    name: str
    created: bool

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name} {'created' if self.created else 'configured'}"


def plan(
    opts: WebhookOptions,
    certs: ServingCerts,
    secret_name: str,
    kinds: Sequence[AdmissionKind] | None = None,
) -> list[dict[str, Any]]:
    """Everything install applies, in order: the namespace before what lives in it, and the
    Secret before the configurations that send the API server to the pods that mount it."""
    return [
        namespace(opts.namespace),
        tls_secret(certs, secret_name, opts.namespace),
        *webhook_configurations(opts, kinds),
    ]


def connect(kubeconfig: str | None, context: str | None) -> Any:
    """An API client from the kubeconfig (`--kubeconfig`, else $KUBECONFIG, else ~/.kube/config),
    or from the pod's service account when running inside a cluster with no kubeconfig."""
    from kubernetes import client, config

    try:
        # The client's config loaders carry no annotations.
        return config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, persist_config=False
        )
    except (config.ConfigException, OSError) as exc:
        if kubeconfig is None and context is None and "KUBERNETES_SERVICE_HOST" in os.environ:
            configuration = client.Configuration()
            try:
                config.load_incluster_config(  # type: ignore[no-untyped-call]
                    client_configuration=configuration
                )
            except config.ConfigException as incluster:
                raise InstallError(f"in-cluster configuration: {incluster}", 2) from None
            return client.ApiClient(configuration)
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise InstallError(
            f"no usable kubeconfig ({where}): {str(exc).rstrip('.')}. Pass --kubeconfig FILE "
            "(and --context NAME), or --dry-run to print the objects instead",
            2,
        ) from None


def apply(
    objects: Sequence[dict[str, Any]], api_client: Any, field_manager: str = FIELD_MANAGER
) -> list[Applied]:
    """Server-side apply each object in turn, forcing ownership of the fields it sets; stops at
    the first refusal with an InstallError that says what the API server answered."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    done: list[Applied] = []
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        patch, args = _patch_call(api_client, obj)
        try:
            # The client's *_with_http_info methods return (object, status, headers).
            _obj, status, _headers = patch(
                **args,
                body=obj,
                field_manager=field_manager,
                force=True,
                field_validation="Strict",
                _content_type=APPLY_PATCH,
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            raise InstallError(_refusal(kind, name, exc, done)) from None
        except urllib3.exceptions.HTTPError as exc:
            host = api_client.configuration.host
            # urllib3 wraps the cause (refused, timed out, bad certificate) in retry errors.
            cause = getattr(exc, "reason", None) or exc
            raise InstallError(
                f"cannot reach the Kubernetes API server at {host}: {cause}"
            ) from None
        done.append(Applied(kind, name, status == 201))
    return done


def _patch_call(api_client: Any, obj: dict[str, Any]) -> tuple[Callable[..., Any], dict[str, str]]:
    """The typed client method that applies `obj`, with its path arguments."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)
    name = obj["metadata"]["name"]
    match obj["kind"]:
        case "Namespace":
            return core.patch_namespace_with_http_info, {"name": name}
        case "Secret":
            return core.patch_namespaced_secret_with_http_info, {
                "name": name,
                "namespace": obj["metadata"]["namespace"],
            }
        case "ValidatingWebhookConfiguration":
            return admission.patch_validating_webhook_configuration_with_http_info, {"name": name}
        case "MutatingWebhookConfiguration":
            return admission.patch_mutating_webhook_configuration_with_http_info, {"name": name}
        case "ValidatingAdmissionPolicy":
            return admission.patch_validating_admission_policy_with_http_info, {"name": name}
        case "ValidatingAdmissionPolicyBinding":
            vapb = admission.patch_validating_admission_policy_binding_with_http_info
            return vapb, {"name": name}
        case "MutatingAdmissionPolicy":
            return admission.patch_mutating_admission_policy_with_http_info, {"name": name}
        case "MutatingAdmissionPolicyBinding":
            mapb = admission.patch_mutating_admission_policy_binding_with_http_info
            return mapb, {"name": name}
    raise ValueError(f"install does not apply {obj['kind']} objects")


def api_message(exc: Any) -> str:
    """What the API server said in a refusal (`kubernetes.client.ApiException`): the message of
    the Status it sent, else the HTTP reason."""
    message: str = exc.reason or ""
    try:
        status = json.loads(exc.body or "")
        return str(status.get("message") or message)
    except (ValueError, AttributeError):
        return message


def _refusal(kind: str, name: str, exc: Any, done: Sequence[Applied]) -> str:
    lines = [f"applying {kind.lower()}/{name} failed: HTTP {exc.status}: {api_message(exc)}"]
    if exc.status in (401, 403):
        lines.append(
            "the kubeconfig's user needs the mllint-installer roles (see the Permissions "
            "section of docs/install.md)"
        )
    if done:
        lines.append("already applied: " + ", ".join(str(a) for a in done))
    return "\n".join(lines)

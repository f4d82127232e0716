"""deploy/: the kustomize base (the server) and the cert-manager overlay (server, certificates and
webhook configurations). Every built-in object is validated against the official OpenAPI schemas;
the objects are checked against each other (selectors, ports, Secret names, certificate names)
and against what `mllint certs`, `mllint webhook-config` and `mllint serve` expect; and mllint's
own linter must find nothing in them."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from dockerfile import stages

from mllint.webhook import certs
from mllint.webhook.config_objects import (
    INJECT_CA_FROM,
    NAMESPACE,
    SECRET,
    SERVICE,
    SERVICE_PORT,
    namespace,
)
from mllint.webhook.settings import WebhookSettings

MLLINT = [sys.executable, "-c", "import sys; from mllint.linter.cli import main; sys.exit(main())"]
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
BASE, CERT_MANAGER = DEPLOY / "base", DEPLOY / "cert-manager"
K8S_VERSION = kubernetes_validate.utils.latest_version()
CERT_MANAGER_GROUP = "cert-manager.io/v1"
ENTRYPOINT = stages()[-1].entrypoint or []
assert ENTRYPOINT[:1] == ["mllint"], "the image runs the mllint command"


def build(directory: Path) -> list[dict[str, Any]]:
    """The objects of a kustomization that only lists resources (all ours do; anything more
    would need kustomize itself, so it is refused here)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert set(kustomization) == {"apiVersion", "kind", "resources"}, directory
    objects: list[dict[str, Any]] = []
    for entry in kustomization["resources"]:
        path = directory / entry
        objects += build(path) if path.is_dir() else list(yaml.safe_load_all(path.read_text()))
    return objects


def key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def index(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    assert len(found) == len(objects), "two objects share a kind and name"
    return found


@pytest.fixture(scope="module")
def base() -> dict[tuple[str, str], dict[str, Any]]:
    return index(build(BASE))


@pytest.fixture(scope="module")
def full() -> dict[tuple[str, str], dict[str, Any]]:
    return index(build(CERT_MANAGER))


def pod_template(objs: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    template: dict[str, Any] = objs[("Deployment", SERVICE)]["spec"]["template"]
    return template


def container(objs: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    (main,) = pod_template(objs)["spec"]["containers"]
    return dict(main)


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def container_port(main: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in main["ports"] if p["name"] == port]
    return int(number)


# --- schemas


@pytest.mark.parametrize("directory", [BASE, CERT_MANAGER], ids=["base", "cert-manager"])
def test_every_builtin_object_is_valid_against_the_openapi_schema(directory: Path) -> None:
    objects = build(directory)
    assert objects
    for obj in objects:
        if obj["apiVersion"] == CERT_MANAGER_GROUP:
            continue  # a CRD kind: checked field by field below
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == "mllint"


def test_objects_are_namespaced_in_the_webhook_namespace(full: dict[Any, dict[str, Any]]) -> None:
    cluster_scoped = {
        "Namespace",
        "ClusterRole",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
    for (kind, _), obj in full.items():
        assert obj["metadata"].get("namespace") == (None if kind in cluster_scoped else NAMESPACE)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) not on PATH")
@pytest.mark.parametrize("directory", [BASE, CERT_MANAGER], ids=["base", "cert-manager"])
def test_kustomize_builds_the_same_objects(directory: Path) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    assert sorted(map(key, yaml.safe_load_all(built.stdout))) == sorted(map(key, build(directory)))


# --- the server


def test_base_holds_the_server_and_nothing_that_needs_a_certificate(
    base: dict[Any, dict[str, Any]],
) -> None:
    assert sorted(base) == sorted(
        [
            ("Namespace", NAMESPACE),
            ("ServiceAccount", SERVICE),
            ("ClusterRole", "mllint-installer"),
            ("ClusterRole", "mllint-policy-installer"),
            ("Role", "mllint-installer"),
            ("Deployment", SERVICE),
            ("HorizontalPodAutoscaler", SERVICE),
            ("PodDisruptionBudget", SERVICE),
            ("Service", SERVICE),
            ("NetworkPolicy", SERVICE),
        ]
    )


def test_namespace_is_the_one_install_applies(base: dict[Any, dict[str, Any]]) -> None:
    assert base[("Namespace", NAMESPACE)] == namespace(NAMESPACE)


def test_deployment_is_highly_available(base: dict[Any, dict[str, Any]]) -> None:
    deployment = base[("Deployment", SERVICE)]
    labels = pod_template(base)["metadata"]["labels"]
    # The autoscaler owns the replica count; one in the Deployment would be reset by each apply.
    assert "replicas" not in deployment["spec"]
    hpa = base[("HorizontalPodAutoscaler", SERVICE)]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
    (metric,) = hpa["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    # Utilization is measured against the request, which must be set.
    assert pod_template(base)["spec"]["containers"][0]["resources"]["requests"]["cpu"]
    assert selects(deployment["spec"]["selector"]["matchLabels"], labels)
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    anti = pod_template(base)["spec"]["affinity"]["podAntiAffinity"]
    (term,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert selects(term["podAffinityTerm"]["labelSelector"]["matchLabels"], labels)
    pdb = base[("PodDisruptionBudget", SERVICE)]
    assert selects(pdb["spec"]["selector"]["matchLabels"], labels)
    # Drains must be able to evict one replica at a time.
    assert 1 <= pdb["spec"]["minAvailable"] < hpa["minReplicas"]


def test_pod_meets_the_restricted_pod_security_standard(base: dict[Any, dict[str, Any]]) -> None:
    spec = pod_template(base)["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] > 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    assert "hostNetwork" not in spec
    main = container(base)
    security = main["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert "privileged" not in security
    volume_kinds = {k for v in spec["volumes"] for k in v if k != "name"}
    assert volume_kinds <= {"secret", "emptyDir", "configMap", "projected"}


def test_container_resources_image_and_probes(base: dict[Any, dict[str, Any]]) -> None:
    main = container(base)
    assert set(main["resources"]["requests"]) == {"cpu", "memory"}
    assert set(main["resources"]["limits"]) == {"memory"}
    image, _, tag = main["image"].rpartition(":")
    assert image
    assert tag == importlib.metadata.version("mllint"), "pin the image to the release"
    expected = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in expected.items():
        get = main[probe]["httpGet"]
        assert (get["path"], get["scheme"]) == (path, "HTTPS")
        assert container_port(main, get["port"]) == 8443


def test_server_settings_are_ones_mllint_serve_reads(base: dict[Any, dict[str, Any]]) -> None:
    main = container(base)
    env = {e["name"]: e for e in main["env"]}
    fields = set(WebhookSettings.model_fields)
    for name in env:
        assert name.startswith("MLLINT_")
        assert name.removeprefix("MLLINT_").lower() in fields, f"mllint serve ignores {name}"
    assert env["MLLINT_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    settings = WebhookSettings(
        **{k.removeprefix("MLLINT_").lower(): e["value"] for k, e in env.items() if "value" in e}
    )
    assert settings.port == 8443
    (tls,) = [m for m in main["volumeMounts"] if m["name"] == "tls"]
    assert tls["readOnly"] is True
    assert settings.cert_file == Path(tls["mountPath"]) / "tls.crt"
    assert settings.key_file == Path(tls["mountPath"]) / "tls.key"
    (volume,) = [v for v in pod_template(base)["spec"]["volumes"] if v["name"] == "tls"]
    assert volume["secret"]["secretName"] == SECRET
    # Group-readable for the pod's fsGroup only: the key is not world-readable.
    assert volume["secret"]["defaultMode"] & 0o007 == 0
    grace = pod_template(base)["spec"]["terminationGracePeriodSeconds"]
    assert grace > settings.shutdown_delay + settings.graceful_timeout


def https_status(port: int, path: str, ca_file: Path) -> int:
    """GET over TLS to 127.0.0.1, verifying the certificate for the Service's DNS name as the
    API server does (kubelet probes skip verification; this is stricter)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=f"{SERVICE}.{NAMESPACE}.svc") as tls,
    ):
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        response = b""
        while chunk := tls.recv(65536):
            response += chunk
    return int(response.split()[1])


def test_server_as_deployed_answers_its_probes_over_tls(
    base: dict[Any, dict[str, Any]], tmp_path: Path
) -> None:
    """The image's entrypoint (`mllint serve`) with the Deployment's environment (the mount path
    mapped to a folder written by `mllint certs`, the port to a free one) answers every probe."""
    main = container(base)
    (mount,) = [m["mountPath"] for m in main["volumeMounts"] if m["name"] == "tls"]
    certs.write(certs.generate(SERVICE, NAMESPACE), tmp_path / "tls")
    downward = {"metadata.namespace": NAMESPACE}
    env = {
        e["name"]: e["value"].replace(mount, str(tmp_path / "tls"))
        if "value" in e
        else downward[e["valueFrom"]["fieldRef"]["fieldPath"]]
        for e in main["env"]
    }
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    env |= {"MLLINT_HOST": "127.0.0.1", "MLLINT_PORT": str(port), "MLLINT_SHUTDOWN_DELAY": "0"}
    server = subprocess.Popen(
        [*MLLINT, *ENTRYPOINT[1:], *main.get("args", [])],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        probes = ("startupProbe", "readinessProbe", "livenessProbe")
        for probe in probes:
            path = main[probe]["httpGet"]["path"]
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, server.communicate()[1]
                try:
                    status = https_status(port, path, tmp_path / "tls" / "ca.crt")
                except ConnectionRefusedError:
                    status = 0
                if status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert status == 200, f"{probe} {path} answered {status}"
    finally:
        server.terminate()
        server.communicate(timeout=60)


def test_service_sends_443_to_the_https_port(base: dict[Any, dict[str, Any]]) -> None:
    service = base[("Service", SERVICE)]
    assert selects(service["spec"]["selector"], pod_template(base)["metadata"]["labels"])
    (port,) = service["spec"]["ports"]
    assert port["port"] == SERVICE_PORT == 443
    assert container_port(container(base), port["targetPort"]) == 8443


def test_network_policy_admits_https_only_and_denies_egress(
    base: dict[Any, dict[str, Any]],
) -> None:
    policy = base[("NetworkPolicy", SERVICE)]["spec"]
    assert selects(policy["podSelector"]["matchLabels"], pod_template(base)["metadata"]["labels"])
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8443}]
    assert policy["egress"] == []


def test_server_account_has_no_permissions(full: dict[Any, dict[str, Any]]) -> None:
    account = full[("ServiceAccount", SERVICE)]
    assert account["automountServiceAccountToken"] is False
    assert pod_template(full)["spec"]["serviceAccountName"] == SERVICE
    assert not [k for k in full if k[0] in ("RoleBinding", "ClusterRoleBinding")]


# --- the cert-manager overlay


def issuer_of(full: dict[Any, dict[str, Any]], certificate: dict[str, Any]) -> dict[str, Any]:
    ref = certificate["spec"]["issuerRef"]
    assert (ref["group"], ref["kind"]) == ("cert-manager.io", "Issuer")
    return full[("Issuer", ref["name"])]


def test_cert_manager_issues_the_secret_the_deployment_mounts(
    full: dict[Any, dict[str, Any]],
) -> None:
    serving = full[("Certificate", SERVICE)]
    spec = serving["spec"]
    assert spec["secretName"] == SECRET
    assert spec["dnsNames"] == certs.dns_names(SERVICE, NAMESPACE)
    assert spec["privateKey"] == {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}
    assert "server auth" in spec["usages"]
    assert "isCA" not in spec
    # The serving certificate comes from a CA (so renewals keep the injected bundle), and the
    # CA from the self-signed Issuer.
    ca_issuer = issuer_of(full, serving)
    (ca_cert,) = [
        c
        for (kind, _), c in full.items()
        if kind == "Certificate"
        and c["spec"]["secretName"] == ca_issuer["spec"]["ca"]["secretName"]
    ]
    assert ca_cert["spec"]["isCA"] is True
    assert ca_cert["spec"]["privateKey"] == {"algorithm": "ECDSA", "size": 256}
    assert issuer_of(full, ca_cert)["spec"] == {"selfSigned": {}}


def test_webhook_configurations_take_their_ca_from_the_serving_certificate(
    full: dict[Any, dict[str, Any]],
) -> None:
    kinds = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
    configurations = [obj for (kind, _), obj in full.items() if kind in kinds]
    assert sorted(c["kind"] for c in configurations) == sorted(kinds)
    for obj in configurations:
        source = obj["metadata"]["annotations"][INJECT_CA_FROM]
        ns, _, name = source.partition("/")
        assert ns == NAMESPACE
        assert ("Certificate", name) in full
        (hook,) = obj["webhooks"]
        assert "caBundle" not in hook["clientConfig"]
        assert (
            hook["clientConfig"]["service"]["name"]
            == full[("Service", SERVICE)]["metadata"]["name"]
        )


def test_webhook_configurations_are_current() -> None:
    """deploy/cert-manager/webhooks.yaml is generated; it must match the engine's kinds today."""
    target = CERT_MANAGER / "webhooks.yaml"
    first_line = target.read_text().splitlines()[0]
    command = first_line.split("`")[1]
    args = command.split()[1:]
    assert args[:1] == ["webhook-config"], first_line
    done = subprocess.run([*MLLINT, *args], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == target.read_text(), (
        f"{target} is stale; regenerate it: {command} > deploy/cert-manager/webhooks.yaml"
    )


def test_mllint_finds_nothing_in_deploy() -> None:
    done = subprocess.run(
        [*MLLINT, str(DEPLOY), "--format", "json", "--fail-on", "info"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout)
    assert report["findings"] == [], report["findings"]
    # It did read every object.
    assert report["summary"]["objects"] >= len(build(CERT_MANAGER))
    assert done.returncode == 0, done.stderr

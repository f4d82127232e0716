"""`mllint webhook-config` and `mllint install`, checked against the Kubernetes API contract.

There is no cluster here, so a small HTTP server on loopback stands in for the API server: the
real `kubernetes` client, configured by a real kubeconfig, sends it what it would send a cluster,
and the tests check those requests (server-side apply: PATCH, `application/apply-patch+yaml`,
fieldManager, force, the resource paths) and validate every body against the official OpenAPI
schemas (`kubernetes-validate`) and the API server's own rules for webhook configurations.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import pytest
import yaml

from mllint.rules import Engine
from mllint.webhook import certs
from mllint.webhook.cli import install, webhook_config
from mllint.webhook.config_objects import webhook_rules
from mllint.webhook.policies import export
from mllint.webhook.settings import WebhookSettings

MLLINT = [sys.executable, "-c", "import sys; from mllint.linter.cli import main; sys.exit(main())"]
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_VERSION = kubernetes_validate.utils.latest_version()
ADMISSION = "/apis/admissionregistration.k8s.io/v1"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MLLINT, *args], check=False, capture_output=True, text=True, timeout=120, env=env
    )


def call(command: Callable[[list[str]], int], *args: str) -> tuple[int, str, str]:
    """Run a subcommand in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = command(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def validate(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


# --- the API server's own checks of webhook configurations, which the OpenAPI schema does not
# express (pkg/apis/admissionregistration/validation/validation.go in kubernetes/kubernetes).


def check_webhook_configuration(obj: dict[str, Any]) -> None:
    validate(obj)
    names = [w["name"] for w in obj["webhooks"]]
    assert len(names) == len(set(names)), "webhook names must be unique"
    for hook in obj["webhooks"]:
        assert len(hook["name"].split(".")) >= 3, "webhook names must be fully qualified"
        assert hook["sideEffects"] in ("None", "NoneOnDryRun")
        assert "v1" in hook["admissionReviewVersions"]
        assert 1 <= hook["timeoutSeconds"] <= 30
        assert hook["failurePolicy"] in ("Ignore", "Fail")
        assert hook["matchPolicy"] in ("Exact", "Equivalent")
        service = hook["clientConfig"]["service"]
        assert service["path"].startswith("/")
        assert 1 <= service["port"] <= 65535
        for rule in hook["rules"]:
            assert rule["apiVersions"]
            assert rule["resources"]
            assert all(r and "/" not in r and r != "*" for r in rule["resources"])
            assert set(rule["operations"]) <= {"CREATE", "UPDATE", "DELETE", "CONNECT"}
            assert rule["scope"] in ("Cluster", "Namespaced", "*")
        if obj["kind"] == "MutatingWebhookConfiguration":
            assert hook["reinvocationPolicy"] in ("Never", "IfNeeded")
        else:
            assert "reinvocationPolicy" not in hook


def matched(hook: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(group, version, resource) triples a webhook's rules match: their cross product."""
    return {
        (g, v, r)
        for rule in hook["rules"]
        for g in rule["apiGroups"]
        for v in rule["apiVersions"]
        for r in rule["resources"]
    }


def engine_triples() -> set[tuple[str, str, str]]:
    return {
        (g, v, plural) for g, versions, plural, _ in Engine().admission_kinds() for v in versions
    }


# --- a stand-in API server


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeAPIServer:
    """Records requests; answers a server-side apply as the API server does: 201 Created the
    first time a path is applied, 200 after, the applied object in the body; or the Status
    registered in `refuse` for a path."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    refuse: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)


@contextlib.contextmanager
def fake_api_server() -> Iterator[FakeAPIServer]:
    fake = FakeAPIServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Request:
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                yaml.safe_load(raw) if raw else None,
            )
            fake.requests.append(request)
            return request

        def do_PATCH(self) -> None:
            request = self._record()
            if request.path in fake.refuse:
                code, reason, message = fake.refuse[request.path]
                status = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
                self._answer(code, {**status, "reason": reason, "message": message, "code": code})
                return
            created = request.path not in fake.seen
            fake.seen.add(request.path)
            self._answer(201 if created else 200, request.body)

        def _unexpected(self) -> None:
            self._record()
            self._answer(405, {"kind": "Status", "apiVersion": "v1", "code": 405})

        do_GET = do_POST = do_PUT = do_DELETE = _unexpected

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api() -> Iterator[FakeAPIServer]:
    with fake_api_server() as fake:
        yield fake


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": server}}],
                "users": [{"name": "installer", "user": {"token": "s3cret-token"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "installer"}}],
                "current-context": "fake",
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tls")
    certs.write(certs.generate("mllint-webhook", "mllint-system"), out, overwrite=True)
    return out


def isolated_env(home: Path) -> dict[str, str]:
    """No KUBECONFIG, an empty home: no chance of talking to a real cluster."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    return {**env, "HOME": str(home)}


PATHS = [
    "/api/v1/namespaces/mllint-system",
    "/api/v1/namespaces/mllint-system/secrets/mllint-webhook-tls",
    f"{ADMISSION}/validatingwebhookconfigurations/mllint-webhook",
    f"{ADMISSION}/mutatingwebhookconfigurations/mllint-webhook",
]


# --- install


@dataclass
class Installed:
    """One `mllint install` run end to end: the real CLI in a subprocess, the real client."""

    done: subprocess.CompletedProcess[str]
    requests: list[Request]


@pytest.fixture(scope="module")
def installed(cert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    with fake_api_server() as fake:
        config = kubeconfig(tmp_path_factory.mktemp("kube") / "config", fake.url)
        done = run("install", "--cert-dir", str(cert_dir), "--kubeconfig", str(config))
        yield Installed(done, list(fake.requests))


def test_install_is_server_side_apply_of_four_objects(installed: Installed, cert_dir: Path) -> None:
    assert installed.done.returncode == 0, installed.done.stderr
    assert installed.done.stdout.splitlines() == [
        "namespace/mllint-system created",
        "secret/mllint-webhook-tls created",
        "validatingwebhookconfiguration/mllint-webhook created",
        "mutatingwebhookconfiguration/mllint-webhook created",
    ]
    assert [r.path for r in installed.requests] == PATHS
    for request in installed.requests:
        assert request.method == "PATCH"
        assert request.headers["content-type"] == "application/apply-patch+yaml"
        assert request.query == {
            "fieldManager": ["mllint"],
            "force": ["true"],
            "fieldValidation": ["Strict"],
        }
        assert request.headers["authorization"] == "Bearer s3cret-token"
        validate(request.body)

    ns, secret, validating, mutating = (r.body for r in installed.requests)
    assert ns["metadata"]["name"] == "mllint-system"
    assert secret["type"] == "kubernetes.io/tls"
    for key in ("ca.crt", "tls.crt", "tls.key"):
        assert base64.b64decode(secret["data"][key]) == (cert_dir / key).read_bytes()
    for config_obj in (validating, mutating):
        check_webhook_configuration(config_obj)
        (hook,) = config_obj["webhooks"]
        ca_bundle = base64.b64decode(hook["clientConfig"]["caBundle"])
        assert ca_bundle == (cert_dir / "ca.crt").read_bytes()


def test_dry_run_prints_what_install_sends(installed: Installed, cert_dir: Path) -> None:
    code, out, err = call(install, "--cert-dir", str(cert_dir), "--dry-run")
    assert code == 0, err
    assert list(yaml.safe_load_all(out)) == [r.body for r in installed.requests]


def test_install_again_updates_in_place(api: FakeAPIServer, cert_dir: Path, tmp_path: Path) -> None:
    config = str(kubeconfig(tmp_path / "kubeconfig", api.url))
    assert call(install, "--cert-dir", str(cert_dir), "--kubeconfig", config)[0] == 0
    code, out, err = call(
        install, "--cert-dir", str(cert_dir), "--kubeconfig", config, "--field-manager", "ops"
    )
    assert code == 0, err
    assert out.splitlines() == [
        "namespace/mllint-system configured",
        "secret/mllint-webhook-tls configured",
        "validatingwebhookconfiguration/mllint-webhook configured",
        "mutatingwebhookconfiguration/mllint-webhook configured",
    ]
    assert [r.path for r in api.requests] == PATHS * 2
    assert {r.query["fieldManager"][0] for r in api.requests[4:]} == {"ops"}


def test_refusal_stops_install_with_the_api_servers_message(
    api: FakeAPIServer, cert_dir: Path, tmp_path: Path
) -> None:
    api.refuse[PATHS[1]] = (
        403,
        "Forbidden",
        'secrets "mllint-webhook-tls" is forbidden: User "ci" cannot patch resource "secrets"',
    )
    config = kubeconfig(tmp_path / "kubeconfig", api.url)
    code, _, err = call(install, "--cert-dir", str(cert_dir), "--kubeconfig", str(config))
    assert code == 1
    assert "applying secret/mllint-webhook-tls failed: HTTP 403" in err
    assert 'User "ci" cannot patch resource "secrets"' in err
    assert "mllint-installer" in err
    assert "already applied: namespace/mllint-system created" in err
    # Nothing after the refused Secret: no configuration may point at a server without its TLS.
    assert [r.path for r in api.requests] == PATHS[:2]


def test_unreachable_api_server_is_a_message(cert_dir: Path, tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    # The port is closed again: connections are refused.
    config = kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
    code, _, err = call(install, "--cert-dir", str(cert_dir), "--kubeconfig", str(config))
    assert code == 1
    assert f"cannot reach the Kubernetes API server at http://127.0.0.1:{port}" in err
    assert "Connection refused" in err


def test_no_kubeconfig_is_a_message_not_a_traceback(cert_dir: Path, tmp_path: Path) -> None:
    done = run("install", "--cert-dir", str(cert_dir), env=isolated_env(tmp_path))
    assert done.returncode == 2
    assert "no usable kubeconfig" in done.stderr
    assert "--dry-run" in done.stderr
    assert "Traceback" not in done.stderr
    missing = tmp_path / "nope"
    code, _, err = call(install, "--cert-dir", str(cert_dir), "--kubeconfig", str(missing))
    assert code == 2
    assert str(missing) in err


def test_dry_run_needs_no_cluster_and_prints_valid_objects(cert_dir: Path, tmp_path: Path) -> None:
    done = run(
        "install",
        "--cert-dir",
        str(cert_dir),
        "--dry-run",
        "--failure-policy",
        "Fail",
        "--timeout",
        "3",
        env=isolated_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    objects = list(yaml.safe_load_all(done.stdout))
    assert [o["kind"] for o in objects] == [
        "Namespace",
        "Secret",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ]
    for obj in objects:
        validate(obj)
    for obj in objects[2:]:
        check_webhook_configuration(obj)
        assert obj["webhooks"][0]["failurePolicy"] == "Fail"
        assert obj["webhooks"][0]["timeoutSeconds"] == 3


def test_install_refuses_certificates_for_another_service(cert_dir: Path) -> None:
    code, out, err = call(
        install, "--cert-dir", str(cert_dir), "--namespace", "elsewhere", "--dry-run"
    )
    assert code == 2
    assert "not valid for mllint-webhook.elsewhere.svc" in err
    assert out == ""


# --- the installer roles in deploy/ allow what install does, and no more


def _allows(rule: dict[str, Any], verb: str, group: str, resource: str, name: str) -> bool:
    return (
        verb in rule["verbs"]
        and group in rule["apiGroups"]
        and resource in rule["resources"]
        and name in rule.get("resourceNames", [name])
    )


def installer_roles(name: str) -> list[dict[str, Any]]:
    roles = [
        r
        for r in yaml.safe_load_all((DEPLOY / "base" / "rbac.yaml").read_text())
        if r["metadata"]["name"] == name
    ]
    for role in roles:
        validate(role)
    assert roles
    return roles


def assert_roles_allow_exactly(roles: list[dict[str, Any]], requests: list[Request]) -> None:
    """Every request is allowed by a rule of the roles, and every rule allows one of them."""
    used: set[tuple[str, int]] = set()
    assert requests
    for request in requests:
        parts = request.path.strip("/").split("/")
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        namespace = rest[1] if len(rest) == 4 else ""
        resource, name = rest[-2], rest[-1]
        # An apply that creates its object is authorized as `create` as well as `patch`.
        for verb in ("patch", "create"):
            grants = [
                (role["kind"], i)
                for role in roles
                if role["kind"] == "ClusterRole" or role["metadata"]["namespace"] == namespace
                for i, rule in enumerate(role["rules"])
                if _allows(rule, verb, group, resource, name)
            ]
            assert grants, f"no installer rule allows {verb} {request.path}"
            used.update(grants)
    every_rule = {(role["kind"], i) for role in roles for i in range(len(role["rules"]))}
    assert used == every_rule, "a rule grants something install never does"
    names = {n for role in roles for rule in role["rules"] for n in rule.get("resourceNames", [])}
    assert names == {r.path.rsplit("/", 1)[1] for r in requests}, "a name install never applies"


def test_installer_roles_allow_exactly_what_install_sends(installed: Installed) -> None:
    assert_roles_allow_exactly(installer_roles("mllint-installer"), installed.requests)


# --- webhook-config


def test_webhook_config_rules_are_exactly_the_engines_kinds(cert_dir: Path) -> None:
    done = run("webhook-config", "--ca-file", str(cert_dir / "ca.crt"))
    assert done.returncode == 0, done.stderr
    validating, mutating = yaml.safe_load_all(done.stdout)
    assert validating["kind"] == "ValidatingWebhookConfiguration"
    assert mutating["kind"] == "MutatingWebhookConfiguration"
    for obj, path in ((validating, "/validate"), (mutating, "/mutate")):
        check_webhook_configuration(obj)
        (hook,) = obj["webhooks"]
        assert matched(hook) == engine_triples()
        assert hook["sideEffects"] == "None"
        assert hook["admissionReviewVersions"] == ["v1"]
        assert hook["timeoutSeconds"] == 5
        assert hook["failurePolicy"] == "Ignore"
        assert hook["clientConfig"]["service"] == {
            "name": "mllint-webhook",
            "namespace": "mllint-system",
            "path": path,
            "port": 443,
        }
        assert hook["namespaceSelector"] == {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "NotIn",
                    "values": ["kube-system", "kube-public", "kube-node-lease", "mllint-system"],
                }
            ]
        }
    assert mutating["webhooks"][0]["reinvocationPolicy"] == "IfNeeded"


def test_webhook_config_options(cert_dir: Path) -> None:
    code, out, err = call(
        webhook_config,
        "--ca-file",
        str(cert_dir / "ca.crt"),
        "--service",
        "lint",
        "--namespace",
        "platform",
        "--name",
        "lint.example.com",
        "--failure-policy",
        "Fail",
        "--timeout",
        "10",
        "--exempt-namespace",
        "ci",
        "--exempt-namespace",
        "kube-system",
    )
    assert code == 0, err
    for obj in yaml.safe_load_all(out):
        check_webhook_configuration(obj)
        assert obj["metadata"]["name"] == "lint.example.com"
        (hook,) = obj["webhooks"]
        assert hook["failurePolicy"] == "Fail"
        assert hook["timeoutSeconds"] == 10
        assert hook["clientConfig"]["service"]["name"] == "lint"
        assert hook["clientConfig"]["service"]["namespace"] == "platform"
        assert hook["namespaceSelector"]["matchExpressions"][0]["values"] == [
            "kube-system",
            "kube-public",
            "kube-node-lease",
            "platform",
            "ci",
        ]


def test_webhook_config_for_cert_manager_has_no_bundle_but_the_injection_annotation() -> None:
    code, out, err = call(webhook_config, "--inject-ca-from", "mllint-system/mllint-webhook")
    assert code == 0, err
    for obj in yaml.safe_load_all(out):
        check_webhook_configuration(obj)
        assert obj["metadata"]["annotations"] == {
            "cert-manager.io/inject-ca-from": "mllint-system/mllint-webhook"
        }
        assert "caBundle" not in obj["webhooks"][0]["clientConfig"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ca-file", "/nonexistent/ca.crt"], "cannot read /nonexistent/ca.crt"),
        (["--ca-file", __file__], "no PEM certificate found"),
        (["--ca-file", "x", "--timeout", "31"], "from 1 to 30"),
        (["--ca-file", "x", "--failure-policy", "Maybe"], "invalid choice"),
        (["--inject-ca-from", "no-slash"], "NAMESPACE/CERTIFICATE"),
        ([], "one of the arguments --ca-file --inject-ca-from is required"),
    ],
)
def test_webhook_config_bad_input_exits_2(args: list[str], message: str) -> None:
    code, out, err = call(webhook_config, *args)
    assert code == 2
    assert message in err
    assert out == ""


def test_webhook_config_includes_the_custom_kinds_of_the_rules_configuration(
    cert_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "rules.yaml"
    config.write_text(
        "kinds:\n"
        "  - api-version: training.example.com/v1\n"
        "    kind: FineTuneRun\n"
        "    role: batch\n"
        "    templates: [{path: /spec/template}]\n"
    )
    code, out, err = call(
        webhook_config, "--ca-file", str(cert_dir / "ca.crt"), "--config", str(config)
    )
    assert code == 0, err
    for obj in yaml.safe_load_all(out):
        check_webhook_configuration(obj)
        assert matched(obj["webhooks"][0]) == engine_triples() | {
            ("training.example.com", "v1", "finetuneruns")
        }
    config.write_text("kinds: [{kind: Broken}]\n")
    code, out, err = call(
        install, "--cert-dir", str(cert_dir), "--config", str(config), "--dry-run"
    )
    assert code == 2
    assert str(config) in err
    assert out == ""


def test_rules_group_kinds_without_widening_the_match() -> None:
    kinds = [
        ("apps", ("v1",), "deployments", "Deployment"),
        ("autoscaling", ("v1", "v2"), "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
        ("kubeflow.org", ("v1",), "pytorchjobs", "PyTorchJob"),
        ("kubeflow.org", ("v1",), "tfjobs", "TFJob"),
        ("kubeflow.org", ("v2beta1",), "mpijobs", "MPIJob"),
        ("", ("v1",), "pods", "Pod"),
    ]
    rules = webhook_rules(kinds)
    assert matched({"rules": rules}) == {(g, v, p) for g, vs, p, _ in kinds for v in vs}
    assert len(rules) == 5


# --- install --policies


def test_install_policies_applies_the_admission_policies_instead_of_the_webhook(
    api: FakeAPIServer, tmp_path: Path
) -> None:
    config = str(kubeconfig(tmp_path / "kubeconfig", api.url))
    code, out, err = call(install, "--policies", "--mutating-policies", "--kubeconfig", config)
    assert code == 0, err
    settings = WebhookSettings(namespace="mllint-system")
    expected = [
        *export(Engine(), settings, "vap").objects,
        *export(Engine(), settings, "map").objects,
    ]
    kinds = {o["kind"] for o in expected}
    assert kinds == {
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    }
    assert [r.body for r in api.requests] == expected
    assert [r.path for r in api.requests] == [
        f"{ADMISSION}/{o['kind'].lower()}s/{o['metadata']['name']}".replace("policys", "policies")
        for o in expected
    ]
    assert out.splitlines() == [
        f"{o['kind'].lower()}/{o['metadata']['name']} created" for o in expected
    ]
    for request in api.requests:
        assert request.method == "PATCH"
        assert request.headers["content-type"] == "application/apply-patch+yaml"
        assert request.query["fieldManager"] == ["mllint"]
        validate(request.body)
    # The role deploy/ gives the identity that installs the policies allows exactly this.
    assert_roles_allow_exactly(installer_roles("mllint-policy-installer"), list(api.requests))


def test_install_policies_needs_no_certificates_and_only_validating_by_default(
    api: FakeAPIServer, tmp_path: Path
) -> None:
    config = str(kubeconfig(tmp_path / "kubeconfig", api.url))
    code, _, err = call(install, "--policies", "--kubeconfig", config, "--failure-policy", "Fail")
    assert code == 0, err
    assert {r.body["kind"] for r in api.requests} == {
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    assert {r.body["spec"].get("failurePolicy", "Fail") for r in api.requests} == {"Fail"}
    code, _, err = call(install, "--mutating-policies", "--kubeconfig", config)
    assert code == 2
    assert "--mutating-policies needs --policies" in err
    code, _, err = call(install, "--kubeconfig", config)
    assert code == 2
    assert "--cert-dir is required" in err

"""One object, one set of exceptions, three front ends, one answer: `mllint` on a file,
`/validate` of `mllint serve` over TLS, and `mllint audit` of a cluster holding the object.

The exceptions: a configuration exception for the probe rules that holds, and an annotation
whose expiry has passed (so its finding is back, and the lapsed annotation is reported)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from apiserver import APIServer, default_resources, kubeconfig, serve
from installed import json_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webhook"))

from webhook_helpers import PKI, SERVING_NAMES, Running, make_authority, review, start_process

from mllint.rules import REGISTRY

CONFIG = """\
exceptions:
  - rules: [startup-probe-missing, readiness-probe-missing, liveness-probe-missing]
    reason: the serving platform probes these model servers itself
    match: {namespaces: [ml], kinds: [Deployment], labels: {platform: kserve-raw}}
    expires: 2999-12-31
"""

OBJECT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "llm",
        "namespace": "ml",
        "labels": {"app": "llm", "platform": "kserve-raw"},
        "annotations": {
            "ignore-check.mllint.io/image-tag-latest": "the mirror pins it (expires 2020-01-31)",
            "ignore-check.mllint.io/resources-missing": "a LimitRange (expires 2999-01-31)",
        },
    },
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "llm"}},
        "template": {
            "metadata": {"labels": {"app": "llm"}},
            "spec": {"containers": [{"name": "server", "image": "vllm/vllm-openai:latest"}]},
        },
    },
}
EXPECTED = {"ML003", "ML602"}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("parity") / "mllint.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory, config: Path) -> Iterator[Running]:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_authority(directory / "ca")
    cert, key, _ = ca.issue(directory / "serving", SERVING_NAMES)
    running = start_process(directory, PKI(ca, cert, key, directory), ["--config", str(config)])
    yield running
    running.stop()


def linter_codes(config: Path, tmp_path: Path) -> set[str]:
    manifest = tmp_path / "llm.yaml"
    manifest.write_text(yaml.safe_dump(OBJECT))
    return {
        f["code"]
        for f in json_report("--config", str(config), str(manifest), exits=(1,))["findings"]
    }


def webhook_codes(webhook: Running) -> set[str]:
    response = webhook.validate(review(OBJECT))["response"]
    words = " ".join([*response.get("warnings", []), response.get("status", {}).get("message", "")])
    found = set(re.findall(r"\bML\d{3}\b", words))
    for key in response.get("auditAnnotations", {}):
        rule = REGISTRY.get(key)
        if rule is not None:
            found.add(rule.code)
    return found


def audit_codes(config: Path, tmp_path: Path) -> set[str]:
    with serve(APIServer(default_resources())) as api:
        api.add(json.loads(json.dumps(OBJECT)))
        kube = kubeconfig(tmp_path / "kubeconfig", api.url)
        found = json_report(
            "audit", "--kubeconfig", str(kube), "--config", str(config), exits=(1,)
        )["findings"]
    return {f["code"] for f in found}


def test_the_same_exceptions_give_the_same_answer_everywhere(
    config: Path, webhook: Running, tmp_path: Path
) -> None:
    from_file = linter_codes(config, tmp_path)
    from_admission = webhook_codes(webhook)
    from_cluster = audit_codes(config, tmp_path)
    assert from_file == EXPECTED
    assert from_admission == EXPECTED
    assert from_cluster == EXPECTED


def test_the_lapsed_annotation_is_reported_in_every_front_end(
    config: Path, webhook: Running, tmp_path: Path
) -> None:
    manifest = tmp_path / "llm.yaml"
    manifest.write_text(yaml.safe_dump(OBJECT))
    [note] = [
        f
        for f in json_report("--config", str(config), str(manifest), exits=(1,))["findings"]
        if f["code"] == "ML003"
    ]
    assert "expired on 2020-01-31" in note["message"]
    warnings = webhook.validate(review(OBJECT))["response"]["warnings"]
    assert any("ML003" in w for w in warnings)

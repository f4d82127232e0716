"""The team rules of docs/custom-rules.md, read from the page, run in every front end on the
page's manifests: `mllint` on files (and `--fix`), `/validate` and `/mutate` of `mllint serve`
over TLS, `mllint audit` of a cluster holding the objects, and the exported
ValidatingAdmissionPolicies evaluated as the API server would (`policy_harness`). Each broken
manifest gives its rule's findings everywhere, each good one gives none, the messages are the
same, and the webhook acts by each rule's enforcement."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiserver import APIServer, default_resources, kubeconfig, serve
from installed import MLLINT, json_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webhook"))

import cel_cost
from policy_harness import Policy, Request, as_json
from webhook_helpers import PKI, SERVING_NAMES, Running, make_authority, review, start_process

from mllint.rules import Engine, parse_config
from mllint.rules.workload import group_of
from mllint.webhook.admission import Review
from mllint.webhook.policies import export
from mllint.webhook.review import Admission
from mllint.webhook.settings import WebhookSettings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "custom-rules.md"
_BLOCK = re.compile(r"^```yaml (rule|bad|good)\n(.*?)^```", re.M | re.S)


def examples() -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(rule, bad manifest, good manifest) of each example, in the page's order."""
    blocks = [(m.group(1), yaml.safe_load(m.group(2))) for m in _BLOCK.finditer(DOCS.read_text())]
    assert [b[0] for b in blocks] == ["rule", "bad", "good"] * (len(blocks) // 3)
    return [(blocks[i][1], blocks[i + 1][1], blocks[i + 2][1]) for i in range(0, len(blocks), 3)]


EXAMPLES = examples()
RULES = [rule for rule, _, _ in EXAMPLES]
CODES = {rule["code"] for rule in RULES}
# Only the team rules, so each manifest's answer is its example's rule alone.
CONFIG = {"select": sorted(CODES), "custom-rules": RULES}


def expected() -> dict[str, set[str]]:
    out = {}
    for rule, bad, good in EXAMPLES:
        out[key(bad)] = {rule["code"]}
        out[key(good)] = set()
    return out


def key(obj: dict[str, Any]) -> str:
    which = "bad" if any(obj is bad for _, bad, _ in EXAMPLES) else "good"
    return f"{obj['kind']}/{obj['metadata']['name']}/{which}"


def objects() -> list[dict[str, Any]]:
    return [o for _, bad, good in EXAMPLES for o in (bad, good)]


def test_the_page_has_the_five_examples() -> None:
    assert len(EXAMPLES) >= 5
    assert len(CODES) == len(EXAMPLES)
    engine = Engine(parse_config(CONFIG, "docs/custom-rules.md"))
    assert {r.code for r in engine.registry.rules} >= CODES


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("team") / "mllint.yaml"
    path.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory, config: Path) -> Iterator[Running]:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_authority(directory / "ca")
    cert, key_file, _ = ca.issue(directory / "serving", SERVING_NAMES)
    running = start_process(
        directory, PKI(ca, cert, key_file, directory), ["--config", str(config)]
    )
    yield running
    running.stop()


def by_object(findings: list[dict[str, Any]], names: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in findings:
        out.setdefault(names[f["file"]], []).append(f["code"])
    return out


def test_linter(config: Path, tmp_path: Path) -> None:
    names = {}
    for i, obj in enumerate(objects()):
        path = tmp_path / f"m{i}.yaml"
        path.write_text(yaml.safe_dump(obj))
        names[str(path)] = key(obj)
    found = json_report("--config", str(config), *names)
    files = {f["file"]: f for f in found["findings"]}
    assert all(Path(f).is_absolute() or True for f in files)
    got: dict[str, set[str]] = {}
    for f in found["findings"]:
        path = f["file"] if Path(f["file"]).is_absolute() else str(Path.cwd() / f["file"])
        got.setdefault(names[path], set()).add(f["code"])
        assert f["line"] > 0
    assert {k: v for k, v in expected().items() if v} == got
    # The JSON report carries the team rules with their docs.
    described = {r["code"]: r for r in found["rules"]}
    assert set(described) == CODES
    assert all("## Definition" in r["docs"] for r in described.values())


def webhook_codes(webhook: Running, obj: dict[str, Any]) -> dict[str, str]:
    """Rule code -> what the webhook did with its findings (deny, warn, audit)."""
    response = webhook.validate(review(obj))["response"]
    done = dict.fromkeys(
        re.findall(r"\bX\d{3}\b", response.get("status", {}).get("message", "")), "deny"
    )
    for warning in response.get("warnings", []):
        done.update(dict.fromkeys(re.findall(r"\bX\d{3}\b", warning), "warn"))
    names = {r["name"]: r["code"] for r in RULES}
    for annotation in response.get("auditAnnotations", {}):
        if annotation in names:
            done[names[annotation]] = "audit"
    return done


def test_webhook(webhook: Running) -> None:
    default = {"error": "deny", "warning": "warn", "info": "audit"}
    for rule, bad, good in EXAMPLES:
        action = rule.get("enforcement") or default[rule.get("severity", "warning")]
        assert webhook_codes(webhook, bad) == {rule["code"]: action}, rule["name"]
        assert webhook_codes(webhook, good) == {}, rule["name"]


def test_fixes_are_the_same_offline_and_at_admission(webhook: Running, tmp_path: Path) -> None:
    fixed = 0
    for rule, bad, _ in EXAMPLES:
        if rule.get("fix", {}).get("safety") != "safe":
            continue
        path = tmp_path / f"{rule['code']}.yaml"
        path.write_text(yaml.safe_dump(bad))
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump(CONFIG))
        subprocess.run(
            [MLLINT, "--config", str(config), "--fix", str(path)], check=False, timeout=120
        )
        offline = yaml.safe_load(path.read_text())
        answer = webhook.mutate(review(bad))["response"]
        ops = json.loads(base64.b64decode(answer["patch"]))
        from webhook_helpers import apply_patch

        assert apply_patch(bad, ops) == offline != bad
        assert json_report("--config", str(config), str(path))["findings"] == []
        fixed += 1
    assert fixed >= 1


def test_audit(config: Path, tmp_path: Path) -> None:
    with serve(APIServer(default_resources())) as api:
        for obj in objects():
            api.add(json.loads(json.dumps(obj)))
        kube = kubeconfig(tmp_path / "kubeconfig", api.url)
        found = json_report("audit", "--kubeconfig", str(kube), "--config", str(config))["findings"]
    got: dict[str, set[str]] = {}
    for f in found:
        got.setdefault(f"{f['kind']}/{f['name']}", set()).add(f["code"])
    want: dict[str, set[str]] = {}
    for rule, bad, _ in EXAMPLES:
        want.setdefault(f"{bad['kind']}/{bad['metadata']['name']}", set()).add(rule["code"])
    # Objects sharing kind and name (the bad and good of one example) cannot both be in one
    # cluster; the cluster keeps the last added, the good one, unless kinds differ.
    for _, bad, good in EXAMPLES:
        if (bad["kind"], bad["metadata"]["name"]) == (good["kind"], good["metadata"]["name"]):
            want.pop(f"{bad['kind']}/{bad['metadata']['name']}")
    assert got == want


def test_exported_policies_decide_as_the_webhook() -> None:
    engine = Engine(parse_config(CONFIG, "docs/custom-rules.md"))
    settings = WebhookSettings(exempt_namespaces=("kube-*",), namespace="mllint-system")
    done = export(engine, settings, "vap")
    assert sorted(done.covered) == sorted(CODES), [s.reason for s in done.skipped]
    policies = [Policy(o) for o in done.objects if o["kind"] == "ValidatingAdmissionPolicy"]
    actions = {
        o["spec"]["policyName"]: o["spec"]["validationActions"]
        for o in done.objects
        if o["kind"].endswith("Binding")
    }
    admission = Admission(settings, engine)
    compared = 0
    for obj in map(as_json, objects()):
        api_version = obj["apiVersion"]
        kind = next(
            k for k in engine.kinds if (k.group, k.kind) == (group_of(api_version), obj["kind"])
        )
        request = Request(obj, (kind.group, api_version.rpartition("/")[2], kind.plural))
        outcome = admission.validate(
            Review("admission.k8s.io/v1", "0", request.bindings()["request"])
        )
        for policy in policies:
            code = policy.obj["metadata"]["annotations"]["mllint.io/rule"]
            want = sorted(j.finding.message for j in outcome.judged if j.finding.code == code)
            verdict = policy.validate(request)
            got = sorted(verdict.findings) if verdict else []
            assert got == want, (obj["kind"], code)
            if want:
                [action] = {j.action.value for j in outcome.judged if j.finding.code == code}
                assert actions[policy.name] == [action.capitalize()]
            compared += len(want)
    assert compared >= len(EXAMPLES)


def test_exported_policies_stay_within_the_cost_limits() -> None:
    """By cel-go's runtime cost rules (`cel_cost`), each exported team rule's expressions fit
    the API server's per-call limit and budget on the page's manifests, and the cost model's
    evaluation finds what the CEL library finds."""
    engine = Engine(parse_config(CONFIG, "docs/custom-rules.md"))
    settings = WebhookSettings(exempt_namespaces=("kube-*",), namespace="mllint-system")
    raws = [
        o
        for o in export(engine, settings, "vap").objects
        if o["kind"] == "ValidatingAdmissionPolicy"
    ]
    measured = found = 0
    for obj in map(as_json, objects()):
        api_version = obj["apiVersion"]
        kind = next(
            k for k in engine.kinds if (k.group, k.kind) == (group_of(api_version), obj["kind"])
        )
        request = Request(obj, (kind.group, api_version.rpartition("/")[2], kind.plural))
        for raw in raws:
            policy = Policy(raw)
            if not policy.matches(request):
                continue
            costs = cel_cost.measure(raw, request.bindings())
            assert max(costs.expressions.values()) <= cel_cost.PER_CALL_LIMIT, policy.name
            assert costs.total <= cel_cost.RUNTIME_BUDGET, policy.name
            assert costs.conditions <= cel_cost.MATCH_CONDITIONS_BUDGET, policy.name
            verdict = policy.validate(request)
            assert sorted(filter(None, costs.values.get("findings", "").split("\n"))) == sorted(
                verdict.findings if verdict else []
            ), (obj["kind"], policy.name)
            measured += 1
            found += bool(verdict and verdict.findings)
    assert measured >= 2 * len(EXAMPLES)
    assert found >= len(EXAMPLES)

"""The exported admission policies decide as the engine does, proven by evaluating their CEL
(`policy_harness`) on every covered rule's fixtures and on every object of ../shared/corpus,
and comparing with what the webhook decides for the same request: the same findings (the
engine's messages, so the same containers and resources), the same enforcement action, the same
objects left alone; and the mutations give what `mllint --fix` gives, and nothing more when the
API server runs them again."""

from __future__ import annotations

import base64
import copy
import functools
import json
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from installed import named_pipe
from policy_harness import Evaluation, Policy, Request, as_json
from webhook_helpers import apply_patch

from mllint.linter.discover import EXTENSIONS, SKIPPED_DIRS
from mllint.linter.loader import LoadError, load
from mllint.rules import Engine, cel, parse_config
from mllint.rules.workload import OTHER_KINDS, group_of
from mllint.webhook.admission import Review
from mllint.webhook.policies import (
    ACTIONS,
    NOT_COVERED_ANNOTATION,
    RULE_ANNOTATION,
    UNDECIDED_ANNOTATION,
    export,
)
from mllint.webhook.review import Admission
from mllint.webhook.settings import Action, WebhookSettings

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "rules" / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"
VAP_SCHEMA_VERSION = "1.30.0"
"""ValidatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1) since 1.30."""
MAP_SCHEMA_VERSION = kubernetes_validate.utils.latest_version()
MLLINT = [sys.executable, "-c", "import sys; from mllint.linter.cli import main; sys.exit(main())"]

SETTINGS = WebhookSettings(exempt_namespaces=("kube-*",), namespace="mllint-system")


def policies(engine: Engine, settings: WebhookSettings, which: str) -> list[Policy]:
    objects = export(engine, settings, which).objects  # type: ignore[arg-type]
    return [Policy(o) for o in objects if not o["kind"].endswith("Binding")]


def code_of(policy: Policy) -> str:
    return str(policy.obj["metadata"]["annotations"]["mllint.io/rule"])


def resource_of(engine: Engine, obj: dict[str, Any]) -> tuple[str, str, str] | None:
    """(group, version, plural) the API server would name for the object, from the engine's
    kinds; None for a kind it does not know (no policy can match it)."""
    api_version = str(obj.get("apiVersion", ""))
    group, kind = group_of(api_version), obj.get("kind")
    for k in [*engine.kinds, *OTHER_KINDS]:
        if (k.group, k.kind) == (group, kind):
            return group, api_version.rpartition("/")[2], k.plural
    return None


def left_out(policy: Policy, obj: dict[str, Any]) -> bool:
    """Whether the policy names the object's kind among those it leaves out."""
    group = group_of(str(obj.get("apiVersion", "")))
    key = f"{group}/{obj.get('kind')}" if group else str(obj.get("kind"))
    said = policy.obj["metadata"]["annotations"].get(NOT_COVERED_ANNOTATION, "")
    return any(part.split(":", 1)[0] == key for part in said.split("; "))


def documents(path: Path) -> Iterator[dict[str, Any]]:
    try:
        for doc in load(path.read_bytes()):
            if isinstance(doc.obj, dict) and doc.obj:
                yield as_json(doc.obj)
    except (LoadError, UnicodeDecodeError):
        return


@functools.cache
def corpus_objects() -> list[tuple[str, dict[str, Any]]]:
    if not CORPUS.is_dir():
        return []
    return [
        (str(p.relative_to(CORPUS)), obj)
        for p in sorted(CORPUS.rglob("*"))
        if p.name.endswith(EXTENSIONS) and not SKIPPED_DIRS.intersection(p.parts) and p.is_file()
        for obj in documents(p)
    ]


def fixture_objects(codes: set[str]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{code}/{p.name}", obj)
        for code in sorted(codes)
        for p in sorted((FIXTURES / code).glob("*.yaml"))
        for obj in documents(p)
    ]


def webhook_decision(
    admission: Admission, request: Request
) -> tuple[dict[str, list[str]], dict[str, Action], dict[str, list[str]]]:
    """What the webhook finds for the request, per rule code: messages, action, and the
    pointers of the findings (in the order of the messages)."""
    review = Review("admission.k8s.io/v1", "0", request.bindings()["request"])
    outcome = admission.validate(review)
    messages: dict[str, list[str]] = {}
    actions: dict[str, Action] = {}
    pointers: dict[str, list[str]] = {}
    for judged in outcome.judged:
        messages.setdefault(judged.finding.code, []).append(judged.finding.message)
        pointers.setdefault(judged.finding.code, []).append(judged.finding.pointer)
        actions[judged.finding.code] = judged.action
    return messages, actions, pointers


def in_pods(pointer: str, pods: list[str]) -> bool:
    """Whether a finding's pointer lies in one of the pods (pointers to pod specs)."""
    return any(pointer == p or pointer.startswith(p + "/") for p in pods)


@dataclass
class Tally:
    objects: int = 0
    matched: int = 0
    """(object, rule) pairs the policy matched and evaluated."""
    findings: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    """Findings compared, per rule code."""
    left_out: int = 0
    """(object, rule) pairs of a kind the policy says it does not cover."""
    pods: int = 0
    """Pods whose purpose the policies judge by (objects of a kind a purpose policy matches)."""
    undecided: set[tuple[str, int]] = field(default_factory=set)
    """(object, pod index) the purpose policies left undecided."""
    missed: Counter[str] = field(default_factory=Counter)
    """The engine's findings on undecided pods, per rule: the policies make none of them."""


class Judge:
    """The webhook and the exported validating policies under one configuration, built once."""

    def __init__(self, engine: Engine, settings: WebhookSettings) -> None:
        self.engine = engine
        self.admission = Admission(settings, engine)
        objects = export(engine, settings, "vap").objects
        self.vaps = [Policy(o) for o in objects if o["kind"] == "ValidatingAdmissionPolicy"]
        self.bindings = {
            o["spec"]["policyName"]: o["spec"]["validationActions"]
            for o in objects
            if o["kind"] == "ValidatingAdmissionPolicyBinding"
        }

    def compare(
        self, objects: list[tuple[str, dict[str, Any]]], request: Request | None = None
    ) -> Tally:
        tally = Tally()
        mismatches = []
        for index, (path, obj) in enumerate(objects):
            where = f"{index}:{path}"
            resource = resource_of(self.engine, obj)
            if resource is None:
                continue
            tally.objects += 1
            req = (
                replace(request, obj=obj, resource=resource) if request else Request(obj, resource)
            )
            messages, actions, pointers = webhook_decision(self.admission, req)
            pods = [pod.pointer for pod in self.engine.subject(obj).pods]
            counted = False
            for policy in self.vaps:
                code = code_of(policy)
                want = sorted(messages.get(code, []))
                if not policy.matches(req) and left_out(policy, obj):
                    tally.left_out += 1
                    continue
                verdict = policy.validate(req)
                got = sorted(verdict.findings) if verdict else []
                if verdict is not None:
                    tally.matched += 1
                if verdict is not None and verdict.undecided:
                    # A purpose policy leaves the pods it cannot decide alone: it must find
                    # exactly what the engine finds on the others. (It reads no pods of a
                    # kind its rule does not judge.)
                    assert len(verdict.undecided) == len(pods), where
                    if not counted:
                        tally.pods += len(pods)
                        counted = True
                    left = [p for p, u in zip(pods, verdict.undecided, strict=True) if u]
                    tally.undecided |= {(where, i) for i, u in enumerate(verdict.undecided) if u}
                    found = zip(messages.get(code, []), pointers.get(code, []), strict=True)
                    missed = [m for m, at in found if in_pods(at, left)]
                    tally.missed[code] += len(missed)
                    want = sorted((Counter(want) - Counter(missed)).elements())
                tally.findings += len(want)
                tally.by_rule[code] += len(want)
                if want != got:
                    mismatches.append((where, code, want, got))
                    continue
                if want:
                    assert verdict is not None
                    (message,) = verdict.messages
                    assert "\n" not in message and all(m in message for m in want)
                    assert self.bindings[policy.name] == [ACTIONS[actions[code]]]
        assert mismatches == []
        return tally


COVERED = {code_of(p) for p in policies(Engine(), SETTINGS, "vap")}
MUTATING = {code_of(p) for p in policies(Engine(), SETTINGS, "map")}


def test_policies_cover_the_rules_they_can() -> None:
    covered = {"ML101", "ML102", "ML204", "ML501", "ML703", "ML704", "ML705", "ML706"}
    assert covered <= COVERED
    assert {"ML204", "ML501", "ML706"} <= MUTATING
    done = export(Engine(), SETTINGS, "vap")
    active = {a.rule.code for a in Engine().active}
    skipped = {s.code: s.reason for s in done.skipped}
    assert set(done.covered) | set(skipped) == active
    assert not set(done.covered) & set(skipped)
    for code in ("ML502", "ML802", "ML803", "ML804"):
        assert "other objects" in skipped[code]


def test_validating_policies_decide_as_the_engine_on_the_fixtures() -> None:
    tally = Judge(Engine(), SETTINGS).compare(fixture_objects(COVERED))
    # Every covered rule's bad fixture gives findings: no rule is proven on passes alone.
    assert set(tally.by_rule) == COVERED
    print(f"fixtures: {tally.objects} objects, {len(COVERED)} rules, {dict(tally.by_rule)}")


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is absent ({CORPUS})")
def test_validating_policies_decide_as_the_engine_on_the_corpus() -> None:
    objects = corpus_objects()
    tally = Judge(Engine(), SETTINGS).compare(objects)
    assert tally.objects > 1000
    assert tally.findings > 20
    # The purpose policies decide nearly every pod: what they leave undecided stays an exception.
    assert tally.pods > 1000 and len(tally.undecided) < tally.pods / 20
    print(
        f"corpus: {len(objects)} objects, {tally.objects} of known kinds, {len(COVERED)} rules, "
        f"{tally.matched} policy evaluations, {dict(tally.by_rule)}; purpose policies: "
        f"{tally.pods} pods, {len(tally.undecided)} left undecided, engine findings on them "
        f"(not made by the policies) {dict(tally.missed)}"
    )


def compare_mutating(
    engine: Engine, settings: WebhookSettings, objects: list[tuple[str, dict[str, Any]]]
) -> int:
    """For each MutatingAdmissionPolicy alone: its result equals the webhook's /mutate with
    only that rule (which equals `mllint --fix`, tests/webhook/test_parity.py), and running
    it again on its result changes nothing. Returns the number of objects it changed."""
    changed = 0
    for policy in policies(engine, settings, "map"):
        code = code_of(policy)
        admission = Admission(settings.model_copy(update={"mutate": (code,)}), engine)
        for where, obj in objects:
            resource = resource_of(engine, obj)
            if resource is None:
                continue
            request = Request(obj, resource)
            if not policy.matches(request) and left_out(policy, obj):
                continue
            review = Review("admission.k8s.io/v1", "0", request.bindings()["request"])
            response = admission.mutate(review).response
            ops = []
            if "patch" in response:
                ops = json.loads(base64.b64decode(response["patch"]))
            want = apply_patch(obj, ops)
            got = policy.mutate(copy.deepcopy(obj), request)
            assert got == want, (where, code)
            again = policy.mutate(copy.deepcopy(got), Request(got, resource))
            assert again == got, (where, code, "not idempotent")
            changed += got != obj
    return changed


def test_mutating_policies_give_the_fixed_fixtures() -> None:
    engine = Engine()
    for policy in policies(engine, SETTINGS, "map"):
        code = code_of(policy)
        bad = list(documents(FIXTURES / code / "bad.yaml"))
        fixed = list(documents(FIXTURES / code / "fixed.yaml"))
        assert len(bad) == len(fixed)
        for obj, want in zip(bad, fixed, strict=True):
            resource = resource_of(engine, obj)
            assert resource is not None
            assert policy.mutate(copy.deepcopy(obj), Request(obj, resource)) == want, code
    assert compare_mutating(engine, SETTINGS, fixture_objects(MUTATING)) >= len(MUTATING)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is absent ({CORPUS})")
def test_mutating_policies_fix_as_the_engine_on_the_corpus() -> None:
    changed = compare_mutating(Engine(), SETTINGS, corpus_objects())
    assert changed > 10
    print(f"corpus: {changed} objects changed by {len(MUTATING)} mutating policies")


# What the webhook leaves alone, the policies leave alone.

BAD_GPU: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "llm", "namespace": "ml"},
    "spec": {
        "template": {
            "metadata": {"labels": {"app": "llm"}},
            "spec": {
                "containers": [
                    {
                        "name": "vllm",
                        "image": "vllm/vllm-openai:v0.6.0",
                        "resources": {"requests": {"nvidia.com/gpu": 1}},
                    }
                ]
            },
        }
    },
}


def variant(**changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(BAD_GPU)
    for pointer, value in changes.items():
        *path, last = pointer.split("__")
        node = obj
        for token in path:
            node = node.setdefault(token, {})
        node[last] = value
    return obj


REASON = {"ignore-check.mllint.io/ML101": "the device plugin reads requests here"}
CASES = {
    "plain": (variant(), {}),
    "exempt namespace": (variant(metadata__namespace="kube-system"), {}),
    "annotation by code": (variant(metadata__annotations=REASON), {}),
    "annotation by name": (
        variant(metadata__annotations={"ignore-check.mllint.io/gpu-not-in-limits": "why"}),
        {},
    ),
    "annotation lower-case code": (
        variant(metadata__annotations={"ignore-check.mllint.io/ml101": "why"}),
        {},
    ),
    "annotation without reason": (
        variant(metadata__annotations={"ignore-check.mllint.io/ML101": "  "}),
        {},
    ),
    "ignore-all": (variant(metadata__annotations={"mllint.io/ignore-all": "sandbox"}), {}),
    "template annotation": (variant(spec__template__metadata__annotations=REASON), {}),
    "controlled": (
        variant(
            metadata__ownerReferences=[
                {"apiVersion": "v1", "kind": "X", "name": "x", "uid": "1", "controller": True}
            ]
        ),
        {},
    ),
    "controlled, sent by its controller": (
        variant(
            metadata__ownerReferences=[
                {"apiVersion": "v1", "kind": "X", "name": "x", "uid": "1", "controller": True}
            ]
        ),
        {"username": "system:kube-controller-manager"},
    ),
    "controlled, sent by an operator's group": (
        variant(
            metadata__ownerReferences=[
                {"apiVersion": "v1", "kind": "X", "name": "x", "uid": "1", "controller": True}
            ]
        ),
        {"username": "bot", "groups": ("system:serviceaccounts:operators",)},
    ),
    "being deleted": (variant(metadata__deletionTimestamp="2026-01-01T00:00:00Z"), {}),
    "exempt user": (variant(), {"username": "system:serviceaccount:ci:deployer"}),
    "exempt group": (variant(), {"groups": ("system:authenticated", "platform-admins")}),
}


@pytest.mark.parametrize("allow", [True, False], ids=["suppression", "no-suppression"])
@pytest.mark.parametrize("judge_controlled", [False, True], ids=["owners", "controlled"])
def test_what_the_webhook_leaves_alone_the_policies_leave_alone(
    allow: bool, judge_controlled: bool
) -> None:
    config = parse_config(
        {"allow-suppression": allow, "exclude": {"names": ["skip-*"], "namespaces": ["tmp-?"]}},
        "test",
    )
    engine = Engine(config)
    settings = SETTINGS.model_copy(
        update={
            "exempt_users": ("system:serviceaccount:ci:*",),
            "exempt_groups": ("platform-*",),
            "judge_controlled": judge_controlled,
            "controller_groups": ("system:serviceaccounts:operators",),
        }
    )
    cases = {
        **CASES,
        "excluded name": (variant(metadata__name="skip-me"), {}),
        "excluded namespace": (variant(metadata__namespace="tmp-1"), {}),
        "namespace not excluded": (variant(metadata__namespace="tmp-12"), {}),
    }
    judge = Judge(engine, settings)
    for name, (obj, who) in cases.items():
        request = Request(obj, ("apps", "v1", "deployments"), **who)
        assert judge.compare([(name, as_json(obj))], request).objects == 1


def test_enforcement_actions_are_the_webhooks() -> None:
    settings = SETTINGS.model_copy(update={"enforcement": {"ML101": Action.AUDIT, "ML706": "deny"}})
    objects = export(Engine(), settings, "vap").objects
    actions = {
        o["metadata"]["annotations"]["mllint.io/rule"]: o["spec"]["validationActions"]
        for o in objects
        if o["kind"] == "ValidatingAdmissionPolicyBinding"
    }
    assert actions["ML101"] == ["Audit"]  # error, set to audit
    assert actions["ML706"] == ["Deny"]  # warning, set to deny
    assert actions["ML501"] == ["Warn"]  # warning
    assert actions["ML204"] == ["Audit"]  # info
    audit = export(Engine(), SETTINGS.model_copy(update={"audit_mode": True}), "vap").objects
    assert {tuple(o["spec"].get("validationActions", ["Audit"])) for o in audit} == {("Audit",)}
    assert export(Engine(), SETTINGS.model_copy(update={"audit_mode": True}), "map").objects == []


def test_every_exported_object_is_valid_against_the_openapi_schema() -> None:
    engine = Engine()
    for which, version in (("vap", VAP_SCHEMA_VERSION), ("map", MAP_SCHEMA_VERSION)):
        objects = export(engine, SETTINGS, which).objects  # type: ignore[arg-type]
        assert objects
        names = [(o["kind"], o["metadata"]["name"]) for o in objects]
        assert len(names) == len(set(names))
        for obj in objects:
            kubernetes_validate.validate(obj, version, strict=True)
            spec = obj["spec"]
            # The API server's own limits (admissionregistration validation.go).
            assert len(spec.get("matchConditions", [])) <= 64
            assert len(obj["metadata"]["name"]) <= 253
            if obj["kind"] == "MutatingAdmissionPolicy":
                assert spec["reinvocationPolicy"] == "IfNeeded"
            expressions = [
                *(v["expression"] for v in spec.get("variables", [])),
                *(c["expression"] for c in spec.get("matchConditions", [])),
                *(v["expression"] for v in spec.get("validations", [])),
                *(v["messageExpression"] for v in spec.get("validations", [])),
                *(m["jsonPatch"]["expression"] for m in spec.get("mutations", [])),
            ]
            # cel-go's parser refuses an expression over 100,000 code points; half of it leaves
            # room for the kinds still to come.
            assert max(map(len, expressions), default=0) < 50_000
            variables = [v["name"] for v in spec.get("variables", [])]
            assert len(variables) == len(set(variables))


def test_a_custom_kind_from_the_configuration_reaches_the_policies() -> None:
    config = parse_config(
        {
            "kinds": [
                {
                    "api-version": "ml.example.com/v1",
                    "kind": "Trainer",
                    "role": "batch",
                    "templates": [{"path": "/spec/workers/*/template"}],
                }
            ]
        },
        "test",
    )
    engine = Engine(config)
    trainer = {
        "apiVersion": "ml.example.com/v1",
        "kind": "Trainer",
        "metadata": {"name": "t", "namespace": "ml"},
        "spec": {"workers": {"a": {"template": BAD_GPU["spec"]["template"]}}},
    }
    (gpu,) = [p for p in policies(engine, SETTINGS, "vap") if code_of(p) == "ML101"]
    verdict = gpu.validate(Request(trainer, ("ml.example.com", "v1", "trainers")))
    assert verdict is not None
    assert verdict.findings == [f.message for f in engine.evaluate(trainer) if f.code == "ML101"]
    assert len(verdict.findings) == 1


def test_export_command_writes_the_policies_and_lists_what_it_leaves_out(tmp_path: Path) -> None:
    out = tmp_path / "policies.yaml"
    done = subprocess.run(
        [*MLLINT, "export", "vap", "-o", str(out)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "#   ML804 pdb-missing: whole-set rule" in text
    # The partly exported rules are named in the header with the pods they leave undecided,
    # and each of their policies carries that condition.
    header = " ".join(line.strip("# ") for line in text.splitlines() if line.startswith("#"))
    assert "Partly exported" in header
    assert f"ML302, ML303, ML601, ML602: {' '.join(cel.UNDECIDED.split())}" in header
    objects = [o for o in yaml.safe_load_all(text) if o]
    partly = {
        o["metadata"]["annotations"][RULE_ANNOTATION]
        for o in objects
        if o["metadata"].get("annotations", {}).get(UNDECIDED_ANNOTATION) == cel.UNDECIDED
    }
    assert partly == {"ML302", "ML303", "ML601", "ML602"}
    assert objects == export(Engine(), WebhookSettings(namespace="mllint-system"), "vap").objects
    assert "rule(s) exported" in done.stderr
    with named_pipe(tmp_path) as (pipe, received):
        piped = subprocess.run(
            [*MLLINT, "export", "vap", "-o", str(pipe)], capture_output=True, text=True, check=False
        )
        assert piped.returncode == 0, piped.stderr
        assert received() == text.replace(str(out), str(pipe), 1)
    assert stat.S_ISFIFO(pipe.stat().st_mode)  # written to, never renamed over
    bad = tmp_path / "bad.yaml"
    bad.write_text("select: [NOPE]\n")
    failed = subprocess.run(
        [*MLLINT, "export", "map", "--config", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 2
    assert "NOPE" in failed.stderr and "Traceback" not in failed.stderr


def test_the_policies_page_lists_what_is_exported() -> None:
    page = (ROOT / "docs" / "policies.md").read_text()
    rows = [line.split("|")[1:4] for line in page.splitlines() if line.startswith("| ML")]
    validating = {r[0].split()[0] for r in rows if r[1].strip() in ("yes", "partly (below)")}
    partly = {r[0].split()[0] for r in rows if r[1].strip() == "partly (below)"}
    mutating = {r[0].split()[0] for r in rows if r[2].strip() == "yes"}
    assert validating == COVERED
    assert partly == {s.code for s in export(Engine(), SETTINGS, "vap").undecided}
    assert mutating == MUTATING
    # The condition the page gives is the one the policies carry.
    said = " ".join(page.split())
    assert "ML302, ML303, ML601 and ML602 are exported partly" in said
    assert all(w in said for w in ("quote", "backslash", "`mpirun`", "`torchrun`", "`ssh`"))
    assert "mllint.io/undecided" in said


# The purpose model in CEL (`rules.cel`) against `traits.derive`, on the look-alikes it must
# tell apart.

PURPOSE_CASES: list[tuple[str, dict[str, Any]]] = [
    ("Deployment", {"image": "vllm/vllm-openai:v0.6.0"}),
    ("Deployment", {"image": "rayproject/ray:2.9", "command": ["ray", "start", "--block"]}),
    ("Deployment", {"image": "vllm/vllm-openai", "args": ["ray start --address=x --head"]}),
    ("Deployment", {"image": "vllm/vllm-openai", "args": ["ray start --address=x\n--head"]}),
    ("Deployment", {"image": "x/app", "command": ["sh", "-c", "serve run app:main"]}),
    ("Deployment", {"image": "google/jetstream-http:v1"}),
    ("Deployment", {"image": "google/jetstream:v1"}),
    ("Deployment", {"image": "redis:7", "ports": [{"containerPort": 6379}]}),
    ("Deployment", {"image": "busybox", "command": ["sh", "-c", "python train.py --model x"]}),
    ("Deployment", {"image": "busybox", "command": ["sh", "-c", "sleep 3600; echo done"]}),
    ("Deployment", {"image": "busybox", "command": ["true", "python", "x"]}),
    ("Deployment", {"image": "busybox", "command": ["/bin/true"]}),
    ("Deployment", {"image": "busybox", "command": ["sh", "-c", "'SLEEP' 10 | cat"]}),
    ("Deployment", {"image": "alpine", "env": [{"name": "RESOURCE_MODEL", "value": "x"}]}),
    ("Deployment", {"image": "alpine", "env": [{"name": "resource-model", "value": None}]}),
    ("Deployment", {"image": "alpine", "env": [{"name": "HF_TOKEN", "value": "x"}]}),
    ("Deployment", {"image": "ghcr.io/acme/bert-server:1", "ports": [{"containerPort": 80}]}),
    ("Deployment", {"image": "ghcr.io/acme/pytorch:1", "ports": [{"containerPort": 80}]}),
    ("Deployment", {"image": "jupyter/base-notebook", "name": "nb"}),
    ("Deployment", {"image": "acme/app", "name": "chat-ui", "resources": {"limits": {"gpu": 1}}}),
    ("Deployment", {"image": "acme/app", "resources": {"limits": {"nvidia.com/gpu": "1"}},
                    "readinessProbe": {"httpGet": {"port": 80}}}),
    ("Job", {"image": "locustio/locust", "args": ["-f", "x.py"]}),
    ("Job", {"image": "acme/tool", "command": ["python", "eval.py", 1, 2.0, True]}),
    ("Pod", {"image": "nvidia/cuda:12.0-base", "command": ["nvidia-smi"]}),
    ("DaemonSet", {"image": "acme/agent", "resources": {"limits": {"nvidia.com/gpu": 1}},
                   "ports": [{"containerPort": 1}]}),
]  # fmt: skip


def _workload(kind: str, container: dict[str, Any]) -> dict[str, Any]:
    spec = {"containers": [{"name": "main", **container}, {"name": "proxy", "image": "envoy"}]}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}
    group = "batch/v1" if kind == "Job" else "apps/v1"
    return {
        "apiVersion": group,
        "kind": kind,
        "metadata": {"name": "w", "namespace": "ml"},
        "spec": {"template": {"spec": spec}},
    }


def _mpi_job(launcher: list[str], worker: dict[str, Any] | None = None) -> dict[str, Any]:
    def replica(container: dict[str, Any]) -> dict[str, Any]:
        return {"replicas": 1, "template": {"spec": {"containers": [container]}}}

    workers = {"name": "w", "image": "acme/mpi:1", **(worker or {})}
    return {
        "apiVersion": "kubeflow.org/v2beta1",
        "kind": "MPIJob",
        "metadata": {"name": "m", "namespace": "ml"},
        "spec": {
            "mpiReplicaSpecs": {
                "Launcher": replica({"name": "l", "image": "acme/mpi:1", "command": launcher}),
                "Worker": replica(workers),
            }
        },
    }


# What the policies leave undecided (None) and what they decide, on commands read through
# quotes, launchers and an MPI job's launcher.
READING_CASES: list[tuple[dict[str, Any], bool]] = [
    (_workload("Job", {"image": "acme/x", "command": ["sh", "-c", "FOO=1 sleep 10"]}), False),
    (_workload("Job", {"image": "acme/x", "command": ["sh", "-c", "for i in 1; do ls; done"]}),
     False),
    (_workload("Job", {"image": "acme/x", "command": ["sh", "-c", "echo 'a;b' && sleep 1"]}),
     False),
    (_workload("Job", {"image": "acme/x", "command": ["sh", "-c", "'sleep' 1; python x.py"]}),
     True),
    (_workload("Job", {"image": "acme/x", "command": ["sh", "-c", "echo \"a|'\"; X=1 ls"]}),
     False),
    (_workload("Job", {"image": "acme/x", "command": ["sh", "-c", "python 'train.py'"]}), False),
    (_workload("Job", {"image": "redis", "command": ["sh", "-c", "echo 'a;b'; sleep 1"]}), False),
    (_workload("Deployment", {"image": "acme/x", "command": ["mpirun", "-np", "2", "sleep"]}),
     True),
    (_mpi_job(["sleep", "infinity"]), False),
    (_mpi_job(["mpirun", "-np", "2", "fi_info"]), True),
    (_mpi_job(["mpirun", "-np", "2", "/home/mpiuser/pi"]), True),
    (_mpi_job(["mpirun", "python", "train.py"], {"resources": {"limits": {"nvidia.com/gpu": 1}}}),
     False),
    (_mpi_job(["sh", "-c", "sleep 1; python train.py"]), False),
]  # fmt: skip


def test_the_purpose_model_in_cel_decides_as_the_engines() -> None:

    engine = Engine()
    names = cel.Names()
    variables = cel.pods(engine.kinds, names, suppression=None, purposes=True)
    g, p, e = names("g"), names("p"), names("e")
    serving = f"{p}.containers.filter({e}, !{e}.init).map({e}, {e}.serving ? 's' : '-')"
    said = (
        f"variables.pods.map({g}, {g}.map({p}, {p}.undecided ? '?' : "
        f"{p}.purpose + ':' + {serving}.join('')))"
    )
    policy = Policy(
        {
            "metadata": {"name": "purposes"},
            "spec": {
                "matchConstraints": {"resourceRules": []},
                "matchConditions": [],
                "variables": [{"name": n, "expression": x} for n, x in variables],
                "validations": [{"expression": "false", "messageExpression": said}],
            },
        }
    )
    decided: Counter[str] = Counter()
    cases = [(_workload(kind, c), False) for kind, c in PURPOSE_CASES] + READING_CASES
    for raw, undecided in cases:
        obj = as_json(raw)
        resource = resource_of(engine, obj)
        assert resource is not None
        groups = Evaluation(policy, Request(obj, resource)).run(policy.validations[0][1])
        got = [x for group in groups for x in group]
        want = []
        for pod in engine.subject(obj).pods:
            purpose = pod.traits.purpose.value
            main = [c for c in pod.containers if not c.init]
            marks = "".join("s" if c.pointer in pod.traits.serving else "-" for c in main)
            want.append(f"{purpose}:{marks}")
        # Which containers serve is decided (and read) for model servers only.
        got = [x if x.startswith("model-server") else x.split(":")[0] for x in got]
        want = [x if x.startswith("model-server") else x.split(":")[0] for x in want]
        assert ("?" in got) == undecided, raw
        assert all(x in ("?", y) for x, y in zip(got, want, strict=True)), (raw, got, want)
        decided[want[0].split(":")[0]] += not undecided
    assert set(decided) == {"model-server", "batch", "ml", "not-ml"}

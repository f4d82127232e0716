"""Every operator kind the engine knows, against its folder of examples in tests/rules/kinds/.

A folder is named for the kind (`PyTorchJob`), or for kind and group when two known kinds share
a name (`Job.batch.volcano.sh`). `bad.yaml` marks each finding's line with the codes expected
there (`# expect: ML202, ML203`); findings of the codes marked in a file must fall exactly on
the marked lines, and `good.yaml` gives none of them. The first document of each file is the
structural case: its pods, containers, roles and lifecycle settings are checked against what
the kind's API declares.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from fixture_tools import documents, line_of, marks

from mllint.rules import Config, ConfigError, Engine, Finding, Role, fix_ops, patch
from mllint.rules import pointer as jp
from mllint.rules.config import parse_config
from mllint.rules.operators import OPERATOR_KINDS
from mllint.rules.workload import BUILTIN_KINDS, WorkloadKind

KINDS = Path(__file__).parent / "kinds"
SETTINGS = ("backoff_limit", "active_deadline", "ttl")

_NAMES = Counter(k.kind for k in (*BUILTIN_KINDS, *OPERATOR_KINDS))


def folder(kind: WorkloadKind) -> str:
    return kind.kind if _NAMES[kind.kind] == 1 else f"{kind.kind}.{kind.group}"


B, S = Role.BATCH, Role.SERVING
# The first document of good.yaml: roles of its pods and names of the containers reached.
EXPECTED: dict[str, tuple[set[Role], list[str]]] = {
    "PyTorchJob": ({B}, ["pytorch", "pytorch", "wait-for-master"]),
    "TFJob": ({B}, ["tensorflow"] * 3),
    "MPIJob": ({B}, ["launcher", "worker"]),
    "XGBoostJob": ({B}, ["main"]),
    "PaddleJob": ({B}, ["main"]),
    "JAXJob": ({B}, ["main"]),
    "Experiment": ({B}, ["training"]),
    "TrainJob": ({B}, ["node", "trainer"]),
    "TrainingRuntime": ({B}, ["node"]),
    "ClusterTrainingRuntime": ({B}, ["node"]),
    "InferenceService.serving.kserve.io": ({S}, ["agent", "art", "model", "tokenizer"]),
    "InferenceService.serving.kubeflow.org": ({S}, ["tensorflow"]),
    "ServingRuntime": ({S}, ["kserve-container"]),
    "ClusterServingRuntime": ({S}, ["kserve-container"]),
    "LLMInferenceService": ({S}, ["main"]),
    "SeldonDeployment": ({S}, ["classifier"]),
    "RayJob": ({B}, ["ray-head", "ray-worker", "submitter"]),
    "RayCronJob": ({B}, ["ray-head", "ray-worker", "submitter"]),
    "RayCluster": ({S}, ["ray-head", "ray-worker"]),
    "RayService": ({S}, ["ray-head", "ray-worker"]),
    "Workflow": ({B}, ["container", "eval", "fetch", "metrics", "script"]),
    "CronWorkflow": ({B}, ["container"]),
    "WorkflowTemplate": ({B}, ["container"]),
    "ClusterWorkflowTemplate": ({B}, ["container"]),
    "JobSet": ({B}, ["jax"]),
    "LeaderWorkerSet": ({S}, ["vllm-leader", "vllm-worker"]),
    "Job.batch.volcano.sh": ({B}, ["worker"]),
    "CronJob.batch.volcano.sh": ({B}, ["eval"]),
    "JobTemplate": ({B}, ["preprocess"]),
}


def by_folder(kind: WorkloadKind) -> str:
    return folder(kind)


def findings(engine: Engine, path: Path, codes: set[str]) -> list[tuple[int, str]]:
    out = []
    for obj, node in documents(path):
        for f in engine.evaluate(obj):
            if f.code in codes:
                out.append((line_of(node, f.pointer), f.code))
    return sorted(out)


ENGINE = Engine(Config(extend_select=("ALL",)))


def test_every_kind_has_a_folder_and_no_folder_is_stray() -> None:
    assert {p.name for p in KINDS.iterdir() if p.is_dir()} == {folder(k) for k in OPERATOR_KINDS}
    assert set(EXPECTED) == {folder(k) for k in OPERATOR_KINDS}


@pytest.mark.parametrize("kind", OPERATOR_KINDS, ids=by_folder)
def test_pods_containers_and_roles_are_reached(kind: WorkloadKind) -> None:
    roles, names = EXPECTED[folder(kind)]
    for file in ("good.yaml", "bad.yaml"):
        obj, _ = documents(KINDS / folder(kind) / file)[0]
        subject = ENGINE.subject(obj)
        assert subject.workload is kind, file
    obj, _ = documents(KINDS / folder(kind) / "good.yaml")[0]
    subject = ENGINE.subject(obj)
    assert {p.role for p in subject.pods} == roles
    assert sorted(c.name for c in subject.containers) == names
    for c in subject.containers:
        assert jp.resolve(obj, c.pointer) is c.spec, "a container's pointer names its spec"
    for pod in subject.pods:
        assert jp.exists(obj, pod.pointer)


@pytest.mark.parametrize("kind", OPERATOR_KINDS, ids=by_folder)
def test_lifecycle_settings_are_found(kind: WorkloadKind) -> None:
    good, _ = documents(KINDS / folder(kind) / "good.yaml")[0]
    bad, _ = documents(KINDS / folder(kind) / "bad.yaml")[0]
    for setting in SETTINGS:
        if getattr(kind.lifecycle, setting) is None:
            continue
        assert list(kind.lifecycle.unmet(good, setting, 1)) == [], setting
        unmet = list(kind.lifecycle.unmet(bad, setting, 1))
        assert unmet, setting
        assert all(jp.exists(bad, u.owner) for u in unmet)
        fixed = patch.apply(bad, patch.plan(bad, [u.ops for u in unmet]))
        assert list(kind.lifecycle.unmet(fixed, setting, 1)) == []


@pytest.mark.parametrize("kind", OPERATOR_KINDS, ids=by_folder)
def test_rules_fire_on_bad_where_marked_and_not_on_good(kind: WorkloadKind) -> None:
    bad = KINDS / folder(kind) / "bad.yaml"
    expected = marks(bad)
    codes = {code for _, code in expected}
    assert codes, "bad.yaml must mark the findings it shows"
    assert findings(ENGINE, bad, codes) == expected
    assert findings(ENGINE, KINDS / folder(kind) / "good.yaml", codes) == []


@pytest.mark.parametrize("kind", OPERATOR_KINDS, ids=by_folder)
def test_fixes_apply_to_the_kind_and_are_idempotent(kind: WorkloadKind) -> None:
    codes = {code for _, code in marks(KINDS / folder(kind) / "bad.yaml")}
    for obj, _ in documents(KINDS / folder(kind) / "bad.yaml"):
        found = [f for f in ENGINE.evaluate(obj) if f.code in codes]
        fixed = patch.apply(obj, fix_ops(obj, found, unsafe=True))
        left: list[Finding] = [f for f in ENGINE.evaluate(fixed) if f.code in codes]
        assert all(f.fix is None for f in left), [f.code for f in left if f.fix]
        assert fix_ops(fixed, left, unsafe=True) == []


def test_operator_probes_count_as_probes() -> None:
    """KubeRay and the Seldon operator add probes; the probe rules know it."""
    for name in ("RayCluster", "RayService", "SeldonDeployment"):
        obj, _ = documents(KINDS / name / "good.yaml")[0]
        codes = {f.code for f in ENGINE.evaluate(obj)}
        assert not codes & {"ML302", "ML303"}, name


def test_a_trainjobs_pod_template_overrides_are_partial_pods() -> None:
    """Kubeflow Trainer 2.1's `podTemplateOverrides`: each entry is a pod template over the
    runtime's, read as `runtimePatches` are: its pods are reached, judged on the values they
    write (bad.yaml's emptyDir), never on the fields they leave to the runtime."""
    obj, _ = documents(KINDS / "TrainJob" / "good.yaml")[1]
    subject = ENGINE.subject(obj)
    overrides = [p for p in subject.pods if p.pointer.startswith("/spec/podTemplateOverrides/")]
    assert [p.pointer for p in overrides] == [
        "/spec/podTemplateOverrides/0/spec",
        "/spec/podTemplateOverrides/1/spec",
    ]
    assert all(p.template.partial and p.role is Role.BATCH for p in overrides)
    assert [(c.name, c.init) for p in overrides for c in p.containers] == [
        ("fetch-credentials", True),
        ("dataset-initializer", False),
        ("node", False),
    ]
    assert [v["name"] for p in overrides for _, v in p.volumes] == ["dataset", "dataset", "shm"]
    judged = [f.code for f in ENGINE.evaluate(obj) if "/podTemplateOverrides/" in f.pointer]
    assert judged == [], "no rule about missing fields judges an override"


def test_webhook_configuration_covers_every_kind() -> None:
    served = {
        (g, kind): (versions, plural) for g, versions, plural, kind in ENGINE.admission_kinds()
    }
    for kind in OPERATOR_KINDS:
        versions, plural = served[(kind.group, kind.kind)]
        assert versions == kind.versions and plural == kind.plural
        assert plural == plural.lower() and plural.endswith("s")


def test_a_users_own_crd_declared_in_config_is_reached() -> None:
    config = parse_config(
        {
            "kinds": [
                {
                    "api-version": "ml.example.com/v1",
                    "kind": "FineTune",
                    "role": "batch",
                    "templates": [
                        {"path": "/spec/stages/*/template", "restart-policy": "Never"},
                        {"path": "/spec/evaluator", "inline": True, "containers": ["/runner"]},
                    ],
                    "lifecycle": {
                        "backoff-limit": "/spec/retries",
                        "ttl": "/spec/cleanup/ttlSeconds",
                    },
                }
            ]
        },
        ".mllint.yaml",
    )
    engine = Engine(config)
    obj = {
        "apiVersion": "ml.example.com/v1",
        "kind": "FineTune",
        "metadata": {"name": "lora"},
        "spec": {
            "stages": [{"template": {"spec": {"containers": [{"name": "train", "image": "t:1"}]}}}],
            "evaluator": {
                "runner": {"image": "e:1", "resources": {"requests": {"nvidia.com/gpu": 1}}}
            },
        },
    }
    subject = engine.subject(obj)
    assert [c.pointer for c in subject.containers] == [
        "/spec/stages/0/template/spec/containers/0",
        "/spec/evaluator/runner",
    ]
    found = {(f.code, f.pointer) for f in engine.evaluate(obj)}
    assert {
        ("ML101", "/spec/evaluator/runner/resources/requests/nvidia.com~1gpu"),
        ("ML201", "/spec/stages/0/template/spec"),
        ("ML202", "/spec"),
        ("ML204", "/spec"),
    } <= found
    assert ("ML203", "/spec") not in found, "no deadline was declared for the kind"
    assert ("ml.example.com", ("v1",), "finetunes", "FineTune") in engine.admission_kinds()


def test_a_custom_kind_with_a_relative_path_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"kinds\.0\.templates\.0: containers must be a JSON Pointer"
    ):
        parse_config(
            {
                "kinds": [
                    {
                        "api-version": "ml.example.com/v1",
                        "kind": "FineTune",
                        "role": "batch",
                        "templates": [{"path": "/spec/template", "containers": ["runner"]}],
                    }
                ]
            },
            ".mllint.yaml",
        )

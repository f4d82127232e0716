"""Every rule of the catalog against its fixture folder, plus the rules' trickier logic.

A fixture folder holds `bad.yaml` (each finding's line marked `# expect: <CODE>`), `good.yaml`
(no finding) and, exactly when the rule has a fix, `fixed.yaml`: what the fixes make of
`bad.yaml`, comments kept.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fixture_tools import (
    FIXTURES,
    by_code,
    comments,
    documents,
    line_of,
    marked_lines,
)

from mllint.rules import REGISTRY, Config, ConfigError, Engine, Finding, Role, Rule, fix_ops, patch
from mllint.rules.catalog import hpa_metrics_missing
from mllint.rules.config import validate
from mllint.rules.model import dataclass_fields, kebab
from mllint.rules.resources import Field, fields, parse_image
from mllint.rules.traits import gpu_name_for, is_accelerator, means_gpu
from mllint.rules.workload import BUILTIN_KINDS, Lifecycle, PodTemplate, WorkloadKind

CHECKED = [r for r in REGISTRY.rules if not r.meta and not r.whole_set]
"""Rules `Engine.evaluate` runs on one object; whole-set rules are tested through the CLI."""
WITH_FIXTURES = [r for r in CHECKED if (FIXTURES / r.code).is_dir()]
HEADINGS = (
    "## What it does",
    "## Why is this bad?",
    "## Example",
    "## Fix safety",
    "## References",
)


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    rest = iter(haystack)
    return all(any(n == h for h in rest) for n in needles)


def evaluate(rule: Rule, obj: Any, **config: Any) -> list[Finding]:
    engine = Engine(Config(select=(rule.code,), **config))
    return [f for f in engine.evaluate(obj) if f.code == rule.code]


def test_every_rule_has_a_fixture_folder() -> None:
    missing = [r.code for r in CHECKED if r not in WITH_FIXTURES]
    assert not missing, f"rules without tests/rules/fixtures/<CODE>/: {', '.join(missing)}"


@pytest.mark.parametrize("rule", WITH_FIXTURES, ids=by_code)
def test_bad_yields_a_finding_on_each_marked_line(rule: Rule) -> None:
    path = FIXTURES / rule.code / "bad.yaml"
    found = []
    for obj, node in documents(path):
        for finding in evaluate(rule, obj):
            assert finding.message, finding
            found.append(line_of(node, finding.pointer))
    assert sorted(found) == marked_lines(path, rule.code)
    assert found, "bad.yaml must show the rule firing"


@pytest.mark.parametrize("rule", WITH_FIXTURES, ids=by_code)
def test_good_yields_nothing(rule: Rule) -> None:
    path = FIXTURES / rule.code / "good.yaml"
    assert not marked_lines(path, rule.code)
    for obj, _ in documents(path):
        assert evaluate(rule, obj) == []


@pytest.mark.parametrize("rule", WITH_FIXTURES, ids=by_code)
def test_fixed_is_what_the_fixes_make_of_bad(rule: Rule) -> None:
    fixed_path = FIXTURES / rule.code / "fixed.yaml"
    assert fixed_path.exists() == rule.fixable
    if not rule.fixable:
        return
    bad = [obj for obj, _ in documents(FIXTURES / rule.code / "bad.yaml")]
    fixed = [obj for obj, _ in documents(fixed_path)]
    assert len(bad) == len(fixed)
    for before, after in zip(bad, fixed, strict=True):
        findings = evaluate(rule, before)
        assert all(f.fix is None or f.fix.safety is rule.fix_safety for f in findings)
        assert patch.apply(before, fix_ops(before, findings, unsafe=True)) == after
        left = evaluate(rule, after)
        assert fix_ops(after, left, unsafe=True) == []
        assert all(f.fix is None for f in left), "a fixed object is flagged again"
    assert is_subsequence(comments(FIXTURES / rule.code / "bad.yaml"), comments(fixed_path))


@pytest.mark.parametrize("rule", CHECKED, ids=by_code)
def test_docs_have_the_headings_and_references(rule: Rule) -> None:
    positions = [rule.docs.find(h) for h in HEADINGS]
    assert -1 not in positions, rule.docs
    assert positions == sorted(positions)
    references = rule.docs[positions[-1] :]
    assert re.search(r"\]\(https?://", references)


@pytest.mark.parametrize("rule", CHECKED, ids=by_code)
def test_option_defaults_validate_and_unknown_options_are_refused(rule: Rule) -> None:
    defaults = rule.options()
    written = {kebab(f.name): getattr(defaults, f.name) for f in dataclass_fields(defaults)}
    assert validate(rule.options, written, "test") == defaults
    with pytest.raises(ConfigError, match="unknown key 'no-such-option'"):
        validate(rule.options, {"no-such-option": 1}, "test")


# Image references


@pytest.mark.parametrize(
    ("reference", "name", "tag", "digest", "floating"),
    [
        ("busybox", "busybox", None, None, True),
        ("pytorch/pytorch:latest", "pytorch/pytorch", "latest", None, True),
        ("pytorch/pytorch:2.4.1-cuda12.4", "pytorch/pytorch", "2.4.1-cuda12.4", None, False),
        ("localhost:5000/ml/triton", "localhost:5000/ml/triton", None, None, True),
        ("localhost:5000/ml/triton:24.08", "localhost:5000/ml/triton", "24.08", None, False),
        ("registry:5000/x:latest", "registry:5000/x", "latest", None, True),
        (
            "nvcr.io/nvidia/pytorch@sha256:ab12",
            "nvcr.io/nvidia/pytorch",
            None,
            "sha256:ab12",
            False,
        ),
        ("img:latest@sha256:ab12", "img", "latest", "sha256:ab12", False),
    ],
)
def test_parse_image(
    reference: str, name: str, tag: str | None, digest: str | None, floating: bool
) -> None:
    ref = parse_image(reference)
    assert (ref.name, ref.tag, ref.digest, ref.floating) == (name, tag, digest, floating)


# GPU resource names


@pytest.mark.parametrize(
    "name",
    [
        "nvidia.com/gpu",
        "nvidia.com/gpu.shared",
        "nvidia.com/mig-1g.5gb",
        "nvidia.com/mig-3g.20gb.shared",
        "amd.com/gpu",
        "gpu.intel.com/i915",
        "gpu.intel.com/xe",
    ],
)
def test_device_plugin_gpu_names_are_valid(name: str) -> None:
    assert is_accelerator(name)
    assert means_gpu(name)


@pytest.mark.parametrize(
    "name",
    [
        "habana.ai/gaudi",
        "aws.amazon.com/neuron",
        "aws.amazon.com/neuroncore",
        "aws.amazon.com/neurondevice",
        "google.com/tpu",
    ],
)
def test_other_accelerators_are_accelerators_but_not_gpus(name: str) -> None:
    assert is_accelerator(name)
    assert not means_gpu(name)


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("gpu", "nvidia.com/gpu"),
        ("GPU", "nvidia.com/gpu"),
        ("gpus", "nvidia.com/gpu"),
        ("nvidia/gpu", "nvidia.com/gpu"),
        ("nvidia.com/gpus", "nvidia.com/gpu"),
        ("nvidia.com/GPU", "nvidia.com/gpu"),
        ("nvidia.com/nvidia-gpu", "nvidia.com/gpu"),
        ("alpha.kubernetes.io/nvidia-gpu", "nvidia.com/gpu"),
        ("nvidia.com/MIG-1g.5gb", "nvidia.com/mig-1g.5gb"),
        ("amd/gpu", "amd.com/gpu"),
        ("AMD.com/GPU", "amd.com/gpu"),
        ("intel/gpu", None),
        ("gpu.intel.com/I915", "gpu.intel.com/i915"),
    ],
)
def test_misspelt_gpu_names_and_what_they_meant(key: str, meant: str | None) -> None:
    assert means_gpu(key)
    assert not is_accelerator(key)
    assert gpu_name_for(key) == meant


@pytest.mark.parametrize(
    "key",
    [
        "cpu",
        "memory",
        "nvidia.com/gpumem",
        "nvidia.com/gpucores",
        "volcano.sh/vgpu-number",
        "aliyun.com/gpu-mem",
        "k8s.amazonaws.com/vgpu",
        "habana.ai/gaudi",
        "hugepages-2Mi",
    ],
)
def test_resources_that_are_not_gpu_counts(key: str) -> None:
    assert not means_gpu(key)


def test_renaming_a_gpu_key_never_overwrites_a_different_amount() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "resources": {
                        "limits": {"gpu": 2, "nvidia.com/gpu": 1},
                        "requests": {"gpu": 1, "nvidia.com/gpu": 1},
                    },
                }
            ]
        },
    }
    findings = evaluate(REGISTRY.lookup("ML102", "test"), pod)
    fixes = {f.pointer.rpartition("/")[0].rpartition("/")[2]: f.fix for f in findings}
    assert fixes["limits"] is None
    assert fixes["requests"] is not None
    fixed = patch.apply(pod, fix_ops(pod, findings, unsafe=True))
    assert fixed["spec"]["containers"][0]["resources"]["requests"] == {"nvidia.com/gpu": 1}


# Autoscaler API versions


@pytest.mark.parametrize(
    ("version", "field", "metric"),
    [
        ("v1", "targetCPUUtilizationPercentage", None),
        (
            "v2",
            "metrics",
            {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 55}},
        ),
        (
            "v2beta2",
            "metrics",
            {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 55}},
        ),
        ("v2beta1", "metrics", {"name": "cpu", "targetAverageUtilization": 55}),
    ],
)
def test_hpa_cpu_target_has_the_shape_of_its_api_version(
    version: str, field: str, metric: dict[str, Any] | None
) -> None:
    hpa = {
        "apiVersion": f"autoscaling/{version}",
        "kind": "HorizontalPodAutoscaler",
        "spec": {"minReplicas": 2, "maxReplicas": 4},
    }
    rule = hpa_metrics_missing.RULE
    findings = evaluate(rule, hpa, rules={rule.name: {"cpu-utilization": 55}})
    fixed = patch.apply(hpa, fix_ops(hpa, findings))
    expected = 55 if metric is None else [{"type": "Resource", "resource": metric}]
    assert fixed["spec"][field] == expected
    assert evaluate(rule, fixed) == []


def test_hpa_of_an_unknown_version_or_group_is_left_alone() -> None:
    rule = hpa_metrics_missing.RULE
    for api_version in ("autoscaling/v3", "example.com/v2"):
        hpa = {"apiVersion": api_version, "kind": "HorizontalPodAutoscaler", "spec": {}}
        assert evaluate(rule, hpa) == []


# Options


def test_startup_probe_covers_the_configured_load_time_with_the_readiness_handler() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": "vllm/vllm-openai:v0.6.3",
                            "livenessProbe": {"periodSeconds": 30},
                            "readinessProbe": {"tcpSocket": {"port": 9000}, "periodSeconds": 5},
                        }
                    ]
                }
            }
        },
    }
    rule = REGISTRY.lookup("startup-probe-missing", "test")
    findings = evaluate(rule, deployment, rules={rule.name: {"model-load-seconds": 95}})
    fixed = patch.apply(deployment, fix_ops(deployment, findings, unsafe=True))
    probe = fixed["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert probe == {"tcpSocket": {"port": 9000}, "periodSeconds": 10, "failureThreshold": 10}


def test_data_paths_are_configurable() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "pytorch/pytorch:2.4.1-cuda12.4-cudnn9-runtime",
                    "volumeMounts": [
                        {"name": "s", "mountPath": "/scratch/run-1"},
                        {"name": "s", "mountPath": "/data"},
                    ],
                }
            ],
            "restartPolicy": "Never",
            "volumes": [{"name": "s", "emptyDir": {}}],
        },
    }
    rule = REGISTRY.lookup("ML401", "test")
    findings = evaluate(rule, pod, rules={"ML401": {"data-paths": ["/scratch/*"]}})
    assert [f.pointer for f in findings] == ["/spec/containers/0/volumeMounts/0"]


def test_unknown_rule_option_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"'rules\.job-ttl-missing\.defualt'; did you mean 'default'"
    ):
        Engine(Config(rules={"job-ttl-missing": {"defualt": 60}}))


# Rules reach kinds declared in the workload model, with no change to the rules


TRAINING_JOB = WorkloadKind(
    "training.example.com",
    "TrainingJob",
    ("v1",),
    "trainingjobs",
    Role.BATCH,
    (PodTemplate("/spec/replicaSpecs/*/template", restart_policy="Never"),),
    Lifecycle(backoff_limit="/spec/runPolicy/backoffLimit", ttl="/spec/runPolicy/ttl"),
)


def replica() -> dict[str, Any]:
    return {
        "template": {
            "spec": {
                "restartPolicy": "OnFailure",
                "containers": [{"name": "pytorch", "image": "ghcr.io/example/train"}],
            }
        }
    }


def training_job() -> dict[str, Any]:
    return {
        "apiVersion": "training.example.com/v1",
        "kind": "TrainingJob",
        "spec": {"replicaSpecs": {"Master": replica(), "Worker": replica()}},
    }


def test_rules_work_on_a_declared_kind() -> None:
    engine = Engine(
        Config(select=("ML201", "ML202", "ML204", "ML602")), kinds=(*BUILTIN_KINDS, TRAINING_JOB)
    )
    obj = training_job()
    findings = engine.evaluate(obj)
    assert sorted((f.code, f.pointer) for f in findings) == [
        ("ML201", "/spec/replicaSpecs/Master/template/spec/restartPolicy"),
        ("ML201", "/spec/replicaSpecs/Worker/template/spec/restartPolicy"),
        ("ML202", "/spec"),
        ("ML204", "/spec"),
        ("ML602", "/spec/replicaSpecs/Master/template/spec/containers/0/image"),
        ("ML602", "/spec/replicaSpecs/Worker/template/spec/containers/0/image"),
    ]
    fixed = patch.apply(obj, fix_ops(obj, findings))
    assert fixed["spec"]["runPolicy"] == {"backoffLimit": 3, "ttl": 86400}
    assert [f.code for f in engine.evaluate(fixed)] == ["ML602", "ML602"]


def test_cronjob_without_job_spec_is_flagged_at_its_nearest_object() -> None:
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "spec": {"schedule": "@daily", "concurrencyPolicy": "Forbid", "jobTemplate": {}},
    }
    workload = Engine().subject(cron).workload
    assert workload is not None
    lifecycle = workload.lifecycle
    unmet = [
        *lifecycle.unmet(cron, "backoff_limit", 3),
        *lifecycle.unmet(cron, "active_deadline", 86400),
    ]
    assert [u.owner for u in unmet] == ["/spec/jobTemplate", "/spec/jobTemplate"]
    fixed = patch.apply(cron, patch.plan(cron, [u.ops for u in unmet]))
    assert fixed["spec"]["jobTemplate"]["spec"] == {
        "backoffLimit": 3,
        "activeDeadlineSeconds": 86400,
    }


def test_concurrency_is_left_alone_for_a_kind_that_cannot_forbid() -> None:
    scheduled = WorkloadKind(
        "example.com",
        "Scheduled",
        ("v1",),
        "scheduleds",
        Role.BATCH,
        (PodTemplate("/spec/template"),),
        Lifecycle(concurrency="/spec/overlap", concurrency_values=("Allow", "Queue")),
    )
    engine = Engine(Config(select=("ML205",)), kinds=(scheduled,))
    obj = {"apiVersion": "example.com/v1", "kind": "Scheduled", "spec": {"overlap": "Allow"}}
    assert engine.evaluate(obj) == []


# Fields that may be absent


def test_fields_through_wildcards_missing_parents_and_malformed_values() -> None:
    obj = {"spec": {"a": {"x": 1}, "b": {}, "c": 5}, "list": [None]}
    assert [(f.at, f.owner, f.present) for f in fields(obj, "/spec/*/x")] == [
        ("/spec/a/x", "/spec/a", True),
        ("/spec/b/x", "/spec/b", False),
    ]
    assert list(fields(obj, "/spec/b/deep/x")) == [Field("/spec/b/deep/x", "/spec/b", False)]
    assert list(fields(obj, "/spec/c/x")) == []
    assert list(fields(obj, "/list/0/x")) == []
    assert list(fields(obj, "/list/3/x")) == []


# Malformed objects: the API server rejects them; rules must report what they can, not crash


MALFORMED = [None, 1, "x", [], {}, [None], {"name": None}]
POD_SPEC_AT = {
    "Job": ("batch/v1", ["spec", "template", "spec"]),
    "CronJob": ("batch/v1", ["spec", "jobTemplate", "spec", "template", "spec"]),
    "Deployment": ("apps/v1", ["spec", "template", "spec"]),
    "Pod": ("v1", ["spec"]),
}


def shapes(bad: Any) -> list[Any]:
    """Pod specs with `bad` in each place a rule reads."""
    container = {"name": "c", "resources": bad, "image": bad, "volumeMounts": bad}
    return [
        bad,
        {"containers": bad},
        {"containers": [{**container, "livenessProbe": bad}]},
        {"containers": [{"name": "c", "resources": {"requests": bad, "limits": bad}}]},
        {
            "containers": [{"name": "c", "volumeMounts": [bad, {"name": "v", "mountPath": bad}]}],
            "volumes": [{"name": "v", "emptyDir": bad}, bad],
        },
    ]


def nest(tokens: list[str], leaf: Any) -> Any:
    return leaf if not tokens else {tokens[0]: nest(tokens[1:], leaf)}


@pytest.mark.parametrize("bad", MALFORMED, ids=repr)
def test_malformed_objects_do_not_crash_any_rule(bad: Any) -> None:
    engine = Engine(Config(select=("ALL",)))
    objects = [
        {"apiVersion": api_version, "kind": kind, **nest(path, shape)}
        for kind, (api_version, path) in POD_SPEC_AT.items()
        for shape in shapes(bad)
    ]
    objects += [
        {"apiVersion": f"autoscaling/{v}", "kind": "HorizontalPodAutoscaler", "spec": spec}
        for v in ("v1", "v2", "v2beta1")
        for spec in (bad, {"metrics": bad, "minReplicas": bad, "maxReplicas": bad})
    ]
    for obj in objects:
        fix_ops(obj, engine.evaluate(obj), unsafe=True)

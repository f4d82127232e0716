"""The whole-set rules (ML8xx) against their fixture folders, and the collector's contract.

A set rule's fixture is one run: every document of `bad.yaml` is added to one collector, and
the findings must fall on the lines marked `# expect: <CODE>`; `good.yaml` gives none;
`fixed.yaml` (exactly when the rule has a fix) is what the fixes make of `bad.yaml`.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fixture_tools import FIXTURES, by_code, comments, documents, line_of, marked_lines

from mllint.rules import REGISTRY, Config, Engine, Finding, Rule, fix_ops, parse_config, patch
from mllint.rules.setrules import Collector, Selector

SET_RULES = [r for r in REGISTRY.rules if r.whole_set]


def run(objects: list[Any], **config: Any) -> list[tuple[int, Finding]]:
    """The findings of one run over `objects`, each with its document's index."""
    collector: Collector[int] = Engine(parse_config(config, "test")).collector()
    for index, obj in enumerate(objects):
        collector.add(obj, index)
    return list(collector.findings())


def test_the_set_rules_are_registered() -> None:
    assert [r.code for r in SET_RULES] == ["ML502", "ML801", "ML802", "ML803", "ML804", "ML805"]
    assert all(not r.meta and (FIXTURES / r.code).is_dir() for r in SET_RULES)


@pytest.mark.parametrize("rule", SET_RULES, ids=by_code)
def test_bad_yields_a_finding_on_each_marked_line(rule: Rule) -> None:
    path = FIXTURES / rule.code / "bad.yaml"
    docs = documents(path)
    found = []
    for index, finding in run([obj for obj, _ in docs], select=(rule.code,)):
        assert finding.code == rule.code and finding.message
        found.append(line_of(docs[index][1], finding.pointer))
    assert sorted(found) == marked_lines(path, rule.code)
    assert found


@pytest.mark.parametrize("rule", SET_RULES, ids=by_code)
def test_good_yields_nothing(rule: Rule) -> None:
    path = FIXTURES / rule.code / "good.yaml"
    assert not marked_lines(path, rule.code)
    assert run([obj for obj, _ in documents(path)], select=(rule.code,)) == []


@pytest.mark.parametrize("rule", SET_RULES, ids=by_code)
def test_fixed_is_what_the_fixes_make_of_bad(rule: Rule) -> None:
    fixed_path = FIXTURES / rule.code / "fixed.yaml"
    assert fixed_path.exists() == rule.fixable
    if not rule.fixable:
        return
    bad = [obj for obj, _ in documents(FIXTURES / rule.code / "bad.yaml")]
    fixed = [obj for obj, _ in documents(fixed_path)]
    findings = run(bad, select=(rule.code,))
    # A finding may come without a fix (ML502 where maxReplicas leaves no room); a fix has the
    # rule's safety.
    assert all(f.fix is None or f.fix.safety is rule.fix_safety for _, f in findings)
    assert any(f.fix is not None for _, f in findings)
    patched = [
        patch.apply(obj, fix_ops(obj, [f for i, f in findings if i == index]))
        for index, obj in enumerate(bad)
    ]
    assert patched == fixed
    left = run(fixed, select=(rule.code,))
    assert all(f.fix is None for _, f in left), "a fixed object is flagged again"
    # A fix that removes a flagged line removes its marker with it; other comments stay.
    kept = [c for c in comments(FIXTURES / rule.code / "bad.yaml") if not c.startswith("# expect")]
    assert [c for c in comments(fixed_path) if not c.startswith("# expect")] == kept


@pytest.mark.parametrize("rule", SET_RULES, ids=by_code)
def test_evaluate_and_so_the_webhook_skip_set_rules(rule: Rule) -> None:
    engine = Engine(Config(select=(rule.code,)))
    for obj, _ in documents(FIXTURES / rule.code / "bad.yaml"):
        assert engine.evaluate(obj) == []
    kinds = {kind for _, _, _, kind in engine.admission_kinds()}
    assert not kinds & {"PodDisruptionBudget", "PersistentVolumeClaim"}


def bad(code: str) -> list[Any]:
    return [obj for obj, _ in documents(FIXTURES / code / "bad.yaml")]


def test_a_suppression_annotation_with_a_reason_silences_a_set_rule() -> None:
    objects = bad("ML802")
    objects[0]["metadata"]["annotations"] = {
        "ignore-check.mllint.io/replicas-with-hpa": "the HPA is dry-run only"
    }
    found = run(objects, select=("ML802",))
    assert [f.name for _, f in found] == ["reranker-gpu"]


def test_an_excluded_object_is_not_reported_but_still_exists() -> None:
    objects = bad("ML802")
    found = run(objects, select=("ML801", "ML802"), exclude={"names": ["embedder"]})
    # The excluded Deployment is not reported on, and its HPA still finds it.
    assert [(f.code, f.name) for _, f in found] == [("ML802", "reranker-gpu")]


def test_disallowed_suppressions_do_not_silence_set_rules() -> None:
    objects = bad("ML802")
    objects[0]["metadata"]["annotations"] = {"mllint.io/ignore-all": "legacy"}
    found = run(objects, select=("ML802",), allow_suppression=False)
    assert len(found) == 2


def test_the_collector_keeps_summaries_not_objects() -> None:
    objects = bad("ML804")
    collector: Collector[int] = Engine(Config(select=("ML804",))).collector()
    for index, obj in enumerate(objects):
        collector.add(obj, index)
    before = [(i, f.pointer) for i, f in collector.findings()]
    pristine = copy.deepcopy(objects)
    for obj in objects:  # what the linter may do with its copy after adding it
        obj.clear()
    assert [(i, f.pointer) for i, f in collector.findings()] == before
    assert objects != pristine


def test_a_set_left_is_judged_then_forgotten_unless_a_set_above_holds_objects() -> None:
    """`left` gives the findings `findings` gives, set by set, once nothing more can be added
    to a set or to the sets related to it, and forgets the summaries it judged."""
    deployment, hpa = bad("ML802")[:2]
    lost = copy.deepcopy(hpa)
    lost["spec"]["scaleTargetRef"]["name"] = "nowhere"
    objects = [
        ("/r/a", hpa),
        ("/r/a", lost),
        ("/r/a/b", deployment),
        ("/r/c/d", deployment),
        ("/r/e", lost),
    ]
    engine = Engine(Config(select=("ML801", "ML802")))
    whole: Collector[int] = engine.collector()
    for index, (folder, obj) in enumerate(objects):
        whole.add(obj, index, folder)
    expected = [(i, f.code) for i, f in whole.findings()]
    assert sorted(expected) == [(1, "ML801"), (2, "ML802")]

    collector: Collector[int] = engine.collector()
    for index, (folder, obj) in enumerate(objects[:3]):
        collector.add(obj, index, folder)
    # /r/a holds objects that the set below is related to: it is judged with /r/a.
    assert list(collector.left("/r/a/b")) == []
    assert set(collector.sets) == {"/r/a", "/r/a/b"}
    found = [(i, f.code) for i, f in collector.left("/r/a")]
    assert collector.sets == {}
    for index, (folder, obj) in enumerate(objects[3:], 3):
        collector.add(obj, index, folder)
    found += [(i, f.code) for i, f in collector.left("/r/c")]
    assert set(collector.sets) == {"/r/e"}
    found += [(i, f.code) for i, f in collector.findings()]
    assert found == expected


def test_set_rules_need_the_objects_they_relate() -> None:
    hpa = bad("ML801")[1]
    # An HPA linted alone: its target may well be defined elsewhere.
    assert run([hpa], select=("ML801",)) == []
    job = bad("ML803")[1]
    # Claims are checked only when the set defines PVCs at all.
    assert run([job], select=("ML803",)) == []


def test_an_unset_namespace_matches_any() -> None:
    deployment, hpa = bad("ML801")[:2]
    del deployment["metadata"]["namespace"]
    hpa["spec"]["scaleTargetRef"]["name"] = "llm-server-v2"
    assert run([deployment, hpa], select=("ML801",)) == []


def test_set_rules_on_operator_kinds() -> None:
    """Workload kinds with a replica count (a LeaderWorkerSet) take part like Deployments."""
    lws = {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": {"name": "llama"},
        "spec": {
            "replicas": 2,
            "leaderWorkerTemplate": {
                "workerTemplate": {
                    "metadata": {"labels": {"app": "llama"}},
                    "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.6.3"}]},
                }
            },
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "llama"},
        "spec": {"scaleTargetRef": {"kind": "LeaderWorkerSet", "name": "llama"}},
    }
    found = run([lws, hpa], select=("ML8",))
    assert sorted((f.code, f.pointer) for _, f in found) == [
        ("ML802", "/spec/replicas"),
        ("ML804", "/spec/replicas"),
    ]


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        (Selector({"app": "a"}), {"app": "a", "tier": "gpu"}, True),
        (Selector({"app": "a"}), {"app": "b"}, False),
        (Selector({}, (("app", "In", ("a", "b")),)), {"app": "b"}, True),
        (Selector({}, (("app", "NotIn", ("a",)),)), {"app": "a"}, False),
        (Selector({}, (("app", "NotIn", ("a",)),)), {}, True),
        (Selector({}, (("gpu", "Exists", ()),)), {"gpu": "l4"}, True),
        (Selector({}, (("gpu", "DoesNotExist", ()),)), {"gpu": "l4"}, False),
        (Selector({}, (("gpu", "Gt", ("1",)),)), {"gpu": "2"}, False),
        (Selector({}), {"any": "pod"}, True),
        (Selector(None), {"any": "pod"}, False),
    ],
)
def test_label_selectors(selector: Selector, labels: dict[str, str], matches: bool) -> None:
    assert selector.matches(labels) is matches

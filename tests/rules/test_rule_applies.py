"""Rules that declare the workload kinds they can judge (`Rule.applies`): the engine runs them
on every kind they accept, and the declaration loses no finding on the shared corpus; team and
plugin rules run on every kind unless they declare otherwise."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from corpus import ABSENT, CORPUS, documents

from mllint.rules import Config, Engine, parse_config
from mllint.rules.engine import REGISTRY, Registry
from mllint.rules.model import Rule, Severity, Violation, rule
from mllint.rules.workload import Scope, WorkloadKind

ALL = Engine(Config(select=("ALL",)))
DECLARING = [a for a in ALL.active if a.rule.applies is not None]

JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "train"},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "train",
                        "image": "pytorch/pytorch:2.3.0",
                        "command": ["torchrun", "train.py"],
                        "resources": {"limits": {"nvidia.com/gpu": 2}},
                    }
                ]
            }
        }
    },
}


def as_kind(obj: dict[str, Any], kind: WorkloadKind) -> dict[str, Any]:
    """An object of `kind`, with the Job's metadata and no spec."""
    api = f"{kind.group}/{kind.versions[0]}" if kind.group else kind.versions[0]
    return {"apiVersion": api, "kind": kind.kind, "metadata": copy.deepcopy(obj["metadata"])}


def test_the_lifecycle_rules_declare_the_kinds_they_judge() -> None:
    assert {a.rule.code for a in DECLARING} == {"ML201", "ML202", "ML203", "ML204", "ML205"}
    # Declared by module functions: a rule still pickles.
    for active in DECLARING:
        assert pickle.loads(pickle.dumps(active.rule)).applies is active.rule.applies


@pytest.mark.parametrize("kind", list(ALL.kinds), ids=lambda k: k.key)
def test_a_declaring_rule_is_a_candidate_for_every_kind_it_accepts(kind: WorkloadKind) -> None:
    subject = ALL.subject(as_kind(JOB, kind))
    assert subject.workload is kind
    for fragment in (False, True):
        rules, _ = ALL._candidates(subject, fragment)
        candidates = {a.rule.code for a, *_ in rules}
        for active in DECLARING:
            if fragment and not active.rule.fragments:
                continue
            assert (active.rule.code in candidates) == active.rule.applies(kind), active.rule.code


def test_a_job_is_judged_by_its_lifecycle_rules() -> None:
    codes = {f.code for f in ALL.evaluate(JOB)}
    assert {"ML202", "ML203", "ML204"} <= codes
    job = copy.deepcopy(JOB)
    job["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    assert "ML201" in {f.code for f in ALL.evaluate(job)}
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": copy.deepcopy(JOB["spec"])}},
    }
    assert {"ML202", "ML203", "ML205"} <= {f.code for f in ALL.evaluate(cron)}


@pytest.mark.skipif(not CORPUS.is_dir(), reason=ABSENT)
def test_no_corpus_finding_is_on_a_kind_its_rule_does_not_accept() -> None:
    # Each declaring rule's check, called directly on every workload of the corpus (as the
    # engine called it before kinds were declared), finds nothing on a kind it does not accept.
    judged: dict[str, int] = {}
    for name, _, obj in documents():
        for fragment in (False, True):
            subject = ALL.subject(obj, fragment=fragment)
            if subject.workload is None:
                continue
            for active in DECLARING:
                r = active.rule
                if fragment and not r.fragments:
                    continue
                scope = subject.scope(r.roles, active.purposes, r.fragments)
                found = list(r.check(scope, active.options))
                if found:
                    judged[r.code] = judged.get(r.code, 0) + 1
                    assert r.applies is not None and r.applies(subject.workload), (r.code, name)
    assert set(judged) == {a.rule.code for a in DECLARING}


def _jobs_only(scope: Scope, options: Any) -> Iterator[Violation]:
    yield Violation("", f"judged {scope.subject.kind}")


PLUGIN_RULE: Rule = rule(
    _jobs_only,
    code="X300",
    name="jobs-only",
    severity=Severity.WARNING,
    summary="a plugin's rule for Jobs",
    applies=lambda kind: kind.kind == "Job",
)


def test_a_plugin_rule_runs_on_the_kinds_it_declares() -> None:
    engine = Engine(
        Config(select=("X300", "ML303")), registry=Registry([*REGISTRY.rules, PLUGIN_RULE])
    )
    assert [f.message for f in engine.evaluate(JOB) if f.code == "X300"] == ["judged Job"]
    for kind in engine.kinds:
        if kind.kind != "Job":
            assert not [f for f in engine.evaluate(as_kind(JOB, kind)) if f.code == "X300"]


def test_a_team_rule_runs_on_every_kind() -> None:
    spec = {
        "name": "everything",
        "code": "X100",
        "summary": "s",
        "condition": "true",
        "message": "object.kind",
    }
    engine = Engine(parse_config({"select": ["X"], "custom-rules": [spec]}, "team.yaml"))
    for kind in engine.kinds:
        found = [f.message for f in engine.evaluate(as_kind(JOB, kind))]
        assert found == [kind.kind]

"""/mutate: the safe fixes of the rules configured to mutate, as one JSON Patch made by the same
machinery as `mllint --fix` (rules.engine.fix_ops); idempotent, and the mutated object passes
/validate for every rule that was fixed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from webhook_helpers import RULES_CONFIG, Running, apply_patch, deployment, job, patch_of, review

from mllint.rules import Engine, fix_ops, parse_config


def test_patch_is_the_fix_of_mllint_fix(webhook: Running) -> None:
    obj = job()
    answer = webhook.mutate(review(obj))
    response = answer["response"]
    assert response["allowed"] is True and response["patchType"] == "JSONPatch"
    engine = Engine(parse_config({"select": ["ML003", "ML101", "ML201", "ML204", "ML602"]}, "t"))
    assert "ML101" in RULES_CONFIG
    assert patch_of(answer) == fix_ops(obj, engine.evaluate(obj))
    assert response["auditAnnotations"] == {"fixed": "ML101, ML201, ML204"}


def test_patch_is_valid_non_overlapping_and_idempotent(webhook: Running) -> None:
    obj = job()
    ops = patch_of(webhook.mutate(review(obj)))
    paths = [op["path"] for op in ops]
    assert len(paths) == len(set(paths))
    fixed = apply_patch(obj, ops)
    spec = fixed["spec"]
    assert spec["ttlSecondsAfterFinished"] >= 0
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    container = spec["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": 2}
    again = webhook.mutate(review(fixed))["response"]
    assert "patch" not in again and "patchType" not in again
    # Mutating webhooks run before validating ones: what /mutate fixed, /validate accepts.
    validated = webhook.validate(review(fixed))["response"]
    assert validated == {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": True}


def test_dry_run_gets_the_same_patch(webhook: Running) -> None:
    assert patch_of(webhook.mutate(review(job(), dry_run=True))) == patch_of(
        webhook.mutate(review(job()))
    )


def test_nothing_to_fix_means_no_patch(webhook: Running) -> None:
    response = webhook.mutate(review(deployment(image="bert:latest")))["response"]
    assert response == {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": True}


def test_rules_chosen_to_mutate(serve: Callable[..., Running]) -> None:
    only_gpu = serve(mutate=["ML101"]).mutate(review(job()))
    assert [op["path"] for op in patch_of(only_gpu)] == [
        "/spec/template/spec/containers/0/resources/limits",
        "/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu",
    ]
    not_ttl = serve(mutate_ignore=["job-ttl-missing"]).mutate(review(job()))
    assert "/spec/ttlSecondsAfterFinished" not in [op["path"] for op in patch_of(not_ttl)]
    assert patch_of(serve(mutate=[]).mutate(review(job()))) == []


def test_unsafe_fixes_are_never_applied(serve: Callable[..., Running], tmp_path: Path) -> None:
    config = tmp_path / "mllint.yaml"
    config.write_text("select: [job-active-deadline-missing]\n")  # its fix is unsafe
    running = serve(config=config)
    assert running.validate(review(job()))["response"]["warnings"]
    assert patch_of(running.mutate(review(job()))) == []


def test_validate_never_patches(webhook: Running) -> None:
    response = webhook.validate(review(job()))["response"]
    assert "patch" not in response and "patchType" not in response

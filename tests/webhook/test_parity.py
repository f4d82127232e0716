"""Parity of the two front ends: for every rule with a safe fix, /mutate on the rule's bad
fixture gives the same objects as `mllint --fix` on the file, and a second /mutate no patch."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from webhook_helpers import Running, apply_patch, patch_of, review

from mllint.rules import REGISTRY, Rule, Safety

FIXTURES = Path(__file__).resolve().parents[1] / "rules" / "fixtures"

# The webhook sees one object at a time, so whole-set rules are the linter's alone; and it
# applies safe fixes only.
SAFE_FIXES = [
    r
    for r in REGISTRY.rules
    if r.fix_safety is Safety.SAFE and not r.whole_set and (FIXTURES / r.code).is_dir()
]


def _fixed_by_cli(code: str, tmp_path: Path) -> list[dict[str, object]]:
    copy = tmp_path / "bad.yaml"
    shutil.copy(FIXTURES / code / "bad.yaml", copy)
    done = subprocess.run(
        ["mllint", "--select", code, "--fix", "--config", str(tmp_path / "empty.yaml"), str(copy)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return [d for d in yaml.safe_load_all(copy.read_text()) if d]


def test_every_safe_fix_is_covered() -> None:
    # hpa-min-replicas-low judges the autoscaler with its target, so the webhook (one object
    # at a time) does not run it.
    assert len(SAFE_FIXES) >= 7


@pytest.mark.parametrize("rule", SAFE_FIXES, ids=lambda r: r.code)
def test_mutate_matches_fix(rule: Rule, serve: Callable[..., Running], tmp_path: Path) -> None:
    code = rule.code
    (tmp_path / "empty.yaml").write_text("{}\n")
    config = tmp_path / "mllint.yaml"
    config.write_text(f"select: [{code}]\n")
    webhook = serve(config=config)
    bad = [d for d in yaml.safe_load_all((FIXTURES / code / "bad.yaml").read_text()) if d]
    expected = _fixed_by_cli(code, tmp_path)
    assert len(bad) == len(expected)
    mutated_any = False
    for obj, want in zip(bad, expected, strict=True):
        ops = patch_of(webhook.mutate(review(obj)))
        mutated_any = mutated_any or bool(ops)
        mutated = apply_patch(obj, ops)
        assert mutated == want
        again = webhook.mutate(review(mutated))["response"]
        assert "patch" not in again, f"{code}: a mutated object was patched again"
    assert mutated_any, f"{code}: its bad fixture gave no patch"

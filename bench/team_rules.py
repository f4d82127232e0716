"""What 20 team rules cost: the corpus lint and one admission request, with and without them,
measured in the same run (alternating, median of N rounds), printed as ratios.

    python bench/team_rules.py [--rounds N] [--corpus DIR]

The 20 rules are the five of docs/custom-rules.md, each in four variants (other codes, names and
constants), so they mix the object, pod and container scopes and read `object`, `pod`,
`container` and `workload` as real rules do.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from mllint.linter import discover, runner
from mllint.rules import Engine, parse_config
from mllint.webhook.admission import Review
from mllint.webhook.review import Admission
from mllint.webhook.settings import WebhookSettings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
_BLOCK = re.compile(r"^```yaml (rule|bad|good)\n(.*?)^```", re.M | re.S)


def docs_blocks(kind: str) -> list[dict[str, Any]]:
    text = (ROOT / "docs" / "custom-rules.md").read_text()
    return [yaml.safe_load(m.group(2)) for m in _BLOCK.finditer(text) if m.group(1) == kind]


def twenty_rules() -> list[dict[str, Any]]:
    rules = []
    for variant in range(4):
        for i, rule in enumerate(docs_blocks("rule")):
            copy = dict(rule, code=f"X{100 * (variant + 1) + i + 1:03}")
            copy["name"] = f"{rule['name']}-v{variant}"
            copy["condition"] = rule["condition"].replace("> 8", f"> {8 + variant}")
            rules.append(copy)
    return rules


def median_pair(
    rounds: int, first: Callable[[], Any], second: Callable[[], Any]
) -> tuple[float, float]:
    a, b = [], []
    for _ in range(rounds):
        for runs, fn in ((a, first), (b, second)):
            start = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    base = Engine(parse_config({}, "bench"))
    team = Engine(parse_config({"custom-rules": twenty_rules()}, "bench"))
    print(f"team rules: {len(team.registry.rules) - len(base.registry.rules)}")

    if args.corpus.is_dir():
        files = list(discover.discover([str(args.corpus)], lambda _: False, discover.Found()))
        runner.lint_many(files, base, jobs=1)  # warm caches alike
        runner.lint_many(files, team, jobs=1)
        without, with_team = median_pair(
            args.rounds,
            lambda: runner.lint_many(files, base, jobs=1),
            lambda: runner.lint_many(files, team, jobs=1),
        )
        findings = sum(len(r.findings) for r in runner.lint_many(files, team, jobs=1)) - sum(
            len(r.findings) for r in runner.lint_many(files, base, jobs=1)
        )
        print(
            f"corpus lint ({len(files)} files, one process): {without:.2f} s without, "
            f"{with_team:.2f} s with 20 team rules: x{with_team / without:.2f} "
            f"({findings} team findings)"
        )
    else:
        print(f"corpus lint: skipped, no corpus at {args.corpus}")

    settings = WebhookSettings()
    obj = docs_blocks("bad")[1]  # the PyTorchJob: two pods, accelerators
    request = {
        "uid": "0",
        "kind": {"group": "kubeflow.org", "version": "v1", "kind": obj["kind"]},
        "resource": {"group": "kubeflow.org", "version": "v1", "resource": "pytorchjobs"},
        "namespace": "ml",
        "operation": "CREATE",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": obj,
    }
    plain, teamed = Admission(settings, base), Admission(settings, team)
    repeat = 300

    def validate(admission: Admission) -> Callable[[], None]:
        def run() -> None:
            for _ in range(repeat):
                admission.validate(Review("admission.k8s.io/v1", "0", request))

        return run

    without, with_team = median_pair(args.rounds, validate(plain), validate(teamed))
    print(
        f"admission request (/validate, in process, PyTorchJob with 2 pods): "
        f"{without / repeat * 1e6:.0f} us without, {with_team / repeat * 1e6:.0f} us with "
        f"20 team rules: x{with_team / without:.2f}"
    )


if __name__ == "__main__":
    main()

"""How far the workload model reaches into a corpus of real manifests, per operator kind.

    python bench/corpus_coverage.py [CORPUS]      # default: ../shared/corpus

For each kind the engine knows: documents, pods found, containers the model reaches (with the
single containers of Argo steps and KServe framework specs), the containers in
`containers`/`initContainers` lists reached against those present (found by a walk that knows
no kind), and findings per rule with the default configuration (rules off by default, such as
ML702, do not run). Whole-set rules (ML8xx) run once per top-level
folder of the corpus, that is per source repository, as a user lints one repository at a time.
Files that do not parse as YAML are counted and skipped, as the linter reports and skips them.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from mllint.rules import pointer as jp
from mllint.rules.engine import Engine
from mllint.rules.setrules import Collector

CONTAINER_LISTS = ("containers", "initContainers")


def container_pointers(node: Any, at: str = "") -> Iterator[str]:
    """Every container in `node`, by a walk that knows no kind: a mapping with an `image` in a
    list held under a `containers` or `initContainers` key."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = jp.join(at, str(key))
            if key in CONTAINER_LISTS and isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict) and "image" in item:
                        yield f"{child}/{i}"
            yield from container_pointers(value, child)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from container_pointers(item, f"{at}/{i}")


def documents(root: Path) -> Iterator[tuple[Path, int, Any]]:
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json") or not path.is_file():
            continue
        try:
            docs = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader))
        except (yaml.YAMLError, UnicodeDecodeError, ValueError):
            yield path, -1, None
            continue
        for i, doc in enumerate(docs):
            yield path, i, doc


def main(argv: list[str]) -> int:
    root = (
        Path(argv[1])
        if len(argv) > 1
        else Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
    )
    if not root.is_dir():
        print(f"no corpus at {root}", file=sys.stderr)
        return 2
    engine = Engine()
    collectors: dict[str, Collector[str]] = {}
    docs: Counter[str] = Counter()
    pods: Counter[str] = Counter()
    found: Counter[str] = Counter()
    containers: Counter[str] = Counter()
    reached: Counter[str] = Counter()
    findings: dict[str, Counter[str]] = defaultdict(Counter)
    unreadable = 0
    for path, index, obj in documents(root):
        if index < 0:
            unreadable += 1
            continue
        if not isinstance(obj, dict):
            continue
        subject = engine.subject(obj)
        repository = path.relative_to(root).parts[0]
        collector = collectors.setdefault(repository, Collector(engine))
        collector.add(obj, subject.workload.key if subject.workload else "")
        if subject.workload is None:
            continue
        key = subject.workload.key
        docs[key] += 1
        pods[key] += len(subject.pods)
        present = set(container_pointers(obj))
        got = {c.pointer for c in subject.containers}
        containers[key] += len(got)
        found[key] += len(present)
        reached[key] += len(present & got)
        for f in engine.evaluate(obj):
            findings[key][f.code] += 1
    for collector in collectors.values():
        for key, finding in collector.findings():
            if key:
                findings[key][finding.code] += 1
    print(f"{'kind':<42} {'docs':>5} {'pods':>5} {'ctrs':>5} {'in lists':>11}  findings per rule")
    for key in sorted(docs):
        per_rule = " ".join(f"{c}:{n}" for c, n in sorted(findings[key].items()))
        print(
            f"{key:<42} {docs[key]:>5} {pods[key]:>5} {containers[key]:>5} "
            f"{reached[key]:>5}/{found[key]:<5}  {per_rule}"
        )
    lists = f"{sum(reached.values()):>5}/{sum(found.values()):<5}"
    totals = f"{sum(docs.values()):>5} {sum(pods.values()):>5} {sum(containers.values()):>5}"
    print(f"{'total':<42} {totals} {lists}")
    print(f"files that do not parse as YAML: {unreadable}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

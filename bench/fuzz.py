"""A long fuzz of the engine: mutated real objects through every rule, the fixes and the patches.

    python bench/fuzz.py [--seconds 60] [--seed 1] [CORPUS ...]   # default: ../shared/corpus

Seeds are the rule fixtures and every object of the corpus files (read with the linter's own
loader, so each file is also linted once as `mllint` would). Each round takes a seed, replaces
one to four fields (anywhere, at any depth) with values of the wrong type or out of range, adds
keys, and runs every rule (all selected), `fix_ops` (safe and unsafe) and the JSON Patch
application. Any exception is a crash: its type, the rule path and the mutated object's size are
printed, and the exit status is 1. The summary line gives files, objects, seconds and crashes.

The suite runs the same property for a few seconds (tests/rules/test_fuzz.py); this is the
longer run.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from mllint.linter.lint import lint_file
from mllint.linter.loader import LoadError, load
from mllint.rules import Engine, fix_ops, parse_config
from mllint.rules import pointer as jp
from mllint.rules.patch import apply

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "rules" / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"

NASTY: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**70,
    1e308,
    math.inf,
    -math.inf,
    math.nan,
    "",
    "_",
    "1e400",
    "-1e400",
    "1e-400",
    "0.5",
    "\ud800",
    "latest",
    "Always",
    "Never",
    "Forbid",
    "Allow",
    "nvidia.com/gpu",
    "a" * 300,
    [],
    {},
    [None],
    [[]],
    [{}],
    ["Allow"],
    {"name": []},
    {"name": None},
    {"nvidia.com/gpu": "1e400"},
    {"limits": None},
    {"": {}},
    {"~1/": "x"},
]


def value(rng: random.Random, depth: int = 0) -> Any:
    """A value of any JSON type, often one of NASTY."""
    roll = rng.random()
    if roll < 0.6 or depth > 2:
        return copy.deepcopy(rng.choice(NASTY))
    if roll < 0.7:
        return rng.choice(["x", "1", "16Gi", "500m", "nvidia.com/gpu", "a/b"])
    if roll < 0.85:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["name", "x", "limits", "nvidia.com/gpu"]): value(rng, depth + 1)}


def paths(node: Any, at: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for key, child in node.items():
            here = jp.join(at, str(key))
            out += [here, *paths(child, here)]
    elif isinstance(node, list):
        for index, child in enumerate(node):
            here = f"{at}/{index}"
            out += [here, *paths(child, here)]
    return out


def mutate(obj: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for _ in range(rng.randint(1, 4)):
        where = paths(out)
        if not where:
            break
        target = rng.choice(where)
        parent = jp.resolve(out, jp.parent(target))
        token = jp.split(target)[-1]
        if isinstance(parent, dict):
            parent[token if rng.random() < 0.8 else rng.choice(["x", "name", ""])] = value(rng)
        elif isinstance(parent, list):
            parent[int(token)] = value(rng)
    return out


def judge(engine: Engine, obj: dict[str, Any]) -> None:
    findings = engine.evaluate(obj)
    for unsafe in (False, True):
        ops = fix_ops(obj, findings, unsafe=unsafe)
        if ops:
            apply(obj, ops)


def seeds(corpora: list[Path], engine: Engine) -> tuple[list[dict[str, Any]], int]:
    """Objects of the fixtures and corpora, and how many files were read (each linted once)."""
    objects: list[dict[str, Any]] = []
    files = 0
    for folder in [FIXTURES, *corpora]:
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".yaml", ".yml", ".json") or not path.is_file():
                continue
            files += 1
            lint_file(str(path), engine)
            try:
                docs = [d.obj for d in load(path.read_bytes())]
            except LoadError:
                continue
            objects += [d for d in docs if isinstance(d, dict) and d.get("kind")]
    return objects, files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="*", type=Path)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    corpora = args.corpus or ([CORPUS] if CORPUS.is_dir() else [])
    engine = Engine(parse_config({"select": ["ALL"]}, "fuzz"))
    rng = random.Random(args.seed)
    start = time.perf_counter()
    objects, files = seeds(corpora, engine)
    if not objects:
        print("no seed objects found", file=sys.stderr)
        return 2
    crashes: Counter[str] = Counter()
    judged = 0
    until = time.perf_counter() + args.seconds
    while time.perf_counter() < until:
        obj = mutate(rng.choice(objects), rng)
        judged += 1
        try:
            judge(engine, obj)
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            if not crashes[where]:
                text = json.dumps(obj, default=str)
                print(f"crash: {where}: {exc}; object of {len(text)} characters:", text[:2000])
            crashes[where] += 1
    seconds = time.perf_counter() - start
    print(
        f"files {files}  seed objects {len(objects)}  fuzzed objects {judged}  "
        f"seconds {seconds:.1f}  crashes {sum(crashes.values())}"
    )
    for where, count in crashes.most_common():
        print(f"  {count:6d}  {where}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())

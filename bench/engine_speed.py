"""CPU time of the rule engine per object, against decoding that object, measured in the same run.

    python bench/engine_speed.py [--repeat N] [--corpus DIR]

1. the webhook's review: `Engine.evaluate` on the Deployment of bench/webhook_latency.py (a GPU
   model server with managedFields, as the API server sends it), each evaluation on a freshly
   decoded copy as a request brings it, and the whole judgement of the review as the server
   makes it in its own process (decoding the body, admission, encoding the answer), each
   against `json.loads` of the whole AdmissionReview body, which the least webhook pays too;
2. the corpus: every object of ../shared/corpus evaluated once, against parsing the same files
   with PyYAML's C loader.

CPU time (user + system of this process), best of N rounds; ratios are engine over baseline (lower
is better). Nothing here fails on time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from webhook_latency import review

from mllint.linter import discover
from mllint.linter.discover import Excluder
from mllint.rules import Engine
from mllint.webhook.judging import Inline
from mllint.webhook.review import Admission
from mllint.webhook.settings import WebhookSettings

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
COPIES = 50


def cpu(fn: Callable[[], object], repeat: int, setup: Callable[[], object] = lambda: None) -> float:
    """The least CPU seconds of `repeat` calls of fn, each after an untimed call of setup."""
    best = float("inf")
    for _ in range(repeat):
        setup()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def report(label: str, ours: float, base: float, unit: str) -> None:
    print(f"  {label:<40} {ours:9.1f} {unit} vs {base:9.1f} {unit}: ratio {ours / base:5.2f}")


def webhook(engine: Engine, repeat: int) -> None:
    body = review()
    copies: list[Any] = []

    def decode() -> None:
        copies[:] = [json.loads(body)["request"]["object"] for _ in range(COPIES)]

    def judge() -> None:
        for obj in copies:
            engine.evaluate(obj)

    inline = Inline(Admission.from_settings(WebhookSettings()))

    def answer() -> None:
        for _ in range(COPIES):
            inline.judge("validate", body, 10.0)

    decoded = cpu(decode, repeat)
    judged = cpu(lambda: (decode(), judge()), repeat) - decoded
    answered = cpu(answer, repeat)
    findings = len(engine.evaluate(json.loads(body)["request"]["object"]))
    print(f"webhook review ({len(body):,} bytes, {findings} findings, best of {repeat}):")
    report(
        "Engine.evaluate vs json.loads of the body",
        judged / COPIES * 1e6,
        decoded / COPIES * 1e6,
        "us",
    )
    report(
        "judging the review vs json.loads of it",
        answered / COPIES * 1e6,
        decoded / COPIES * 1e6,
        "us",
    )


def corpus(engine: Engine, folder: Path, repeat: int) -> None:
    files = list(discover.discover([str(folder)], Excluder((), str(folder))))
    blobs = [Path(f).read_bytes() for f in files]
    objects: list[Any] = []

    def parse() -> None:
        objects.clear()
        for blob in blobs:
            with contextlib.suppress(yaml.YAMLError, ValueError):
                objects.extend(yaml.load_all(blob, Loader=yaml.CSafeLoader))

    parsed = cpu(parse, repeat)
    found = [o for o in objects if isinstance(o, dict) and o.get("apiVersion") and o.get("kind")]

    def judge() -> None:
        for obj in found:
            engine.evaluate(obj)

    judged = cpu(judge, repeat)
    print(f"corpus ({len(files)} files, {len(found)} objects, best of {repeat}):")
    report(
        "Engine.evaluate vs C-loader parse, per object",
        judged / len(found) * 1e6,
        parsed / len(found) * 1e6,
        "us",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the least CPU time counts")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    engine = Engine()
    webhook(engine, args.repeat)
    if args.corpus.is_dir():
        corpus(engine, args.corpus, args.repeat)
    else:
        print(f"corpus: skipped, {args.corpus} is absent (it is ../shared/corpus)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

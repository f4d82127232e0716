"""Draw the findings to label by hand for the answer key (see ../shared/PRECISION.md).

Runs `mllint --select ALL --format json` over the corpus and draws, for each rule, a random sample
with a fixed seed: every finding of a rule with at most `--floor` of them, else a share in
proportion to the rule's volume (`--share`), never fewer than `--floor`. Writes one TSV per rule
with the columns of the answer key and the verdict and reason left empty, for a reviewer to fill.

    python bench/sample_findings.py --out /tmp/samples [--corpus ../shared/corpus]

A later round (`--round after --exclude tests/accuracy/labels`) draws again, with its own seed,
from the findings of the rules as they are now, leaving out the findings the key labels already,
so that the key also samples what changed rules report.
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from corpus_run import findings
from precision import finding_key, read_labels

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ("file", "kind", "name", "pointer", "verdict", "reason")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--share", type=float, default=0.055)
    parser.add_argument("--floor", type=int, default=8)
    parser.add_argument("--round", default="", help="a name for a later draw, part of its seed")
    parser.add_argument("--exclude", type=Path, help="labels whose findings are not drawn again")
    args = parser.parse_args()

    known = {label.key for label in read_labels(args.exclude)} if args.exclude else set()
    by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in findings(args.corpus):
        if finding_key(f) not in known:
            by_rule[f["code"]].append(f)
    args.out.mkdir(parents=True, exist_ok=True)
    for code, found in sorted(by_rule.items()):
        found.sort(key=lambda f: (f["file"], f["line"], f["column"], f["pointer"]))
        size = min(len(found), max(args.floor, round(len(found) * args.share)))
        seed = f"mllint-{args.round}-{code}" if args.round else f"mllint-{code}"
        drawn = random.Random(seed).sample(found, size)
        drawn.sort(key=lambda f: (f["file"], f["line"], f["column"], f["pointer"]))
        unlabelled = " unlabelled" if known else ""
        lines = [
            f"# {code} {found[0]['rule']}: {size} of {len(found)}{unlabelled} findings, "
            f"seed {seed}",
            "\t".join(COLUMNS),
        ]
        for f in drawn:
            lines.append("\t".join((f["file"], f["kind"], f["name"], f["pointer"], "", "")))
        (args.out / f"{code}.tsv").write_text("\n".join(lines) + "\n")
        print(f"{code}: {size} of {len(found)}")


if __name__ == "__main__":
    main()

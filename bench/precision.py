"""Precision and recall of mllint's findings on a corpus, scored against the answer key.

    python bench/precision.py [--corpus ../shared/corpus] [--labels tests/accuracy/labels]
                              [--recall tests/accuracy/recall.tsv] [--json] [--details]

Runs `mllint --select ALL --format json .` inside the corpus and compares its findings with
the answer key (how each finding is judged: ../shared/PRECISION.md):

- labels: one TSV per rule, `<CODE>.tsv`, columns `file kind name pointer verdict reason`, verdict
  one of true, false, debatable. A finding matches a label on file, kind, name, rule and pointer.
- recall cases: one TSV, columns `file kind name rule pointer reason`; `rule` is the code of the
  rule that should find the problem, or `-` where no rule exists yet. A case is found when a
  finding of that rule is on that file, kind and name, at or under the pointer when one is given.

Per rule it prints the corpus count, the labelled findings (true/false/debatable) and how many are
still reported, precision = true / (true + false) among the labelled findings still reported
(debatable ones left out), true positives lost (labelled true, no longer reported) and findings
not in the key. Overall: precision over every labelled finding still reported (micro), the same
weighted by each rule's corpus count, and recall over the cases whose rule exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corpus_run import catalog, findings

ROOT = Path(__file__).resolve().parent.parent
LABEL_COLUMNS = ("file", "kind", "name", "pointer", "verdict", "reason")
RECALL_COLUMNS = ("file", "kind", "name", "rule", "pointer", "reason")
VERDICTS = ("true", "false", "debatable")
NO_RULE = "-"
SUMMED = ("corpus", "labelled", "true", "false", "debatable", "reported", "unlabelled")

# file, kind, name, rule code, pointer
Key = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class Label:
    file: str
    kind: str
    name: str
    code: str
    pointer: str
    verdict: str
    reason: str

    @property
    def key(self) -> Key:
        return (self.file, self.kind, self.name, self.code, self.pointer)


@dataclass(frozen=True)
class RecallCase:
    file: str
    kind: str
    name: str
    rule: str
    pointer: str
    reason: str


def finding_key(f: dict[str, Any]) -> Key:
    return (f["file"], f["kind"], f["name"], f["code"], f["pointer"])


def _rows(path: Path, columns: tuple[str, ...]) -> Iterable[tuple[int, list[str]]]:
    """The data rows of a TSV: `#` lines are comments, the first other line names the columns."""
    header_seen = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if not header_seen:
            if tuple(cells) != columns:
                sys.exit(f"{path}:{number}: expected the columns {' '.join(columns)}")
            header_seen = True
            continue
        if len(cells) != len(columns):
            sys.exit(f"{path}:{number}: {len(cells)} tab-separated cells, expected {len(columns)}")
        yield number, cells


def read_labels(directory: Path) -> list[Label]:
    """Every label of every `<CODE>.tsv` in `directory`, in file order."""
    labels = []
    for path in sorted(directory.glob("*.tsv")):
        code = path.stem
        for number, (file, kind, name, pointer, verdict, reason) in _rows(path, LABEL_COLUMNS):
            if verdict not in VERDICTS:
                sys.exit(
                    f"{path}:{number}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}"
                )
            labels.append(Label(file, kind, name, code, pointer, verdict, reason))
    return labels


def read_recall(path: Path) -> list[RecallCase]:
    if not path.is_file():
        return []
    return [RecallCase(*cells) for _, cells in _rows(path, RECALL_COLUMNS)]


def under(pointer: str, prefix: str) -> bool:
    """`pointer` is `prefix` or inside it (whole reference tokens, so /0 does not take /01)."""
    return not prefix or pointer == prefix or pointer.startswith(prefix.rstrip("/") + "/")


def is_found(case: RecallCase, found: Iterable[dict[str, Any]]) -> bool:
    return any(
        f["code"] == case.rule
        and f["file"] == case.file
        and f["kind"] == case.kind
        and f["name"] == case.name
        and under(f["pointer"], case.pointer)
        for f in found
    )


def ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class RuleScore:
    code: str
    name: str
    default: bool
    corpus: int = 0
    labelled: int = 0
    true: int = 0
    false: int = 0
    debatable: int = 0
    reported: int = 0
    true_reported: int = 0
    false_reported: int = 0
    unlabelled: int = 0
    lost: list[Label] = field(default_factory=list)
    false_still: list[Label] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return ratio(self.true_reported, self.true_reported + self.false_reported)


@dataclass
class Report:
    rules: list[RuleScore]
    cases: list[RecallCase]
    missed: list[RecallCase]

    def _precision(self, rules: list[RuleScore]) -> float | None:
        true = sum(r.true_reported for r in rules)
        return ratio(true, true + sum(r.false_reported for r in rules))

    def _weighted(self, rules: list[RuleScore]) -> float | None:
        scored = [(r.precision, r.corpus) for r in rules if r.precision is not None]
        volume = sum(count for _, count in scored)
        if not volume:
            return None
        return sum(p * count for p, count in scored) / volume

    @property
    def overall(self) -> float | None:
        return self._precision(self.rules)

    @property
    def weighted(self) -> float | None:
        return self._weighted(self.rules)

    @property
    def overall_default(self) -> float | None:
        return self._precision([r for r in self.rules if r.default])

    @property
    def weighted_default(self) -> float | None:
        return self._weighted([r for r in self.rules if r.default])

    @property
    def with_rule(self) -> list[RecallCase]:
        return [c for c in self.cases if c.rule != NO_RULE]

    @property
    def recall(self) -> float | None:
        return ratio(len(self.with_rule) - len(self.missed), len(self.with_rule))


def score(
    found: list[dict[str, Any]],
    labels: list[Label],
    cases: list[RecallCase],
    rules: list[dict[str, Any]],
) -> Report:
    known = {r["code"]: r for r in rules}
    for case in cases:
        if case.rule != NO_RULE and case.rule not in known:
            sys.exit(f"recall case on {case.file} names rule {case.rule!r}, which mllint lacks")
    scores = {
        code: RuleScore(code, rule["name"], bool(rule["enabled_by_default"]))
        for code, rule in sorted(known.items())
    }
    reported = {finding_key(f) for f in found}
    keyed = {label.key for label in labels}
    for f in found:
        s = scores[f["code"]]
        s.corpus += 1
        s.unlabelled += finding_key(f) not in keyed
    for label in labels:
        if label.code not in scores:
            sys.exit(f"labels for {label.code}, a rule mllint lacks")
        s = scores[label.code]
        s.labelled += 1
        s.true += label.verdict == "true"
        s.false += label.verdict == "false"
        s.debatable += label.verdict == "debatable"
        still = label.key in reported
        s.reported += still
        if label.verdict == "true":
            s.true_reported += still
            if not still:
                s.lost.append(label)
        elif label.verdict == "false" and still:
            s.false_reported += 1
            s.false_still.append(label)
    missed = [c for c in cases if c.rule != NO_RULE and not is_found(c, found)]
    shown = [s for s in scores.values() if s.corpus or s.labelled]
    return Report(shown, cases, missed)


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def table(report: Report, details: bool) -> str:
    head = (
        f"{'rule':<38} {'def':>3} {'corpus':>6} {'label':>5} {'true':>4} {'false':>5} "
        f"{'deb':>3} {'still':>5} {'prec':>6} {'lost':>4} {'unlab':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in report.rules:
        lines.append(
            f"{r.code + ' ' + r.name:<38} {'yes' if r.default else 'no':>3} {r.corpus:>6} "
            f"{r.labelled:>5} {r.true:>4} {r.false:>5} {r.debatable:>3} {r.reported:>5} "
            f"{percent(r.precision):>6} {len(r.lost):>4} {r.unlabelled:>5}"
        )
    total = Counter[str]()
    for r in report.rules:
        total.update({name: getattr(r, name) for name in SUMMED})
        total["lost"] += len(r.lost)
    lines.append("-" * len(head))
    lines.append(
        f"{'all rules':<38} {'':>3} {total['corpus']:>6} {total['labelled']:>5} "
        f"{total['true']:>4} {total['false']:>5} {total['debatable']:>3} {total['reported']:>5} "
        f"{percent(report.overall):>6} {total['lost']:>4} {total['unlabelled']:>5}"
    )
    lines += [
        "",
        f"precision, labelled findings still reported: {percent(report.overall)}"
        f" (default rules: {percent(report.overall_default)})",
        f"precision weighted by each rule's corpus count: {percent(report.weighted)}"
        f" (default rules: {percent(report.weighted_default)})",
        f"recall on the {len(report.with_rule)} recall cases with a rule: {percent(report.recall)}"
        f" ({len(report.with_rule) - len(report.missed)} found;"
        f" {len(report.cases) - len(report.with_rule)} more cases have no rule yet)",
    ]
    if report.missed:
        lines += ["", "missed recall cases:"]
        lines += [
            f"  {c.rule} {c.file} {c.kind}/{c.name} {c.pointer or '(anywhere)'}: {c.reason}"
            for c in report.missed
        ]
    lost = [label for r in report.rules for label in r.lost]
    if lost:
        lines += ["", "true positives lost (labelled true, no longer reported):"]
        lines += [_label_line(label) for label in lost]
    if details:
        still = [label for r in report.rules for label in r.false_still]
        lines += ["", "false positives still reported:"]
        lines += [_label_line(label) for label in still] or ["  none"]
    return "\n".join(lines)


def _label_line(label: Label) -> str:
    return f"  {label.code} {label.file} {label.kind}/{label.name} {label.pointer}: {label.reason}"


def as_json(report: Report) -> dict[str, Any]:
    return {
        "rules": [
            {
                "code": r.code,
                "name": r.name,
                "default": r.default,
                "corpus": r.corpus,
                "labelled": r.labelled,
                "true": r.true,
                "false": r.false,
                "debatable": r.debatable,
                "still_reported": r.reported,
                "precision": r.precision,
                "true_positives_lost": [asdict(label) for label in r.lost],
                "false_positives_reported": [asdict(label) for label in r.false_still],
                "unlabelled": r.unlabelled,
            }
            for r in report.rules
        ],
        "precision": report.overall,
        "precision_weighted": report.weighted,
        "precision_default_rules": report.overall_default,
        "precision_weighted_default_rules": report.weighted_default,
        "recall": report.recall,
        "recall_cases": len(report.cases),
        "recall_cases_with_rule": len(report.with_rule),
        "recall_missed": [asdict(c) for c in report.missed],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        default=ROOT.parent / "shared" / "corpus",
        help="folder of manifests mllint runs in (default: ../shared/corpus)",
    )
    parser.add_argument(
        "--labels",
        type=Path,
        default=ROOT / "tests" / "accuracy" / "labels",
        help="folder of <CODE>.tsv label files (default: tests/accuracy/labels)",
    )
    parser.add_argument(
        "--recall",
        type=Path,
        default=ROOT / "tests" / "accuracy" / "recall.tsv",
        help="recall cases (default: tests/accuracy/recall.tsv)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--details", action="store_true", help="also list the false positives still reported"
    )
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        sys.exit(f"no corpus at {args.corpus}")
    if not args.labels.is_dir():
        sys.exit(f"no label folder at {args.labels}")
    labels, cases = read_labels(args.labels), read_recall(args.recall)
    report = score(findings(args.corpus), labels, cases, catalog())
    print(json.dumps(as_json(report), indent=2) if args.json else table(report, args.details))
    return 0


if __name__ == "__main__":
    sys.exit(main())

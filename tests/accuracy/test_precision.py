"""The answer key holds on the corpus: every finding labelled false stays gone, every finding
labelled true is still reported, the recall cases are found and precision meets its targets.

The key is tests/accuracy/labels/<CODE>.tsv (findings judged by hand, see ../shared/PRECISION.md)
and tests/accuracy/recall.tsv (problems a rule must find). The installed `mllint` runs once over
../shared/corpus, as bench/precision.py runs it, and every test of the key reads that one run; two
more tests run bench/precision.py itself, as a user does, on the repository's examples.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT / "bench"))
precision = importlib.import_module("precision")
corpus_run = importlib.import_module("corpus_run")

LABELS = precision.read_labels(Path(__file__).with_name("labels"))
OPEN = {
    (c.file, c.kind, c.name, c.rule, c.pointer): c.reason
    for c in precision.read_recall(Path(__file__).with_name("open.tsv"))
}
"""Labelled false positives still reported, with what would remove each (open.tsv)."""
CASES = precision.read_recall(Path(__file__).with_name("recall.tsv"))
LABELLED_RULES = sorted({label.code for label in LABELS})

OVERALL_PRECISION = 0.95
RULE_PRECISION = 0.90
RECALL = 0.90


def label_id(label: Any) -> str:
    where = f":{label.kind}/{label.name}{label.pointer}" if label.kind else ""
    return f"{label.code}:{label.file}{where}"


@pytest.fixture(scope="module")
def report() -> Any:
    if not CORPUS.is_dir():
        pytest.skip(f"no corpus at {CORPUS}: the answer key scores mllint on ../shared/corpus")
    return precision.score(corpus_run.findings(CORPUS), LABELS, CASES, corpus_run.catalog())


def test_the_key_covers_labelled_rules() -> None:
    assert LABELS, "no labels under tests/accuracy/labels"
    assert CASES, "no recall cases in tests/accuracy/recall.tsv"


def where(label: Any) -> str:
    return (
        f"{label.file}: {label.code} on {label.kind} {label.name!r} at {label.pointer or '(file)'}"
    )


def _expected(label: Any) -> Any:
    """A false label as a test case; one of the open false positives is expected to fail."""
    reason = OPEN.get(label.key)
    if reason is None:
        return label
    return pytest.param(label, marks=pytest.mark.xfail(strict=True, reason=f"open: {reason}"))


def test_open_false_positives_are_labelled_false() -> None:
    false = {x.key for x in LABELS if x.verdict == "false"}
    assert set(OPEN) <= false, set(OPEN) - false


@pytest.mark.parametrize(
    "label", [_expected(x) for x in LABELS if x.verdict == "false"], ids=label_id
)
def test_false_positive_is_not_reported(report: Any, label: Any) -> None:
    rule = next(r for r in report.rules if r.code == label.code)
    if not rule.default:
        pytest.skip(f"{label.code} {rule.name} is off by default; bench/precision.py measures it")
    if label.key in {x.key for rule in report.rules for x in rule.false_still}:
        pytest.fail(f"{where(label)} is still reported, labelled false: {label.reason}")


@pytest.mark.parametrize("label", [x for x in LABELS if x.verdict == "true"], ids=label_id)
def test_true_positive_is_reported(report: Any, label: Any) -> None:
    if label.key in {x.key for rule in report.rules for x in rule.lost}:
        pytest.fail(f"{where(label)} is no longer reported, labelled true: {label.reason}")


def test_recall_on_cases_with_a_rule(report: Any) -> None:
    assert report.with_rule, "no recall case names a rule"
    missed = "\n".join(
        f"  {c.rule} {c.file} {c.kind}/{c.name} {c.pointer or '(anywhere)'}: {c.reason}"
        for c in report.missed
    )
    if report.recall < RECALL:
        pytest.fail(
            f"recall {report.recall:.1%} < {RECALL:.0%}; missed {len(report.missed)}"
            f" of {len(report.with_rule)}:\n{missed}"
        )


def test_overall_precision(report: Any) -> None:
    assert report.overall is not None, "no labelled finding is still reported"
    if report.overall < OVERALL_PRECISION:
        pytest.fail(
            f"precision {report.overall:.1%} over the labelled findings still reported"
            f" < {OVERALL_PRECISION:.0%}"
        )


OPEN_RULES: dict[str, str] = {}
"""Default rules still under the per-rule precision target, with why."""


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=f"open: {OPEN_RULES[c]}"))
        if c in OPEN_RULES
        else c
        for c in LABELLED_RULES
    ],
)
def test_default_rule_precision(report: Any, code: str) -> None:
    rule = next(r for r in report.rules if r.code == code)
    if not rule.default:
        pytest.skip(f"{code} {rule.name} is off by default")
    if rule.precision is None:
        pytest.skip(f"{code} {rule.name}: no finding labelled true or false is still reported")
    wrong = "\n".join(f"  {x.file} {x.kind}/{x.name}: {x.reason}" for x in rule.false_still)
    if rule.precision < RULE_PRECISION:
        pytest.fail(
            f"{code} {rule.name}: precision {rule.precision:.1%} < {RULE_PRECISION:.0%};"
            f" labelled false and still reported:\n{wrong}"
        )


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "precision.py"), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_bench_scores_a_key_written_by_hand(tmp_path: Path) -> None:
    """The bench as a user runs it, on the repository's examples and a key built from their
    findings: one finding labelled true, one label on a pointer nothing reports, one recall case
    under the finding and one that names no rule."""
    examples = ROOT / "examples"
    found = corpus_run.findings(examples)
    f = next(f for f in found if f["pointer"].count("/") > 2)
    key = precision.finding_key(f)
    labels = tmp_path / "labels"
    labels.mkdir()
    row = (f["file"], f["kind"], f["name"])
    (labels / f"{f['code']}.tsv").write_text(
        "# hand-written\nfile\tkind\tname\tpointer\tverdict\treason\n"
        + "\t".join((*row, f["pointer"], "true", "reported"))
        + "\n"
        + "\t".join((*row, f["pointer"] + "/nowhere", "false", "never reported"))
        + "\n"
    )
    recall = tmp_path / "recall.tsv"
    recall.write_text(
        "file\tkind\tname\trule\tpointer\treason\n"
        + "\t".join((*row, f["code"], f["pointer"].rsplit("/", 1)[0], "under the finding"))
        + "\n"
        + "\t".join((*row, "-", "", "no rule yet"))
        + "\n"
    )
    run = bench(
        "--json", "--corpus", str(examples), "--labels", str(labels), "--recall", str(recall)
    )
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout)
    rule = next(r for r in figures["rules"] if r["code"] == f["code"])
    assert (rule["labelled"], rule["true"], rule["false"], rule["still_reported"]) == (2, 1, 1, 1)
    assert rule["precision"] == 1.0
    assert rule["true_positives_lost"] == []
    same = sum(precision.finding_key(g) == key for g in found)
    assert rule["unlabelled"] == rule["corpus"] - same
    assert figures["precision"] == 1.0
    assert figures["recall"] == 1.0
    assert (figures["recall_cases"], figures["recall_cases_with_rule"]) == (2, 1)


def test_bench_names_the_line_of_a_bad_verdict(tmp_path: Path) -> None:
    (tmp_path / "ML601.tsv").write_text(
        "file\tkind\tname\tpointer\tverdict\treason\na.yaml\tJob\tj\t/spec\tmaybe\tunsure\n"
    )
    run = bench("--corpus", str(tmp_path), "--labels", str(tmp_path))
    assert run.returncode == 1
    assert f"{tmp_path / 'ML601.tsv'}:2: verdict 'maybe' is not one of" in run.stderr

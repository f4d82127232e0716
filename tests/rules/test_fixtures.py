"""Every rule against its fixture folder, through the installed `mllint` command.

tests/rules/fixtures/<CODE>/ holds, for each rule:

- bad.yaml: each line the rule must report ends in `# expect: CODE` (a line reported twice:
  `# expect: CODE, CODE`); the rule reports exactly those lines, that many times each;
- good.yaml: the rule reports nothing;
- fixed.yaml, present exactly when the rule has a fix: what `mllint --fix` (with
  `--unsafe-fixes` for an unsafe fix) makes of bad.yaml, comments kept, a second run changing
  nothing.

And each rule's page in docs/rules/ is the one docgen renders now.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from mllint.linter import docgen
from mllint.rules import REGISTRY, Rule, Safety

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "rules" / "fixtures"
MLLINT = shutil.which("mllint")

CHECKED = [r for r in REGISTRY.rules if not r.meta]
"""Meta rules (parse errors, suppression problems) are reported by the front ends, not by a
check of objects; their own tests cover them."""

WITH_FIXTURES = [r for r in CHECKED if (FIXTURES / r.code).is_dir()]

MARKER = re.compile(r"#\s*expect:(?P<codes>[^#\n]*)")
CODE = re.compile(r"[A-Z]+[0-9]+")


def expected_lines(path: Path, code: str) -> Counter[int]:
    """Line number -> how many findings of `code` its `# expect:` marker announces."""
    found: Counter[int] = Counter()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = MARKER.search(line)
        if match is None:
            continue
        codes = [c.strip() for c in match["codes"].split(",")]
        malformed = [c for c in codes if not CODE.fullmatch(c)]
        assert not malformed, (
            f"{path}:{number}: malformed marker {match[0]!r}; write '# expect: CODE' "
            "or '# expect: CODE, CODE'"
        )
        found[number] += codes.count(code)
    return +found


def mllint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed command with an empty config, so no config of the checkout applies.

    Exit 0 (nothing to fail on) and 1 (findings) are both fine; anything else, or a traceback
    (which also exits 1), fails the test."""
    assert MLLINT is not None, "the mllint command is not installed (pip install -e .)"
    config = cwd / "empty-config.yaml"
    config.write_text("{}\n", encoding="utf-8")
    run = subprocess.run(
        [MLLINT, "--config", str(config), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode in (0, 1), (
        f"mllint {' '.join(args)} exited {run.returncode}:\n{run.stderr}"
    )
    assert "Traceback" not in run.stderr, f"mllint {' '.join(args)} crashed:\n{run.stderr}"
    return run


def findings(rule: Rule, file: Path, tmp_path: Path) -> Counter[int]:
    """Line number -> how many times `rule` is reported there when only it is selected."""
    run = mllint("--select", rule.code, "--format", "json", str(file), cwd=tmp_path)
    report = json.loads(run.stdout)
    summary = report["summary"]
    assert summary["unreadable_files"] == 0, f"{file} is not readable YAML:\n{run.stdout}"
    assert summary["objects"] > 0, f"{file} holds no Kubernetes object"
    return Counter(f["line"] for f in report["findings"] if f["code"] == rule.code)


def fixture(rule: Rule, name: str) -> Path:
    path = FIXTURES / rule.code / name
    assert path.is_file(), f"{path} is missing; every fixture folder holds bad.yaml and good.yaml"
    return path


def comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    rest = iter(haystack)
    return all(any(n == h for h in rest) for n in needles)


def documents(text: str) -> list[Any]:
    return list(yaml.safe_load_all(text))


def test_every_rule_has_a_fixture_folder() -> None:
    """Fails, naming them, while some rule has no tests/rules/fixtures/<CODE>/ folder."""
    missing = [f"{r.code} ({r.name})" for r in CHECKED if not (FIXTURES / r.code).is_dir()]
    assert not missing, (
        "rules with no fixture folder (add tests/rules/fixtures/<CODE>/bad.yaml, good.yaml, and "
        "fixed.yaml for a rule with a fix): " + ", ".join(missing)
    )


def test_every_fixture_folder_names_a_rule() -> None:
    codes = {r.code for r in CHECKED}
    strays = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name not in codes)
    assert not strays, f"fixture folders that name no checked rule: {', '.join(strays)}"


@pytest.mark.parametrize("rule", WITH_FIXTURES, ids=lambda r: r.code)
class TestRule:
    def test_bad_is_reported_on_the_marked_lines(self, rule: Rule, tmp_path: Path) -> None:
        bad = fixture(rule, "bad.yaml")
        expected = expected_lines(bad, rule.code)
        assert expected, f"{bad} marks no line with '# expect: {rule.code}'"
        found = findings(rule, bad, tmp_path)
        assert found == expected, (
            f"{bad}: reported {dict(sorted(found.items()))} (line: count), "
            f"marked {dict(sorted(expected.items()))}"
        )

    def test_good_is_not_reported(self, rule: Rule, tmp_path: Path) -> None:
        good = fixture(rule, "good.yaml")
        assert not expected_lines(good, rule.code), f"{good} has '# expect:' markers"
        found = findings(rule, good, tmp_path)
        assert not found, f"{good}: {rule.code} reported on lines {sorted(found)}"

    def test_fixed_is_present_exactly_when_the_rule_has_a_fix(self, rule: Rule) -> None:
        fixed = FIXTURES / rule.code / "fixed.yaml"
        assert fixed.is_file() == rule.fixable, (
            f"{rule.code} {'has' if rule.fixable else 'has no'} fix, "
            f"so {fixed} {'must' if rule.fixable else 'must not'} exist"
        )

    def test_fix_gives_fixed_and_keeps_comments(self, rule: Rule, tmp_path: Path) -> None:
        fixed = FIXTURES / rule.code / "fixed.yaml"
        if not fixed.is_file():
            pytest.skip(f"{rule.code} has no fixed.yaml")
        bad_text = fixture(rule, "bad.yaml").read_text(encoding="utf-8")
        target = tmp_path / "bad.yaml"
        target.write_text(bad_text, encoding="utf-8")
        flags = ["--select", rule.code, "--fix"]
        if rule.fix_safety is Safety.UNSAFE:
            flags.append("--unsafe-fixes")

        mllint(*flags, str(target), cwd=tmp_path)
        result = target.read_text(encoding="utf-8")
        assert documents(result) == documents(fixed.read_text(encoding="utf-8")), (
            f"--fix on bad.yaml does not give {fixed}; it gives:\n{result}"
        )
        kept = comment_lines(result)
        assert is_subsequence(comment_lines(bad_text), kept), (
            f"--fix lost or reordered comment lines of bad.yaml; the result:\n{result}"
        )

        mllint(*flags, str(target), cwd=tmp_path)
        assert target.read_text(encoding="utf-8") == result, "a second --fix changed the file"

    def test_docs_page_is_current(self, rule: Rule) -> None:
        page = ROOT / docgen.DOCS_DIR / f"{rule.code}.md"
        assert page.is_file(), f"{page} is missing; run `{docgen.COMMAND}`"
        assert page.read_text(encoding="utf-8") == docgen.render_page(rule, ROOT), (
            f"{page} is out of date; run `{docgen.COMMAND}`"
        )

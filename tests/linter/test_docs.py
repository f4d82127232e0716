"""`mllint rules`, `mllint rule NAME`, and the generated rule pages (docgen and its --check)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mllint.linter import docgen
from mllint.rules import (
    REGISTRY,
    Config,
    Engine,
    Role,
    Rule,
    Safety,
    Severity,
    Violation,
    parse_config,
)
from mllint.rules.model import ConfigModel, RuleOptions, dataclass_fields, kebab, option
from mllint.rules.workload import Scope

ROOT = Path(__file__).resolve().parents[2]
Runner = Callable[..., subprocess.CompletedProcess[str]]


def docgen_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mllint.linter.docgen", "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# `mllint rules` and `mllint rule`


def test_rules_text_lists_every_rule(mllint: Runner) -> None:
    result = mllint("rules")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()[1:]
    assert [row.split()[:2] for row in rows] == [[r.code, r.name] for r in REGISTRY.rules]
    for row, r in zip(rows, REGISTRY.rules, strict=True):
        assert r.summary in row
        assert row.split()[2] == r.severity.value


def _defaults(options: type[RuleOptions]) -> dict[str, Any]:
    value = options()
    return {kebab(f.name): json_default(getattr(value, f.name)) for f in dataclass_fields(value)}


def json_default(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def test_rules_json_carries_the_metadata_and_options(mllint: Runner) -> None:
    result = mllint("rules", "--format", "json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [item["code"] for item in listed] == [r.code for r in REGISTRY.rules]
    for item, r in zip(listed, REGISTRY.rules, strict=True):
        assert item["name"] == r.name
        assert item["severity"] == r.severity.value
        assert item["fix"] == (r.fix_safety.value if r.fix_safety else None)
        assert item["url"] == r.url
        assert item["meta"] == r.meta
        assert {o["name"]: o["default"] for o in item["options"]} == _defaults(r.options)


def test_rules_markdown_is_a_table_linking_every_page(mllint: Runner) -> None:
    result = mllint("rules", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| [")]
    assert len(rows) == len(REGISTRY.rules)
    for row, r in zip(rows, REGISTRY.rules, strict=True):
        assert row.startswith(f"| [{r.code}]({r.url}) | `{r.name}` |")


def test_rule_by_code_name_or_lower_case_code(mllint: Runner) -> None:
    r = REGISTRY.rules[-1]
    outputs = [mllint("rule", key) for key in (r.code, r.name, r.code.lower())]
    assert all(o.returncode == 0 for o in outputs), [o.stderr for o in outputs]
    assert outputs[0].stdout == outputs[1].stdout == outputs[2].stdout
    text = outputs[0].stdout
    assert text.startswith(f"{r.code} {r.name}: {r.summary}\n")
    assert r.url in text
    assert r.docs.splitlines()[0] in text


def test_rule_json_holds_the_docs(mllint: Runner) -> None:
    r = REGISTRY.rules[0]
    result = mllint("rule", r.code, "--format", "json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["code"], shown["name"], shown["docs"]) == (r.code, r.name, r.docs)


def test_rule_markdown_has_the_metadata_and_docs(mllint: Runner) -> None:
    r = REGISTRY.rules[0]
    result = mllint("rule", r.name, "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"# {r.code}: {r.name}\n")
    assert f"| Default severity | {r.severity.value} |" in result.stdout
    assert r.docs in result.stdout


def test_unknown_rule_suggests_the_closest(mllint: Runner) -> None:
    name = next(r.name for r in REGISTRY.rules if not r.meta)
    result = mllint("rule", name[:-1])
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"unknown rule {name[:-1]!r}; did you mean {name!r}?" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rule"], "the following arguments are required: NAME-OR-CODE"),
        (["rules", "--format", "xml"], "invalid choice: 'xml'"),
        (["rule", "ML101", "extra"], "unrecognized arguments: extra"),
        (["rule", "no-such-rule-at-all"], "unknown rule 'no-such-rule-at-all'"),
    ],
)
def test_catalog_usage_errors_exit_2(mllint: Runner, args: list[str], message: str) -> None:
    result = mllint(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# Rendering one rule's page


class _Options(RuleOptions):
    max_count: int = option(5, "How many are too many.", ge=1)
    names: tuple[str, ...] = option(("a", "b"), "Names | that count.")
    level: Severity = option(Severity.INFO, "An enum.")
    limit: int | None = option(None, "Optional.")


def _check(scope: Scope, options: Any) -> Iterator[Violation]:
    yield from ()


DOCS = """\
## What it does
Flags a thing.

## Why is this bad?
Things break.

## Example
```yaml
## not a heading: inside a code block
a: 1
```

## Fix safety
Unsafe: it may change what runs.

## References
- [A reference](https://kubernetes.io/docs/)"""


def _rule(docs: str = DOCS, **changes: Any) -> Rule:
    fields: dict[str, Any] = {
        "code": "ML999",
        "name": "thing-flagged",
        "severity": Severity.WARNING,
        "summary": "A thing | flagged",
        "check": _check,
        "docs": docs,
        "roles": frozenset({Role.BATCH}),
        "workloads_only": True,
        "options": _Options,
        "fix_safety": Safety.UNSAFE,
    }
    return Rule(**(fields | changes))


BAD = """\
# A comment kept in the docs.
apiVersion: batch/v1
kind: Job
spec:  # expect: ML999
  script: |
    ```
    fenced in a block scalar
    ```
"""
FIXED = "apiVersion: batch/v1\nkind: Job\nspec:  # expect: ML999\n  x: 1\n"


def _fixtures(root: Path, code: str = "ML999", **files: str) -> None:
    folder = root / "tests" / "rules" / "fixtures" / code
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


def _sections(page: str) -> dict[str, str]:
    """The `## ` sections of a page (heading -> body), seen outside its code blocks."""
    found: dict[str, list[str]] = {}
    body: list[str] = []
    fence = ""
    for line in page.splitlines():
        run = re.match(r"`{3,}", line)
        if run and (not fence or run[0] == fence):
            fence = "" if fence else run[0]
        elif not fence and line.startswith("## "):
            body = found.setdefault(line[3:], [])
            continue
        body.append(line)
    return {heading: "\n".join(lines) for heading, lines in found.items()}


def test_page_has_metadata_docs_options_and_fixture_examples(tmp_path: Path) -> None:
    _fixtures(tmp_path, bad=BAD, good="apiVersion: v1\nkind: Pod\n", fixed=FIXED)
    page = docgen.render_page(_rule(), tmp_path)

    assert page.startswith("<!-- Generated from tests/rules/fixtures/ML999/ by ")
    assert "\n# ML999: thing-flagged\n\nA thing \\| flagged\n" in page
    assert "| Default severity | warning |" in page
    assert "| Fix | unsafe: `mllint --fix --unsafe-fixes` applies it |" in page
    assert "| Applies to | pods of batch workloads" in page
    sections = _sections(page)
    assert list(sections) == [
        "What it does",
        "Why is this bad?",
        "Example",
        "Options",
        "Fix safety",
        "References",
    ]

    example = sections["Example"]
    assert "## not a heading: inside a code block" in example
    # The block scalar holds a ``` fence, so the example needs a longer one around it.
    assert f"````yaml\n{BAD.rstrip()}\n````" in example
    assert "apiVersion: v1\nkind: Pod\n```" in example
    assert "After `mllint --fix --unsafe-fixes`" in example
    assert "spec:\n  x: 1\n```" in example, "fixed.yaml is shown without its expect markers"

    options = sections["Options"]
    assert "| `max-count` | integer (>= 1) | `5` | How many are too many. |" in options
    assert '| `names` | list of string | `["a", "b"]` | Names \\| that count. |' in options
    assert '| `level` | "error" \\| "warning" \\| "info" | `"info"` | An enum. |' in options
    assert "| `limit` | integer or null | `null` | Optional. |" in options
    config = re.search(r"```yaml\n(.*?)```", options, re.S)
    assert config is not None
    assert yaml.safe_load(config[1]) == {"rules": {"thing-flagged": _defaults(_Options)}}

    assert 'annotation `ignore-check.mllint.io/thing-flagged: "<reason>"`' in page
    assert all(line == line.rstrip() for line in page.splitlines())
    assert page.endswith(")).\n")


def test_page_without_fixtures_has_no_examples_section_added(tmp_path: Path) -> None:
    page = docgen.render_page(_rule(docs="## What it does\nFlags a thing."), tmp_path)
    assert "## Example" not in page
    assert "Test cases" not in page
    assert "Generated from the rule registry" in page


def test_examples_get_a_section_when_the_docstring_has_none(tmp_path: Path) -> None:
    _fixtures(tmp_path, bad=BAD, good="a: 1\n")
    docs = "## What it does\nFlags.\n\n## Why is this bad?\nBreaks.\n\n## References\n- x"
    page = docgen.render_page(_rule(docs=docs, options=RuleOptions), tmp_path)
    sections = _sections(page)
    assert list(sections) == ["What it does", "Why is this bad?", "Example", "References"]
    assert "| Options | none |" in page


def test_meta_and_off_by_default_rules(tmp_path: Path) -> None:
    page = docgen.render_page(
        _rule(meta=True, fix_safety=None, enabled_by_default=False, roles=frozenset()), tmp_path
    )
    assert "| Fix | none |" in page
    assert "| Enabled by default | no (`extend-select` it) |" in page
    assert "ignore-check.mllint.io" not in page, "meta findings cannot be suppressed that way"
    index = docgen.render_index([_rule(enabled_by_default=False)])
    assert "| [ML999](ML999.md) | `thing-flagged` | warning (off by default) | unsafe |" in index


# The generator and its --check


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A repository root holding a copy of the real fixtures and no docs yet."""
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    fixtures = ROOT / docgen.FIXTURES_DIR
    if fixtures.is_dir():
        shutil.copytree(fixtures, tmp_path / docgen.FIXTURES_DIR)
    return tmp_path


def test_generate_then_check(root: Path) -> None:
    missing = docgen_run(root, "--check")
    assert missing.returncode == 1
    assert f"docs/rules/{REGISTRY.rules[0].code}.md: missing" in missing.stderr

    written = docgen_run(root)
    assert written.returncode == 0, written.stderr
    pages = sorted(p.name for p in (root / docgen.DOCS_DIR).iterdir())
    assert pages == sorted([f"{r.code}.md" for r in REGISTRY.rules] + ["README.md"])
    assert docgen_run(root, "--check").returncode == 0

    again = docgen_run(root)
    assert (again.returncode, again.stdout) == (0, ""), "a second run rewrites nothing"


def test_check_names_each_stale_page_and_writes_nothing(root: Path) -> None:
    assert docgen_run(root).returncode == 0
    docs = root / docgen.DOCS_DIR
    edited, deleted = REGISTRY.rules[0].code, REGISTRY.rules[-1].code
    (docs / f"{edited}.md").write_text("hand-edited\n", encoding="utf-8")
    (docs / f"{deleted}.md").unlink()
    (docs / "ML000.md").write_text("a page of no rule\n", encoding="utf-8")

    check = docgen_run(root, "--check")
    assert check.returncode == 1
    assert check.stderr.splitlines() == [
        f"docs/rules/{edited}.md: out of date",
        f"docs/rules/{deleted}.md: missing",
        "docs/rules/ML000.md: names no rule",
        "docgen: 3 rule page(s) stale; run `python -m mllint.linter.docgen --root .` and "
        "commit them",
    ]
    assert (docs / f"{edited}.md").read_text(encoding="utf-8") == "hand-edited\n"

    fixed = docgen_run(root)
    assert fixed.returncode == 0, fixed.stderr
    assert sorted(fixed.stdout.splitlines()) == sorted(
        f"wrote docs/rules/{name}.md" for name in (edited, deleted, "ML000")
    )
    assert not (docs / "ML000.md").exists()
    assert docgen_run(root, "--check").returncode == 0


def test_index_links_every_rule_page(root: Path) -> None:
    assert docgen_run(root).returncode == 0
    index = (root / docgen.DOCS_DIR / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"^\| \[(ML\d+)\]\((ML\d+\.md)\)", index, re.M)
    assert [code for code, _ in links] == [r.code for r in REGISTRY.rules]
    assert all((root / docgen.DOCS_DIR / target).is_file() for _, target in links)


def test_root_must_be_the_repository(tmp_path: Path) -> None:
    result = docgen_run(tmp_path / "nowhere", "--check")
    assert result.returncode == 2
    assert "is not the repository root" in result.stderr
    assert "Traceback" not in result.stderr


def test_committed_rule_pages_are_current() -> None:
    """What CI runs: the pages in docs/rules/ match a fresh render."""
    result = docgen_run(ROOT, "--check")
    assert result.returncode == 0, result.stderr


# The hand-written guides


def _config_blocks(page: Path) -> list[tuple[str, str]]:
    """(language, text) of the code blocks of a guide that hold a whole, valid configuration
    (the examples of its Errors section are meant to be invalid)."""
    text = page.read_text(encoding="utf-8").split("\n## Errors\n")[0]
    blocks = re.findall(r"^```(yaml|toml)\n(.*?)^```", text, re.M | re.S)
    return [
        (lang, text) for lang, text in blocks if "# .mllint.yaml" in text or "[tool.mllint]" in text
    ]


def test_configuration_guide_error_examples_are_the_real_messages(
    mllint: Runner, tmp_path: Path
) -> None:
    """Each invalid configuration of the guide's Errors section, run as it says, gives the
    message the guide shows, in order."""
    errors = (
        (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").split("\n## Errors\n")[1]
    )
    configs = re.findall(r"^```(yaml|toml)\n(.*?)^```", errors, re.M | re.S)
    [shown] = re.findall(r"^```text\n(.*?)^```", errors, re.M | re.S)
    assert len(configs) == len(shown.splitlines()) >= 4
    job = (ROOT / "examples" / "good" / "training-job.yaml").read_text(encoding="utf-8")
    for (lang, config), expected in zip(configs, shown.splitlines(), strict=True):
        project = tmp_path / f"project-{len(list(tmp_path.iterdir()))}"
        (project / "manifests").mkdir(parents=True)
        (project / "manifests" / "job.yaml").write_text(job, encoding="utf-8")
        name = "pyproject.toml" if lang == "toml" else ".mllint.yaml"
        (project / name).write_text(config, encoding="utf-8")
        result = mllint("manifests/", cwd=project)
        assert result.returncode == 2
        assert result.stderr.splitlines() == [expected]


@pytest.mark.parametrize("guide", ["configuration.md", "suppression.md"])
def test_guide_config_examples_are_valid(guide: str) -> None:
    blocks = _config_blocks(ROOT / "docs" / guide)
    assert blocks, f"docs/{guide} shows no configuration"
    for lang, text in blocks:
        data = tomllib.loads(text)["tool"]["mllint"] if lang == "toml" else yaml.safe_load(text)
        Engine(parse_config(data, f"docs/{guide}"))


def _keys(model: type[ConfigModel]) -> set[str]:
    keys = set()
    hints = typing.get_type_hints(model)
    for f in dataclass_fields(model):
        keys.add(kebab(f.name))
        annotation = hints[f.name]
        for inner in typing.get_args(annotation) or (annotation,):
            if isinstance(inner, type) and issubclass(inner, ConfigModel):
                keys |= _keys(inner)
    return keys


def test_configuration_guide_shows_every_key() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    blocks = "\n".join(t for _, t in _config_blocks(ROOT / "docs" / "configuration.md"))
    used = set(re.findall(r"^\s*(?:- )?([a-z][a-z-]*):", blocks, re.M))
    missing = sorted(k for k in _keys(Config) if f"`{k}`" not in text or k not in used)
    assert not missing, f"docs/configuration.md does not both describe and show: {missing}"

"""Rule pages from the code: `docs/rules/<CODE>.md` for every rule, `docs/rules/README.md`,
and the rule table in the project README.

A page is built from the rule's metadata, its module docstring, the options model it declares
and its fixture files (`tests/rules/fixtures/<CODE>/bad.yaml`, `good.yaml`, `fixed.yaml`), so
the docs say what the code does. The fixtures live in the repository, not in the package, so the
generator is given the repository root:

    python -m mllint.linter.docgen --root .          # write the pages
    python -m mllint.linter.docgen --root . --check  # exit 1 naming stale pages; write nothing

The same metadata rendering serves `mllint rules` and `mllint rule NAME`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any, get_type_hints

import yaml
from pydantic import TypeAdapter
from pydantic_core import PydanticSerializationError

from mllint.rules import REGISTRY, Role, Rule, Safety
from mllint.rules.catalog import MODULES
from mllint.rules.model import dataclass_fields, kebab

DOCS_DIR = Path("docs", "rules")
FIXTURES_DIR = Path("tests", "rules", "fixtures")
INDEX = "README.md"
COMMAND = "python -m mllint.linter.docgen --root ."

EXPECT_MARKER = re.compile(r"[ \t]*#[ \t]*expect:[^#\n]*$", re.MULTILINE)
"""A fixture's `# expect: CODE` comment, which marks a line the rule reports."""

ROLE_TEXT = {
    Role.BATCH: "batch workloads (run to completion: Jobs, CronJobs, training jobs)",
    Role.SERVING: "serving workloads (long-running: Deployments, StatefulSets, model servers)",
    Role.DAEMON: "daemon workloads (one pod per node: DaemonSets)",
}


@dataclass(frozen=True)
class OptionInfo:
    """One option of a rule, as written in a config file."""

    name: str
    type: str
    default: Any
    required: bool
    description: str

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if not self.required:
            out["default"] = self.default
        out["required"] = self.required
        out["description"] = self.description
        return out


def options_of(rule: Rule) -> list[OptionInfo]:
    """The rule's options from its options dataclass: config key, type, default, description."""
    model = rule.options
    declared = dataclass_fields(model)  # first: pydantic reads the options as a dataclass
    schema = TypeAdapter(model).json_schema(by_alias=True, mode="validation")
    props: dict[str, Any] = schema.get("properties", {})
    defs: dict[str, Any] = schema.get("$defs", {})
    hints = get_type_hints(model)
    found = []
    for f in declared:
        key = kebab(f.name)
        prop = {**props.get(key, {}), **_limits(f.metadata)}
        required = f.default is MISSING and f.default_factory is MISSING
        default: Any = None
        if not required:
            value = f.default_factory() if f.default_factory is not MISSING else f.default
            default = _json_default(hints[f.name], value)
        found.append(
            OptionInfo(
                name=key,
                type=_schema_type(prop, defs),
                default=default,
                required=required,
                description=f.metadata.get("description") or prop.get("description", ""),
            )
        )
    return found


_SCHEMA_LIMITS = {
    "gt": "exclusiveMinimum",
    "ge": "minimum",
    "le": "maximum",
    "min_length": "minItems",
}


def _limits(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """An option's limits (`option(..., ge=1)`) as JSON schema keywords."""
    return {_SCHEMA_LIMITS[k]: v for k, v in metadata.items() if k in _SCHEMA_LIMITS}


def _json_default(annotation: Any, value: Any) -> Any:
    try:
        return TypeAdapter(annotation).dump_python(value, mode="json")
    except PydanticSerializationError:
        return repr(value)


_CONSTRAINTS = (
    ("minimum", ">= {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "<= {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("pattern", "matching `{}`"),
)


def _schema_type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short, readable name for a JSON schema: `integer (>= 0)`, `list of string`..."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**defs.get(ref.rsplit("/", 1)[-1], {}), **rest}
    if "enum" in schema:
        base = " | ".join(json.dumps(v) for v in schema["enum"])
    elif "const" in schema:
        base = json.dumps(schema["const"])
    elif isinstance(alternatives := schema.get("anyOf", schema.get("oneOf")), list):
        base = " or ".join(_schema_type(s, defs) for s in alternatives)
    elif schema.get("type") == "array":
        items = schema.get("items")
        base = f"list of {_schema_type(items, defs)}" if isinstance(items, dict) else "list"
    elif schema.get("type") == "object":
        values = schema.get("additionalProperties")
        base = f"mapping of {_schema_type(values, defs)}" if isinstance(values, dict) else "mapping"
    elif isinstance(schema.get("type"), str):
        base = schema["type"]
    else:
        base = "any"
    limits = [text.format(schema[key]) for key, text in _CONSTRAINTS if key in schema]
    return f"{base} ({', '.join(limits)})" if limits else base


def applies_to(rule: Rule) -> str:
    if rule.meta:
        return "reported by mllint itself while reading files and annotations, not per object"
    if rule.whole_set:
        return (
            "the objects of one `mllint` run taken together (not the admission webhook, "
            "which sees one object at a time)"
        )
    parts = []
    if rule.kinds:
        parts.append("objects of kind " + ", ".join(f"`{k}`" for k in sorted(rule.kinds)))
    if rule.roles:
        roles = sorted(rule.roles, key=lambda r: list(Role).index(r))
        parts.append("pods of " + " and ".join(ROLE_TEXT.get(r, f"{r} workloads") for r in roles))
    elif rule.workloads_only:
        parts.append("every workload (an object with pod templates)")
    return "; ".join(parts) if parts else "every object"


def fix_text(rule: Rule) -> str:
    if rule.fix_safety is Safety.SAFE:
        return "safe: `mllint --fix` applies it"
    if rule.fix_safety is Safety.UNSAFE:
        return "unsafe: `mllint --fix --unsafe-fixes` applies it"
    return "none"


def describe(rule: Rule) -> dict[str, Any]:
    """A rule's metadata as plain data (`mllint rules --format json`)."""
    return {
        "code": rule.code,
        "name": rule.name,
        "summary": rule.summary,
        "severity": rule.severity.value,
        "enabled_by_default": rule.enabled_by_default,
        "meta": rule.meta,
        "kinds": sorted(rule.kinds),
        "roles": sorted(r.value for r in rule.roles),
        "workloads_only": rule.workloads_only,
        "whole_set": rule.whole_set,
        "applies_to": _plain(applies_to(rule)),
        "fix": rule.fix_safety.value if rule.fix_safety else None,
        "options": [o.as_dict() for o in options_of(rule)],
        "url": rule.url,
    }


def _plain(markdown: str) -> str:
    return markdown.replace("`", "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rule_table(rules: Iterable[Rule], link: Callable[[Rule], str]) -> str:
    """The catalog as a Markdown table; `link` gives the page each code links to."""
    lines = ["| Code | Name | Severity | Fix | Summary |", "|---|---|---|---|---|"]
    for r in rules:
        severity = r.severity.value + ("" if r.enabled_by_default else " (off by default)")
        fix = r.fix_safety.value if r.fix_safety else ""
        lines.append(
            f"| [{r.code}]({link(r)}) | `{r.name}` | {severity} | {fix} | {_cell(r.summary)} |"
        )
    return "\n".join(lines) + "\n"


def source_of(rule: Rule) -> str | None:
    """The repository path of the module that declares the rule."""
    for module in MODULES:
        if getattr(module, "RULE", None) is rule:
            return module.__name__.removeprefix("mllint.").replace(".", "/") + ".py"
    return None


def _fence(text: str, lang: str = "yaml") -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def sections(docs: str) -> list[tuple[str, str]]:
    """The docstring split at its `## ` headings (outside code blocks): (heading, body)."""
    found: list[tuple[str, list[str]]] = [("", [])]
    fenced = False
    for line in docs.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            found.append((line[3:].strip(), []))
        else:
            found[-1][1].append(line)
    return [(h, "\n".join(body).strip()) for h, body in found if h or "\n".join(body).strip()]


def _examples(rule: Rule, root: Path) -> str:
    folder = root / FIXTURES_DIR / rule.code
    link = f"../../{FIXTURES_DIR.as_posix()}/{rule.code}"
    after = "`mllint --fix" + (" --unsafe-fixes`" if rule.fix_safety is Safety.UNSAFE else "`")
    parts = []
    for file, title in (
        ("bad.yaml", "Reported"),
        ("good.yaml", "Not reported"),
        ("fixed.yaml", f"After {after}"),
    ):
        path = folder / file
        if path.is_file():
            body = path.read_text(encoding="utf-8")
            if file == "fixed.yaml":
                # The fixed file keeps the markers of the lines it repaired; they no longer hold.
                body = EXPECT_MARKER.sub("", body)
            parts.append(f"{title} ([`{file}`]({link}/{file})):\n\n{_fence(body)}")
    if not parts:
        return ""
    intro = (
        f"From the rule's test fixtures; mllint reports `{rule.code}` on exactly the lines "
        f"marked `# expect: {rule.code}`."
    )
    return "### Test cases\n\n" + intro + "\n\n" + "\n\n".join(parts)


def _options_section(rule: Rule) -> str:
    options = options_of(rule)
    if not options:
        return ""
    rows = ["| Option | Type | Default | Description |", "|---|---|---|---|"]
    for o in options:
        default = "required" if o.required else f"`{json.dumps(o.default)}`"
        rows.append(f"| `{o.name}` | {_cell(o.type)} | {default} | {_cell(o.description)} |")
    example = {o.name: o.default for o in options if not o.required}
    config = yaml.safe_dump(
        {"rules": {rule.name: example}}, sort_keys=False, default_flow_style=False
    )
    return (
        "\n".join(rows)
        + "\n\nSet them in the configuration file ([configuration](../configuration.md)); "
        + "the values shown are the defaults:\n\n"
        + _fence("# .mllint.yaml\n" + config)
    )


def _usage(rule: Rule) -> str:
    select = (
        f"Select or ignore this rule as `{rule.code}` or `{rule.name}` "
        "([configuration](../configuration.md))"
    )
    if rule.meta:
        return select + "."
    return (
        select + "; suppress it on one object with the annotation "
        f'`ignore-check.mllint.io/{rule.name}: "<reason>"` ([suppression](../suppression.md)).'
    )


def metadata(rule: Rule) -> list[tuple[str, str]]:
    """The facts a rule's page opens with, as (label, Markdown) rows."""
    options = options_of(rule)
    return [
        ("Code", f"`{rule.code}`"),
        ("Name", f"`{rule.name}`"),
        ("Default severity", rule.severity.value),
        ("Enabled by default", "yes" if rule.enabled_by_default else "no (`extend-select` it)"),
        ("Applies to", applies_to(rule)),
        ("Fix", fix_text(rule)),
        ("Options", ", ".join(f"`{o.name}`" for o in options) if options else "none"),
    ]


def metadata_table(rows: Sequence[tuple[str, str]]) -> str:
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {_cell(v)} |" for k, v in rows)


def render_page(rule: Rule, root: Path) -> str:
    """The Markdown page of one rule; `root` is the repository root (for its fixtures)."""
    source = source_of(rule)
    fixtures = root / FIXTURES_DIR / rule.code
    origin = " and ".join(
        [
            *([source] if source else []),
            *([f"{FIXTURES_DIR.as_posix()}/{rule.code}/"] if fixtures.is_dir() else []),
        ]
    )
    meta = metadata(rule)
    if source:
        meta.append(("Source", f"[`{source}`](../../{source})"))
    head = [
        f"<!-- Generated from {origin or 'the rule registry'} by `{COMMAND}`. Do not edit. -->",
        f"# {rule.code}: {rule.name}",
        _cell(rule.summary),
        metadata_table(meta),
    ]
    parts = sections(rule.docs)
    headings = [h for h, _ in parts]
    examples, opts = _examples(rule, root), _options_section(rule)
    example = next((h for h in headings if h in ("Example", "Examples")), "Example")
    if examples and example not in headings:
        at = headings.index("Why is this bad?") + 1 if "Why is this bad?" in headings else None
        parts.insert(len(parts) if at is None else at, (example, ""))
        headings = [h for h, _ in parts]
    if opts:
        before = next((h for h in ("Fix safety", "References") if h in headings), None)
        at = headings.index(before) if before else len(parts)
        parts.insert(at, ("Options", opts))
    body = []
    for heading, text in parts:
        full = "\n\n".join(t for t in (text, examples if heading == example else "") if t)
        body.append(f"## {heading}\n\n{full}" if heading else full)
    page = "\n\n".join([*head, *body, _usage(rule)])
    return _tidy(page)


def render_index(rules: Sequence[Rule]) -> str:
    fixable = sum(r.fixable for r in rules)
    lines = [
        f"<!-- Generated from the rule registry by `{COMMAND}`. Do not edit. -->",
        "# Rules",
        f"mllint has {len(rules)} rules; {fixable} of them come with a fix. The severity shown is "
        "the default, which the `severity` key of the configuration changes "
        "([configuration](../configuration.md)). A `safe` fix is applied by `mllint --fix`, an "
        "`unsafe` one only with `--unsafe-fixes` as well. `mllint rules` prints this table and "
        "`mllint rule CODE` one rule's page.",
        rule_table(rules, lambda r: f"{r.code}.md"),
    ]
    return _tidy("\n\n".join(lines))


def _tidy(text: str) -> str:
    # Trailing whitespace would be stripped by editors and hooks, making the committed page
    # differ from a fresh render.
    return "\n".join(line.rstrip() for line in text.strip().splitlines()) + "\n"


README = Path("README.md")
TABLE_START, TABLE_END = "<!-- rules-table -->", "<!-- /rules-table -->"


def render_readme(text: str, rules: Sequence[Rule]) -> str:
    """The project README with the rule table between its markers brought up to date."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        return text
    table = rule_table(rules, lambda r: f"{DOCS_DIR.as_posix()}/{r.code}.md")
    return text[: start + len(TABLE_START)] + "\n" + table + text[end:]


def generate(root: Path, rules: Sequence[Rule] = REGISTRY.rules) -> dict[Path, str]:
    """Every page, keyed by its path relative to `root`: the rule pages, their index, and the
    rule table of the project README."""
    pages = {DOCS_DIR / f"{r.code}.md": render_page(r, root) for r in rules}
    pages[DOCS_DIR / INDEX] = render_index(rules)
    readme = root / README
    if readme.is_file():
        pages[README] = render_readme(readme.read_text(encoding="utf-8"), rules)
    return pages


def _differences(root: Path, pages: dict[Path, str]) -> list[tuple[Path, str]]:
    found = []
    for rel, text in pages.items():
        path = root / rel
        if not path.is_file():
            found.append((rel, "missing"))
        elif path.read_text(encoding="utf-8") != text:
            found.append((rel, "out of date"))
    folder = root / DOCS_DIR
    if folder.is_dir():
        for path in sorted(folder.glob("*.md")):
            if path.relative_to(root) not in pages:
                found.append((path.relative_to(root), "names no rule"))
    return found


def stale(root: Path, pages: dict[Path, str]) -> list[str]:
    """Pages that are missing or differ from a fresh render, and Markdown files left over."""
    return [f"{rel.as_posix()}: {why}" for rel, why in _differences(root, pages)]


def write(root: Path, pages: dict[Path, str]) -> list[str]:
    """Write the pages that changed and delete left-over ones; the paths touched."""
    touched = []
    for rel, _ in _differences(root, pages):
        path = root / rel
        if rel in pages:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(pages[rel], encoding="utf-8", newline="\n")
        else:
            path.unlink()
        touched.append(rel.as_posix())
    return touched


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mllint.linter.docgen",
        description="Generate docs/rules/*.md from the rule registry and the test fixtures.",
    )
    parser.add_argument("--root", type=Path, required=True, help="the repository root")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a page is stale"
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    if not (root / "pyproject.toml").is_file():
        print(
            f"docgen: {root} is not the repository root (it has no pyproject.toml)",
            file=sys.stderr,
        )
        return 2
    pages = generate(root)
    if args.check:
        problems = stale(root, pages)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(
                f"docgen: {len(problems)} rule page(s) stale; run `{COMMAND}` and commit them",
                file=sys.stderr,
            )
            return 1
        return 0
    for rel in write(root, pages):
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

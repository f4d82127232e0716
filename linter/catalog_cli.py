"""`mllint rules` and `mllint rule NAME-OR-CODE`: the catalog, from the rules' own metadata.

Exit codes: 0 printed, 2 usage errors (an unknown rule, a bad option).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from mllint.linter import configfile, docgen
from mllint.rules import REGISTRY, ConfigError, Rule
from mllint.rules.config import closest
from mllint.rules.engine import Registry, team_rules

EXIT_OK, EXIT_USAGE = 0, 2
FORMATS = ("text", "json", "markdown")


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message}")


def _parser(command: str) -> argparse.ArgumentParser:
    if command == "rules":
        p = _Parser(prog="mllint rules", description="List every rule mllint has.")
    else:
        p = _Parser(prog="mllint rule", description="Show one rule: its metadata and its docs.")
        p.add_argument("rule", metavar="NAME-OR-CODE", help="a rule code (ML101) or name")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="config file whose team rules to show too (default: nearest .mllint.yaml or "
        "pyproject.toml)",
    )
    return p


def _registry(explicit: str | None) -> Registry:
    """Built-in rules and the team rules of the configuration."""
    extra = team_rules(configfile.resolve(explicit).config)
    return Registry([*REGISTRY.rules, *extra]) if extra else REGISTRY


def main(command: str, argv: Sequence[str]) -> int:
    try:
        args = _parser(command).parse_args(list(argv))
    except _UsageError as exc:
        print(f"{exc}\nTry 'mllint {command} --help'.", file=sys.stderr)
        return EXIT_USAGE
    try:
        registry = _registry(args.config)
    except ConfigError as exc:
        print(f"mllint {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if command == "rules":
        sys.stdout.write(_list(registry.rules, args.format))
        return EXIT_OK
    found = registry.get(args.rule)
    if found is None:
        ids = [r.code for r in registry.rules] + [r.name for r in registry.rules]
        print(
            f"mllint rule: unknown rule {args.rule!r}{closest(args.rule, ids)}\n"
            "Run 'mllint rules' to list every rule.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    sys.stdout.write(_show(found, args.format))
    return EXIT_OK


def _list(rules: Sequence[Rule], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([docgen.describe(r) for r in rules], indent=2) + "\n"
    if fmt == "markdown":
        return docgen.rule_table(rules, lambda r: r.url)
    rows = [("Code", "Name", "Severity", "Fix", "Summary")]
    for r in rules:
        summary = r.summary + ("" if r.enabled_by_default else " (off by default)")
        fix = r.fix_safety.value if r.fix_safety else "-"
        rows.append((r.code, r.name, r.severity.value, fix, summary))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)), row[4]])
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def _show(rule: Rule, fmt: str) -> str:
    if fmt == "json":
        return json.dumps({**docgen.describe(rule), "docs": rule.docs}, indent=2) + "\n"
    if fmt == "markdown":
        table = docgen.metadata_table(docgen.metadata(rule))
        return f"# {rule.code}: {rule.name}\n\n{rule.summary}\n\n{table}\n\n{rule.docs}\n"
    lines = [
        f"{rule.code} {rule.name}: {rule.summary}",
        "",
        f"Default severity:    {rule.severity.value}",
        f"Enabled by default:  {'yes' if rule.enabled_by_default else 'no'}",
        f"Applies to:          {docgen.applies_to(rule).replace('`', '')}",
        f"Fix:                 {docgen.fix_text(rule).replace('`', '')}",
    ]
    options = docgen.options_of(rule)
    if options:
        lines.append("Options:")
        for o in options:
            default = "required" if o.required else f"default {json.dumps(o.default)}"
            lines.append(f"  {o.name} ({o.type}; {default}): {o.description}")
    if rule.origin:
        lines.append(f"Defined in:          {rule.origin}")
    if rule.url:
        lines.append(f"Docs:                {rule.url}")
    lines += ["", rule.docs]
    return "\n".join(lines).rstrip() + "\n"

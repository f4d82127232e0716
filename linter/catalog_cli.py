"""`mllint rules` and `mllint rule NAME`: the catalog, from the rules' own metadata."""

from __future__ import annotations

import sys

from mllint.rules import REGISTRY


def main(command: str, argv: list[str]) -> int:
    if command == "rules":
        for r in REGISTRY.rules:
            print(f"{r.code}  {r.name:32} {r.severity.value:8} {r.summary}")
        return 0
    if not argv:
        print("mllint rule: give a rule name or code", file=sys.stderr)
        return 2
    found = REGISTRY.get(argv[0])
    if found is None:
        print(f"mllint rule: unknown rule {argv[0]!r}", file=sys.stderr)
        return 2
    print(f"# {found.code} {found.name}\n\n{found.docs}")
    return 0

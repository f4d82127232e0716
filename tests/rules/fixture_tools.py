"""Reading rule fixtures: documents with their node trees, the lines findings are shown on, and
the `# expect: CODE` markers that announce them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from mllint.rules import Rule
from mllint.rules import pointer as jp

FIXTURES = Path(__file__).parent / "fixtures"
COMMENT = re.compile(r"(?:^|\s)(#.*)$")
MARKER = re.compile(r"#\s*expect:(?P<codes>[^#\n]*)$")


def by_code(rule: Rule) -> str:
    return rule.code


def documents(path: Path) -> list[tuple[Any, yaml.Node]]:
    """(object, node tree) of each document, the nodes to map pointers to lines."""
    text = path.read_text()
    return list(zip(yaml.safe_load_all(text), yaml.compose_all(text), strict=True))


def line_of(node: yaml.Node, pointer: str) -> int:
    """The 1-based line a finding at `pointer` is shown on: the key's line for a member, the
    item's first line for a list item."""
    line = node.start_mark.line
    for token in jp.split(pointer):
        if isinstance(node, yaml.MappingNode):
            key, node = next((k, v) for k, v in node.value if k.value == token)
            line = key.start_mark.line
        else:
            node = node.value[int(token)]
            line = node.start_mark.line
    return line + 1


def marks(path: Path) -> list[tuple[int, str]]:
    """(line, code) of each finding the `# expect: CODE` markers announce (`CODE, CODE`: two)."""
    found = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        match = MARKER.search(text.rstrip())
        if match:
            found += [(number, c.strip()) for c in match["codes"].split(",") if c.strip()]
    return sorted(found)


def marked_lines(path: Path, code: str) -> list[int]:
    return [number for number, marked in marks(path) if marked == code]


def comments(path: Path) -> list[str]:
    return [m.group(1) for m in map(COMMENT.search, path.read_text().splitlines()) if m]

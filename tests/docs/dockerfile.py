"""Reading the repository's Dockerfile and .dockerignore, for the tests that check the image
against deploy/ and run its install steps."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stage:
    base: str
    name: str | None
    copies: list[tuple[list[str], str, str | None]] = field(default_factory=list)
    """(sources, destination, --from stage) of each COPY."""
    runs: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    entrypoint: list[str] | None = None
    workdir: str = "/"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages(path: Path = ROOT / "Dockerfile") -> list[Stage]:
    args: dict[str, str] = {}
    found: list[Stage] = []
    for word, rest in instructions(path.read_text(encoding="utf-8")):
        if word == "ARG" and not found:
            name, _, default = rest.partition("=")
            args[name] = default
        elif word == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            found.append(Stage(base, name))
        elif word == "COPY":
            words = shlex.split(rest)
            source_stage = None
            if words[0].startswith("--from="):
                source_stage = words.pop(0).removeprefix("--from=")
            found[-1].copies.append((words[:-1], words[-1], source_stage))
        elif word == "RUN":
            found[-1].runs.append(rest)
        elif word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                found[-1].env[key] = value
        elif word == "USER":
            found[-1].user = rest
        elif word == "ENTRYPOINT":
            found[-1].entrypoint = json.loads(rest)
        elif word == "WORKDIR":
            found[-1].workdir = rest
    return found


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves a file out of the build context (the last matching pattern
    decides; `!` keeps; a pattern matching a folder matches what is in it)."""
    parts = relative.split("/")
    result = False
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for line in patterns:
        keep = line.startswith("!")
        pattern = line.removeprefix("!").rstrip("/")
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatchcase(p, pattern[3:]) for p in parts)
        else:
            hit = any(fnmatch.fnmatchcase(p, pattern) for p in prefixes)
        if hit:
            result = not keep
    return result


def ignore_patterns(path: Path = ROOT / ".dockerignore") -> list[str]:
    return [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]

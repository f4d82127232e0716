"""Report formats. Every format shows every finding; `--fail-on` only sets the exit code."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mllint.linter.lint import FileReport, Located, relative
from mllint.rules import Rule, Severity


@dataclass
class Run:
    """Everything a format needs: the findings in order and what was read."""

    findings: list[Located]
    files: int
    documents: int
    objects: int
    skipped: int
    failed_files: int
    fail_on: Severity
    rules: tuple[Rule, ...]
    fixed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, reports: list[FileReport], fail_on: Severity, rules: tuple[Rule, ...], fixed: int = 0
    ) -> Run:
        findings = [f for r in reports for f in r.findings]
        findings.sort(key=lambda f: (f.file, f.line, f.column, f.finding.code))
        return cls(
            findings,
            len(reports),
            sum(r.documents for r in reports),
            sum(r.objects for r in reports),
            sum(r.skipped for r in reports),
            sum(r.failed for r in reports),
            fail_on,
            rules,
            fixed,
        )

    @property
    def by_severity(self) -> Counter[str]:
        return Counter(f.finding.severity.value for f in self.findings)

    @property
    def failing(self) -> bool:
        return any(f.finding.severity.rank >= self.fail_on.rank for f in self.findings)

    def summary(self) -> dict[str, Any]:
        sev = self.by_severity
        return {
            "files": self.files,
            "documents": self.documents,
            "objects": self.objects,
            "skipped_documents": self.skipped,
            "unreadable_files": self.failed_files,
            "findings": len(self.findings),
            "errors": sev.get("error", 0),
            "warnings": sev.get("warning", 0),
            "info": sev.get("info", 0),
            "fixable": sum(f.finding.fixable for f in self.findings),
            "fixed": self.fixed,
            "fail_on": self.fail_on.value,
            "failed": self.failing,
        }


_COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def text(run: Run, color: bool = False) -> str:
    lines = []
    for f in run.findings:
        fd = f.finding
        where = _paint(f"{relative(f.file)}:{f.line}:{f.column}:", "1", color)
        code = _paint(fd.code, _COLORS[fd.severity], color)
        fixable = " [*]" if fd.fixable else ""
        lines.append(f"{where} {code}{fixable} {fd.message} ({fd.rule})")
    lines.append(_summary_line(run))
    return "\n".join(lines) + "\n"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary_line(run: Run) -> str:
    sev = run.by_severity
    parts = [
        f"Found {_plural(len(run.findings), 'finding')}"
        f" ({_plural(sev.get('error', 0), 'error')}, {_plural(sev.get('warning', 0), 'warning')},"
        f" {sev.get('info', 0)} info)",
        f"in {_plural(run.files, 'file')}, {_plural(run.objects, 'object')}",
    ]
    if run.skipped:
        parts.append(f"{_plural(run.skipped, 'document')} skipped (not Kubernetes objects)")
    fixable = sum(f.finding.fixable for f in run.findings)
    if run.fixed:
        parts.append(f"fixed {_plural(run.fixed, 'file')}")
    if fixable:
        parts.append(f"{fixable} fixable with --fix")
    return "; ".join(parts) + "."


def as_json(run: Run, color: bool = False) -> str:
    out = {
        "findings": [
            {
                "rule": f.finding.rule,
                "code": f.finding.code,
                "severity": f.finding.severity.value,
                "message": f.finding.message,
                "file": relative(f.file),
                "line": f.line,
                "column": f.column,
                "pointer": f.finding.pointer,
                "kind": f.finding.kind,
                "name": f.finding.name,
                "namespace": f.finding.namespace,
                "fixable": f.finding.fixable,
            }
            for f in run.findings
        ],
        "summary": run.summary(),
    }
    return json.dumps(out, indent=2) + "\n"


Formatter = Callable[[Run, bool], str]

FORMATS: dict[str, Formatter] = {"text": text, "json": as_json}

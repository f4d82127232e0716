"""From an object's findings to an admission answer: each finding's enforcement action, and the
words of the denial, the warnings and the audit annotations, within the API server's limits.

- A denial's `status.message` names every rule, the field path, what to do and the rule's page.
- Warnings should stay within 120 characters (k8s.io/api admission/v1 `AdmissionResponse.warnings`)
  and the API server truncates them past 4 KiB in all, so they are cut, deduplicated and bounded
  here, where the cut can be said in words.
- Audit annotation keys are prefixed by the API server with the webhook's name and must then form
  a qualified name (`<webhook-name>/<key>`), so each key is a single name segment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mllint.rules import Finding, Severity
from mllint.rules import pointer as jp
from mllint.rules.engine import Registry
from mllint.webhook.settings import Action

WARNING_MAX_CHARS = 120
WARNINGS_MAX_BYTES = 4096
DENIAL_MAX_FINDINGS = 20
ANNOTATION_KEY_MAX = 63
ANNOTATION_VALUE_MAX = 1024

DEFAULT_ACTIONS: Mapping[Severity, Action] = {
    Severity.ERROR: Action.DENY,
    Severity.WARNING: Action.WARN,
    Severity.INFO: Action.AUDIT,
}

_ANNOTATION_KEY = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class Judged:
    finding: Finding
    action: Action


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    judged: list[Judged] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The decision as a metrics label: deny, warn or allow."""
        if not self.allowed:
            return "deny"
        return "warn" if self.warnings else "allow"

    def response(self) -> dict[str, Any]:
        """The AdmissionResponse fields, all but `uid`."""
        out: dict[str, Any] = {"allowed": self.allowed}
        if not self.allowed:
            out["status"] = {
                "status": "Failure",
                "code": 403,
                "reason": "Forbidden",
                "message": self.message,
            }
        if self.warnings:
            out["warnings"] = self.warnings
        if self.annotations:
            out["auditAnnotations"] = self.annotations
        return out


class Policy:
    """Enforcement actions per rule, and the global audit mode that turns every action into
    `audit`."""

    def __init__(
        self, registry: Registry, enforcement: Mapping[str, Action], *, audit_mode: bool = False
    ) -> None:
        self.registry = registry
        self.audit_mode = audit_mode
        # A team rule's own enforcement, then the webhook's configuration over it.
        self._by_rule = {r.name: Action(r.enforcement) for r in registry.rules if r.enforcement}
        self._by_rule |= {
            registry.lookup(key, "enforcement").name: Action(action)
            for key, action in enforcement.items()
        }

    def action(self, finding: Finding) -> Action:
        if self.audit_mode:
            return Action.AUDIT
        return self._by_rule.get(finding.rule) or DEFAULT_ACTIONS[finding.severity]

    def decide(self, findings: Sequence[Finding], subject: str) -> Decision:
        if not findings:
            return Decision(allowed=True)  # the usual answer, without the work below
        judged = [Judged(f, self.action(f)) for f in findings]
        denied = [j.finding for j in judged if j.action is Action.DENY]
        warned = [j.finding for j in judged if j.action is Action.WARN]
        audited = [j.finding for j in judged if j.action is Action.AUDIT]
        return Decision(
            allowed=not denied,
            message=self.denial(denied, subject) if denied else "",
            warnings=warnings(warned, self.registry),
            annotations=audit_annotations(audited),
            judged=judged,
        )

    def denial(self, findings: Sequence[Finding], subject: str) -> str:
        count = len(findings)
        lines = [f"{subject} breaks mllint rules ({count} problem{'s' if count != 1 else ''}):"]
        for f in findings[:DENIAL_MAX_FINDINGS]:
            rule = self.registry.get(f.code)
            line = f"- {f.code} {f.rule} at {field_path(f.pointer)}: {f.message}"
            if f.fixable:
                line += " (fixable: mllint --fix)"
            if rule is not None and rule.url:
                line += f"; see {rule.url}"
            lines.append(line)
        if count > DENIAL_MAX_FINDINGS:
            lines.append(f"- and {count - DENIAL_MAX_FINDINGS} more; run mllint on the manifest")
        return "\n".join(lines)


def field_path(pointer: str) -> str:
    """A finding's place as kubectl users read it; the whole object when the pointer is empty."""
    if not pointer:
        return "the object"
    try:
        return jp.to_field_path(pointer)
    except ValueError:
        return pointer


def clip(text: str, limit: int) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


WARNING_HEAD_MAX = 90
"""The most of a warning the rule code and field path take; a longer path keeps its end, the
most specific part, so that the message still has room."""


def warning(finding: Finding, summary: str) -> str:
    """`mllint CODE at FIELD: message` in at most 120 characters.

    The code and the field path are always kept (a long path by its end); a long message is cut
    at a word with "...". The rule's summary stands in only for a finding without a message.
    """
    path = _CONTROL.sub(" ", field_path(finding.pointer))
    head = f"mllint {finding.code} at {path}: "
    if len(head) > WARNING_HEAD_MAX:
        keep = WARNING_HEAD_MAX - len(f"mllint {finding.code} at ...: ")
        head = f"mllint {finding.code} at ...{path[-keep:]}: "
    message = _CONTROL.sub(" ", finding.message).strip() or summary
    room = WARNING_MAX_CHARS - len(head)
    if len(message) <= room:
        return head + message
    cut = message[: room - 3]
    if " " in cut[room // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return head + cut.rstrip(" ,;:") + "..."


def warnings(findings: Sequence[Finding], registry: Registry) -> list[str]:
    """One warning per finding: at most 120 characters, deduplicated, together under 4 KiB."""
    texts = list(dict.fromkeys(warning(f, _summary(registry, f)) for f in findings))
    out: list[str] = []
    used = 0
    for index, text in enumerate(texts):
        size = len(text.encode())
        rest = len(texts) - index - 1
        # Room is kept for the line that says how many were left out, unless none would be.
        reserve = 0 if rest == 0 else len(_more(len(texts)).encode())
        if used + size + reserve >= WARNINGS_MAX_BYTES:
            out.append(_more(len(texts) - index))
            break
        out.append(text)
        used += size
    return out


def _summary(registry: Registry, finding: Finding) -> str:
    rule = registry.get(finding.code)
    return rule.summary if rule is not None else ""


def _more(count: int) -> str:
    return f"mllint: {count} more warning{'s' if count != 1 else ''} not shown; run mllint on it"


def annotation_key(name: str) -> str:
    """A single-segment qualified name (the API server adds `<webhook-name>/` in front)."""
    key = re.sub(r"[^-A-Za-z0-9_.]", "-", name)[:ANNOTATION_KEY_MAX].strip("-_.")
    return key if _ANNOTATION_KEY.match(key) else "finding"


def audit_annotations(findings: Sequence[Finding]) -> dict[str, str]:
    """One audit annotation per rule: its findings' places and messages."""
    grouped: dict[str, list[str]] = {}
    for f in findings:
        grouped.setdefault(annotation_key(f.rule), []).append(
            f"{field_path(f.pointer)}: {f.message}"
        )
    return {key: clip("; ".join(items), ANNOTATION_VALUE_MAX) for key, items in grouped.items()}

"""Admission of one request: what is not judged (operations, exemptions, objects a controller
made and sent), what the engine finds, and the answer of /validate and /mutate.

Synchronous and free of HTTP, so the server can run it in a worker thread under the request's
time budget. The engine is the linter's: /mutate returns exactly the operations `mllint --fix`
applies (`rules.engine.fix_ops`), limited to the rules configured to mutate.
"""

from __future__ import annotations

import base64
import datetime
import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mllint.rules import Engine, fix_ops
from mllint.webhook.admission import Review
from mllint.webhook.decisions import Judged, Policy, clip
from mllint.webhook.settings import FailureMode, WebhookSettings, load_rules_config

NOT_JUDGED = ("DELETE", "CONNECT")


@dataclass(frozen=True, slots=True)
class Outcome:
    response: dict[str, Any]
    """The AdmissionResponse fields, all but `uid`."""
    decision: str
    """allow, warn, deny, patch, skip or error: for metrics and logs."""
    judged: list[Judged] = field(default_factory=list)
    patch_ops: int = 0
    reason: str = ""
    """Why the object was skipped, or what went wrong."""


ALLOW: dict[str, Any] = {"allowed": True}


class Admission:
    """Everything an admission needs, built once at start-up."""

    def __init__(self, settings: WebhookSettings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.policy = Policy(engine.registry, settings.enforcement, audit_mode=settings.audit_mode)
        registry = engine.registry
        chosen = {r.name for s in settings.mutate for r in registry.matching(s, "mutate")}
        dropped = {
            r.name for s in settings.mutate_ignore for r in registry.matching(s, "mutate-ignore")
        }
        self.mutating = frozenset(chosen - dropped)
        own = settings.own_namespace()
        self.exempt_namespaces = (*settings.exempt_namespaces, *((own,) if own else ()))
        self._exempt_namespace = Globs(self.exempt_namespaces)
        self._exempt_user = Globs(settings.exempt_users)
        self._exempt_group = Globs(settings.exempt_groups)
        self._controller_user = Globs(settings.controller_users)
        self._controller_group = Globs(settings.controller_groups)

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> Admission:
        """Raises ConfigError, worded for the user, on a bad configuration."""
        return cls(settings, Engine(load_rules_config(settings.config), today=datetime.date.today))

    def validate(self, review: Review) -> Outcome:
        obj = review.object()
        reason = self.skip_reason(review, obj)
        if reason or obj is None:
            return Outcome(ALLOW, "skip", reason=reason)
        findings = self.engine.evaluate(obj)
        decision = self.policy.decide(findings, describe(review, obj))
        return Outcome(decision.response(), decision.label, decision.judged)

    def mutate(self, review: Review) -> Outcome:
        obj = review.object()
        reason = self.skip_reason(review, obj)
        if not reason and self.settings.audit_mode:
            reason = "audit mode changes nothing"
        if reason or obj is None:
            return Outcome(ALLOW, "skip", reason=reason)
        findings = [f for f in self.engine.evaluate(obj) if f.rule in self.mutating]
        ops = fix_ops(obj, findings)
        if not ops:
            return Outcome(ALLOW, "allow")
        fixed = sorted({f.code for f in findings if f.fixable})
        response = {
            "allowed": True,
            "patchType": "JSONPatch",
            "patch": base64.b64encode(json.dumps(ops, separators=(",", ":")).encode()).decode(),
            "auditAnnotations": {"fixed": ", ".join(fixed)},
        }
        return Outcome(response, "patch", patch_ops=len(ops))

    def failure(self, detail: str) -> Outcome:
        """The answer when the object could not be evaluated, as the failure mode says."""
        if self.settings.failure_mode is FailureMode.OPEN:
            response: dict[str, Any] = {
                "allowed": True,
                "warnings": [clip(f"mllint could not check this object ({detail}); admitted", 120)],
                "auditAnnotations": {"error": clip(detail, 1024)},
            }
        else:
            response = {
                "allowed": False,
                "status": {
                    "status": "Failure",
                    "code": 500,
                    "reason": "InternalError",
                    "message": f"mllint could not check this object ({detail}) and fails closed: "
                    "retry, or ask a cluster admin to look at the mllint webhook's logs",
                },
            }
        return Outcome(response, "error", reason=detail)

    def skip_reason(self, review: Review, obj: Mapping[str, Any] | None) -> str:
        """Why this request is admitted without evaluation; empty when it is to be judged."""
        request = review.request
        if review.operation in NOT_JUDGED:
            return f"{review.operation} is not judged"
        if obj is None:
            return "no object"
        if request.get("subResource"):
            return f"subresource {request.get('subResource')} is not judged"
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        namespace = request.get("namespace") or meta.get("namespace")
        if isinstance(namespace, str) and self._exempt_namespace(namespace):
            return f"namespace {namespace} is exempt"
        user = request.get("userInfo")
        user = user if isinstance(user, dict) else {}
        username = user.get("username")
        if isinstance(username, str) and self._exempt_user(username):
            return f"user {username} is exempt"
        groups = user.get("groups")
        for group in groups if isinstance(groups, list) else ():
            if isinstance(group, str) and self._exempt_group(group):
                return f"group {group} is exempt"
        if meta.get("deletionTimestamp"):
            # Finalizers are removed by updates while an object is deleted: never block them.
            return "being deleted"
        if not self.settings.judge_controlled and _controlled(meta) and self._controller(user):
            return "made by a controller; its owner was judged"
        return ""

    def _controller(self, user: Mapping[str, Any]) -> bool:
        """Whether the request comes from a controller: an owner reference anyone can write, so
        only who sends the object says that a controller made it from a judged owner."""
        username = user.get("username")
        if isinstance(username, str) and self._controller_user(username):
            return True
        groups = user.get("groups")
        return any(
            isinstance(g, str) and self._controller_group(g)
            for g in (groups if isinstance(groups, list) else ())
        )


class Globs:
    """Globs (`fnmatch`) matched as one compiled pattern: every request is tested against the
    exempt namespaces and the controllers' names."""

    def __init__(self, patterns: Iterable[str]) -> None:
        either = "|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)
        self._match = re.compile(either).match if either else None

    def __call__(self, value: str) -> bool:
        return self._match is not None and self._match(value) is not None


def _controlled(meta: Mapping[str, Any]) -> bool:
    owners = meta.get("ownerReferences")
    return isinstance(owners, list) and any(
        isinstance(o, dict) and o.get("controller") is True for o in owners
    )


def describe(review: Review, obj: Mapping[str, Any]) -> str:
    """`Deployment ml/train`, as a denial names the object."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    name = meta.get("name") or meta.get("generateName") or review.request.get("name") or ""
    namespace = meta.get("namespace") or review.request.get("namespace") or ""
    kind = obj.get("kind") or review.kind or "object"
    where = f"{namespace}/{name}" if namespace else str(name)
    return f"{kind} {where}".strip()

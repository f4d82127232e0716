"""mllint's rules as ValidatingAdmissionPolicies and MutatingAdmissionPolicies: admission in the
API server itself, in CEL, with no webhook to run.

The CEL of each rule comes from `rules.cel`; this module adds what admission decides, in the
webhook's own vocabulary (`settings`): which kinds and operations a policy matches (the engine's
kinds, as the webhook configurations send them), the enforcement action of each rule
(deny → Deny, warn → Warn, audit → Audit), the exempt namespaces, users and groups, objects a
controller made, objects being deleted and suppression annotations (as `matchConditions`), the
rules whose safe fixes mutate, and the failure policy.
https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
https://kubernetes.io/docs/reference/access-authn-authz/mutating-admission-policy/
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mllint.rules import Engine, Finding, Safety, cel
from mllint.rules.engine import ActiveRule
from mllint.rules.workload import OTHER_KINDS
from mllint.webhook.config_objects import AdmissionKind, webhook_rules
from mllint.webhook.decisions import Policy
from mllint.webhook.settings import Action, FailureMode, WebhookSettings

API_VERSION = "admissionregistration.k8s.io/v1"
ACTIONS = {Action.DENY: "Deny", Action.WARN: "Warn", Action.AUDIT: "Audit"}
LABELS = {"app.kubernetes.io/name": "mllint", "app.kubernetes.io/component": "admission-policy"}
RULE_ANNOTATION = "mllint.io/rule"
NOT_COVERED_ANNOTATION = "mllint.io/not-covered"
"""On a policy covering some of the kinds its rule judges: the others, and why."""
UNDECIDED_ANNOTATION = "mllint.io/undecided"
"""On a policy that leaves some pods undecided (admitted without judging): which."""

Which = Literal["vap", "map"]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A rule left out of the export, and why."""

    code: str
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Export:
    objects: list[dict[str, Any]]
    """Each policy followed by its binding."""
    skipped: list[Skipped]
    covered: list[str]
    """Codes of the rules exported."""
    partial: list[Skipped]
    """Rules exported for some of the kinds they judge: the others, and why."""
    undecided: list[Skipped]
    """Rules exported for some of the pods they judge: the pods they leave alone."""


def failure_policy(settings: WebhookSettings) -> str:
    """The webhook's failure mode as a policy's: open → Ignore, closed → Fail."""
    return "Ignore" if settings.failure_mode is FailureMode.OPEN else "Fail"


def export(engine: Engine, settings: WebhookSettings, which: Which) -> Export:
    """The policies (`vap`: validating, `map`: mutating) for the engine's active rules under
    the webhook's settings, and the rules that cannot be exported."""
    objects: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    partial: list[Skipped] = []
    undecided: list[Skipped] = []
    exported: list[str] = []
    mutating = _mutating(engine, settings)
    for active in engine.active:
        rule = active.rule
        if which == "map":
            if rule.fix_safety is not Safety.SAFE:
                continue
            if settings.audit_mode or rule.name not in mutating:
                skipped.append(Skipped(rule.code, rule.name, "not configured to mutate"))
                continue
        try:
            translation = cel.translate(engine, active)
            covered = translation.kinds
            if which == "map":
                if translation.patch is None:
                    raise cel.NotExpressible(cel.FIX_REASONS.get(rule.code, cel.NOT_TRANSLATED))
                if translation.patch_kinds is not None:
                    covered = translation.patch_kinds
            kinds = [
                k for k in _kinds(engine, active) if covered is None or (k[0], k[3]) in covered
            ]
        except cel.NotExpressible as exc:
            skipped.append(Skipped(rule.code, rule.name, str(exc)))
            continue
        if not kinds:
            skipped.append(Skipped(rule.code, rule.name, "every kind it judges is excluded"))
            continue
        spec = _spec(engine, active, settings, kinds, translation)
        name = f"mllint-{rule.code.lower()}-{rule.name}"
        left_out = _left_out(translation, which)
        if left_out:
            partial.append(Skipped(rule.code, rule.name, "; ".join(left_out)))
        if translation.undecided is not None:
            undecided.append(Skipped(rule.code, rule.name, translation.undecided))
        meta = _metadata(name, active, left_out, translation.undecided)
        if which == "vap":
            objects += _validating(meta, active, action(engine, active, settings), spec)
        else:
            objects += _mutating_policy(meta, spec, translation)
        exported.append(rule.code)
    return Export(objects, skipped, exported, partial, undecided)


def _left_out(translation: cel.Translation, which: Which) -> list[str]:
    """The kinds the rule judges that the policy leaves out, with the reasons: those the
    translation does not cover, and for a mutating policy those its patch does not."""
    reasons = list(translation.left_out)
    if which == "map" and translation.kinds is not None and translation.patch_kinds is not None:
        for group, kind in sorted(translation.kinds - translation.patch_kinds):
            key = f"{group}/{kind}" if group else kind
            reasons.append(f"{key}: the fix's JSON Patch path needs a list index")
    return reasons


def _mutating(engine: Engine, settings: WebhookSettings) -> frozenset[str]:
    registry = engine.registry
    chosen = {r.name for s in settings.mutate for r in registry.matching(s, "mutate")}
    dropped = {
        r.name for s in settings.mutate_ignore for r in registry.matching(s, "mutate-ignore")
    }
    return frozenset(chosen - dropped)


def _kinds(engine: Engine, active: ActiveRule) -> list[AdmissionKind]:
    """The kinds the rule judges, in the versions the configuration does not exclude."""
    rule = active.rule
    if rule.kinds:
        known = [*engine.kinds, *OTHER_KINDS]
        found = [(k.group, k.versions, k.plural, k.kind) for k in known if k.kind in rule.kinds]
    elif rule.workloads_only:
        found = [(k.group, k.versions, k.plural, k.kind) for k in engine.kinds]
    else:
        raise cel.NotExpressible("judges objects of every kind")
    out = []
    for group, versions, plural, kind in found:
        kept = tuple(v for v in versions if not _excluded(engine, group, v, kind))
        if kept:
            out.append((group, kept, plural, kind))
    return sorted(out)


def _excluded(engine: Engine, group: str, version: str, kind: str) -> bool:
    """Whether the configuration's `exclude.kinds` names the kind (as `Engine.excluded`)."""
    api_version = f"{group}/{version}" if group else version
    names = {kind, f"{group}/{kind}" if group else kind, f"{api_version}/{kind}"}
    return any(fnmatch.fnmatchcase(n, p) for p in engine.config.exclude.kinds for n in names)


def _conditions(engine: Engine, active: ActiveRule, settings: WebhookSettings) -> list[Any]:
    """What the webhook does not judge (`review.Admission.skip_reason`) and what the engine
    leaves alone (`exclude`, suppression annotations), as match conditions."""
    conditions = []
    exempt = list(settings.exempt_namespaces)
    if settings.namespace:
        exempt.append(settings.namespace)
    if exempt:
        namespace = (
            "(has(request.namespace) && request.namespace != '' ? request.namespace : "
            "has(object.metadata) && has(object.metadata.namespace) ? "
            "string(object.metadata.namespace) : '')"
        )
        conditions.append(
            ("exempt-namespaces", f"!{namespace}.matches({cel.literal(cel.glob(exempt))})")
        )
    if settings.exempt_users:
        pattern = cel.literal(cel.glob(settings.exempt_users))
        conditions.append(
            (
                "exempt-users",
                "!(has(request.userInfo) && has(request.userInfo.username) && "
                f"request.userInfo.username.matches({pattern}))",
            )
        )
    if settings.exempt_groups:
        pattern = cel.literal(cel.glob(settings.exempt_groups))
        conditions.append(
            (
                "exempt-groups",
                "!(has(request.userInfo) && has(request.userInfo.groups) && "
                f"request.userInfo.groups.exists(g, g.matches({pattern})))",
            )
        )
    meta = "object.metadata"
    conditions.append(
        (
            "not-being-deleted",
            f"!({cel.has('object', 'metadata')} && {cel.has(meta, 'deletionTimestamp')} && "
            f"{meta}.deletionTimestamp != null && {meta}.deletionTimestamp != '')",
        )
    )
    if not settings.judge_controlled:
        owners = f"{meta}.ownerReferences"
        # An owner reference counts only when a controller sends the object
        # (`review.Admission._controller`): anyone may write one.
        sent_by = []
        if settings.controller_users:
            pattern = cel.literal(cel.glob(settings.controller_users))
            sent_by.append(
                "(has(request.userInfo) && has(request.userInfo.username) && "
                f"request.userInfo.username.matches({pattern}))"
            )
        if settings.controller_groups:
            pattern = cel.literal(cel.glob(settings.controller_groups))
            sent_by.append(
                "(has(request.userInfo) && has(request.userInfo.groups) && "
                f"request.userInfo.groups.exists(g, g.matches({pattern})))"
            )
        if sent_by:
            conditions.append(
                (
                    "not-made-by-a-controller",
                    f"!({cel.has('object', 'metadata')} && {cel.has(meta, 'ownerReferences')} && "
                    f"type({owners}) == list && {owners}.exists(o, type(o) == map && "
                    f"has(o.controller) && o.controller == true) && ({' || '.join(sent_by)}))",
                )
            )
    exclude = engine.config.exclude
    if exclude.namespaces:
        namespace = cel.member(meta, "namespace")
        value = (
            f"({cel.has('object', 'metadata')} && {cel.has(meta, 'namespace')} && "
            f"{namespace} != null ? string({namespace}) : '')"
        )
        conditions.append(
            (
                "not-excluded-namespace",
                f"!{value}.matches({cel.literal(cel.glob(exclude.namespaces))})",
            )
        )
    if exclude.names:
        name = f"{meta}.name"
        generated = f"{meta}.generateName"
        value = (
            f"({cel.has('object', 'metadata')} && {cel.has(meta, 'name')} && {name} != null && "
            f"{name} != '' ? string({name}) : {cel.has('object', 'metadata')} && "
            f"{cel.has(meta, 'generateName')} && {generated} != null ? string({generated}) : '')"
        )
        conditions.append(
            ("not-excluded-name", f"!{value}.matches({cel.literal(cel.glob(exclude.names))})")
        )
    if engine.config.allow_suppression:
        keys = cel.suppression_keys(active.rule.code, active.rule.name)
        conditions.append(
            (
                "not-suppressed",
                f"!({cel.has('object', 'metadata')} && {cel.suppressed(meta, keys)})",
            )
        )
    return [{"name": name, "expression": expression} for name, expression in conditions]


def _spec(
    engine: Engine,
    active: ActiveRule,
    settings: WebhookSettings,
    kinds: Sequence[AdmissionKind],
    translation: cel.Translation,
) -> dict[str, Any]:
    variables = [*translation.variables, ("findings", translation.findings)]
    return {
        "failurePolicy": failure_policy(settings),
        "matchConstraints": {
            "resourceRules": webhook_rules(kinds),
            "matchPolicy": "Equivalent",
        },
        "matchConditions": _conditions(engine, active, settings),
        "variables": [{"name": n, "expression": e} for n, e in variables],
    }


def _metadata(
    name: str, active: ActiveRule, left_out: Sequence[str], undecided: str | None
) -> dict[str, Any]:
    annotations = {RULE_ANNOTATION: active.rule.code, "mllint.io/docs": active.rule.url}
    if left_out:
        annotations[NOT_COVERED_ANNOTATION] = "; ".join(left_out)
    if undecided is not None:
        annotations[UNDECIDED_ANNOTATION] = undecided
    return {"name": name, "labels": dict(LABELS), "annotations": annotations}


def action(engine: Engine, active: ActiveRule, settings: WebhookSettings) -> Action:
    """The rule's enforcement action, as the webhook decides it for its findings."""
    policy = Policy(engine.registry, settings.enforcement, audit_mode=settings.audit_mode)
    rule = active.rule
    return policy.action(Finding(rule.code, rule.name, active.severity, "", ""))


def _validating(
    meta: dict[str, Any], active: ActiveRule, validation_action: Action, spec: dict[str, Any]
) -> list[dict[str, Any]]:
    rule = active.rule
    name = meta["name"]
    head = cel.literal(f"mllint {rule.code} {rule.name}: ")
    tail = cel.literal(f" (see {rule.url})" if rule.url else "")
    newline, joiner = cel.literal(cel.SEPARATOR), cel.literal("; ")
    validation = {
        "expression": "variables.findings == ''",
        "messageExpression": f"{head} + variables.findings.replace({newline}, {joiner}) + {tail}",
        "reason": "Forbidden",
    }
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": meta,
            "spec": {**spec, "validations": [validation]},
        },
        {
            "apiVersion": API_VERSION,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": meta,
            "spec": {"policyName": name, "validationActions": [ACTIONS[validation_action]]},
        },
    ]


def _mutating_policy(
    meta: dict[str, Any], spec: dict[str, Any], translation: cel.Translation
) -> list[dict[str, Any]]:
    assert translation.patch is not None
    name = meta["name"]
    mutation = {"patchType": "JSONPatch", "jsonPatch": {"expression": translation.patch}}
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "MutatingAdmissionPolicy",
            "metadata": meta,
            # Another mutation may add what the rule judges after this one ran; run it again
            # then. A fixed object yields no operations, so reinvocation changes nothing.
            "spec": {**spec, "mutations": [mutation], "reinvocationPolicy": "IfNeeded"},
        },
        {
            "apiVersion": API_VERSION,
            "kind": "MutatingAdmissionPolicyBinding",
            "metadata": meta,
            "spec": {"policyName": name},
        },
    ]

"""Team rules (`custom`) as admission-policy CEL: the rule's own condition and message, with its
variables bound by comprehensions over the pods and containers `cel.pods` finds for every kind the
engine knows, so a rule written once is exported for every kind.

`pod`, `container` and `workload` are bound as one-element comprehensions
(`[{...}].map(pod, ...)`), which keeps the user's expression as written. `workload` holds the
fields CEL can compute as the engine does (`EXPORTED`); a rule reading another one (a pod's
purpose, which reads commands and environment) is not exported, with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mllint.rules import cel
from mllint.rules.config import RuleScope
from mllint.rules.custom import Team, workload_fields
from mllint.rules.model import Role

if TYPE_CHECKING:
    from mllint.rules.engine import ActiveRule, Engine
    from mllint.rules.workload import PodTemplate, WorkloadKind

EXPORTED: dict[RuleScope, frozenset[str]] = {
    RuleScope.OBJECT: frozenset({"kind", "apiVersion", "group"}),
    RuleScope.POD: frozenset(
        {
            "kind",
            "apiVersion",
            "group",
            "known",
            "role",
            "acceleratorCount",
            "usesAccelerators",
            "device",
        }
    ),
}
EXPORTED[RuleScope.CONTAINER] = EXPORTED[RuleScope.POD] | {"init"}
"""The `workload` fields exported, by scope."""

_BATCH_POD = (
    "(has(object.spec) && type(object.spec) == map && has(object.spec.restartPolicy) && "
    "object.spec.restartPolicy in ['Never', 'OnFailure'])"
)


def translate(engine: Engine, active: ActiveRule) -> cel.Translation:
    team: Team = active.rule.definition
    spec = team.spec
    read = workload_fields(spec.condition) | workload_fields(spec.message)
    unexported = sorted(read - EXPORTED[spec.scope])
    if unexported:
        raise cel.NotExpressible(
            f"reads workload.{unexported[0]}, which the workload model computes from images, "
            "commands or the whole object; CEL exports "
            + ", ".join(f"workload.{f}" for f in sorted(EXPORTED[spec.scope]))
        )
    if spec.scope is RuleScope.OBJECT:
        if not spec.kinds:
            raise cel.NotExpressible(
                "scope object without kinds: judges objects of every kind (give kinds to export)"
            )
        workload = {
            "kind": "object.kind",
            "apiVersion": "object.apiVersion",
            "group": _GROUP,
        }
        found = _judged(team, {k: v for k, v in workload.items() if k in read})
        return cel.Translation(f"({found})")
    return _pods(engine, active, team, read)


_GROUP = (
    "(object.apiVersion.contains('/') ? "
    "object.apiVersion.substring(0, object.apiVersion.lastIndexOf('/')) : '')"
)


def _judged(team: Team, workload: dict[str, str]) -> str:
    """`condition ? message : ''`, with `workload` bound when the rule reads it."""
    spec = team.spec
    judged = f"(({spec.condition}) ? ({spec.message}) : '')"
    if "workload" in team.reads:
        entries = ", ".join(f"{cel.literal(k)}: {v}" for k, v in workload.items())
        judged = f"[{{{entries}}}].map(workload, {judged})[0]"
    return judged


def _role(kind: WorkloadKind, template: PodTemplate, names: cel.Names) -> dict[str, str]:
    """The pod's role (`Subject._pod`) and the kind's group, fixed per kind and template."""
    if template.role is not None:
        role = cel.literal(template.role.value)
    elif kind.kind == "Pod" and not kind.group:
        role = f"({_BATCH_POD} ? {cel.literal(Role.BATCH.value)} : {cel.literal(kind.role.value)})"
    else:
        role = cel.literal(kind.role.value)
    return {"role": role, "group": cel.literal(kind.group)}


def _pods(engine: Engine, active: ActiveRule, team: Team, read: set[str]) -> cel.Translation:
    spec = team.spec
    suppression = cel._template_suppression(engine, active)
    kinds, left_out = [], []
    for kind in engine.kinds:
        if spec.kinds and kind.kind not in spec.kinds:
            continue
        if "pod" in team.reads and any(t.inherit for t in kind.templates):
            left_out.append(f"{kind.key}: its pods inherit pod-level settings from the object")
            continue
        whole = tuple(t for t in kind.templates if not t.partial)
        if not whole:
            left_out.append(
                f"{kind.key}: its pod templates are partial, which team rules do not judge"
            )
            continue
        trimmed = _replace_templates(kind, whole)
        try:
            cel.pods([trimmed], cel.Names(), suppression=suppression, kind_extra=_role)
        except cel.NotExpressible as exc:
            left_out.append(f"{kind.key}: {exc}")
            continue
        kinds.append(trimmed)
    if not kinds:
        raise cel.NotExpressible("; ".join(left_out) or "no kind it judges")
    names = cel.Names()
    accelerators = bool(read & {"usesAccelerators", "device"})
    variables = cel.pods(
        kinds,
        names,
        suppression=suppression,
        accelerators=accelerators,
        kind_extra=_role,
        metadata=True,
    )
    g, p, e = names("g"), names("p"), names("e")
    workload = {
        "kind": "object.kind",
        "apiVersion": "object.apiVersion",
        "group": f"{p}.extra.group",
        "known": "true",
        "role": f"{p}.extra.role",
        "acceleratorCount": (
            f"{p}.containers.filter({e}, !{e}.init)"
            f".map({e}, {cel.accelerator_count(f'{e}.spec', names)}).sum()"
        ),
        "usesAccelerators": f"{p}.uses",
        "device": cel.device(p),
    }
    if spec.scope is RuleScope.CONTAINER:
        workload["init"] = f"{e}.init"
    bound = {k: v for k, v in workload.items() if k in read}
    pod = f"{{'metadata': {p}.metadata, 'spec': {p}.spec}}"
    if spec.scope is RuleScope.POD:
        per_pod = f"[{pod}].map(pod, {_judged(team, bound)})[0]"
    else:
        kept = (
            f"{p}.containers" if spec.init_containers else f"{p}.containers.filter({e}, !{e}.init)"
        )
        containers = f"{kept}.map({e}, [{e}.spec].map(container, {_judged(team, bound)})[0])"
        per_pod = f"[{pod}].map(pod, {cel.lines(containers)})[0]"
    groups = f"{g}.map({p}, {p}.suppressed ? '' : {per_pod})"
    findings = cel.lines(f"variables.pods.map({g}, {cel.lines(groups)})")
    return cel.Translation(
        findings,
        variables=variables,
        kinds=frozenset((k.group, k.kind) for k in kinds),
        left_out=tuple(left_out),
    )


def _replace_templates(kind: WorkloadKind, templates: tuple[PodTemplate, ...]) -> WorkloadKind:
    return kind if templates == kind.templates else kind.replace(templates=templates)

"""Team rules: rules a configuration writes in CEL (`custom-rules`), run by the engine as
built-in rules are, so their findings have lines, suppression, fixes, webhook enforcement and
report entries like any other (docs/custom-rules.md).

A team rule's condition is judged once per scope item: the object, each of its pods, or each of
its containers, found by the workload model (`workload.Subject.pods`), so a rule written once
reaches every kind the engine knows, user-declared kinds included. The variables bound are
`object` (the whole object), `pod` (`{"metadata": ..., "spec": ...}` of the pod template, the
object's own metadata for a pod spec held inline), `container` (the container) and `workload`
(what the workload model knows: see `WORKLOAD_FIELDS`). A condition that evaluates to true is a
violation, reported at the scope's JSON Pointer with the message expression's value.

Expressions are compiled once (`celenv`); a syntax error, an unknown variable, function or
`workload` field is a configuration error naming the rule and the position. An evaluation error
(a missing key, a type mismatch) is an error-level finding of that rule on that object.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mllint.rules import celenv
from mllint.rules.config import ConfigError, CustomRule, RuleScope
from mllint.rules.model import Fix, Rule, Severity, Violation
from mllint.rules.workload import Container, Pod, Scope, Subject, group_of

VARIABLES: dict[RuleScope, tuple[str, ...]] = {
    RuleScope.OBJECT: ("object", "workload"),
    RuleScope.POD: ("object", "pod", "workload"),
    RuleScope.CONTAINER: ("object", "pod", "container", "workload"),
}
"""The variables a condition or message may read, by scope."""

WORKLOAD_FIELDS: dict[RuleScope, dict[str, str]] = {
    RuleScope.OBJECT: {
        "kind": "the object's kind",
        "apiVersion": "its apiVersion",
        "group": "its API group ('' for the core group)",
        "known": "whether the engine knows where the kind keeps its pods",
        "role": "batch, serving or daemon for a workload kind; '' otherwise",
        "purposes": "the purposes of its pods (model-server, batch, ml, not-ml)",
        "accelerators": "accelerators its pods ask for: resource name -> count",
        "acceleratorCount": "their sum",
        "usesAccelerators": "whether its pods use accelerators (resources or DRA claims)",
        "ml": "whether any of its pods is an ML workload",
    },
    RuleScope.POD: {
        "kind": "the object's kind",
        "apiVersion": "its apiVersion",
        "group": "its API group ('' for the core group)",
        "known": "true: pods are found only in kinds the engine knows",
        "role": "the pod's role: batch, serving or daemon",
        "purpose": "the pod's purpose: model-server, batch, ml or not-ml",
        "accelerators": "accelerators its main containers ask for: resource name -> count",
        "acceleratorCount": "their sum",
        "usesAccelerators": "whether it uses accelerators (resources or DRA claims)",
        "device": "what its accelerators are called: GPU, TPU, Gaudi, Neuron, accelerator",
        "server": "the model server it runs (vLLM, Triton, ...), '' when none is known",
        "member": "its place in a multi-pod workload (launcher, leader, worker, head, ...), or ''",
        "replica": "its replica type or group as written (Worker, worker-group-1), or ''",
        "ml": "whether it is an ML workload (its purpose is not not-ml)",
    },
}
WORKLOAD_FIELDS[RuleScope.CONTAINER] = {
    **WORKLOAD_FIELDS[RuleScope.POD],
    "init": "whether the container is an init container",
}
"""What `workload` holds in each scope."""

_WORKLOAD_FIELD = re.compile(r"(?<![A-Za-z0-9_.])workload\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_OPS = frozenset({"add", "replace", "remove"})


def workload_fields(source: str) -> set[str]:
    """The `workload` fields an expression reads by name."""
    return set(_WORKLOAD_FIELD.findall(celenv.blank_strings(source)))


@dataclass(frozen=True)
class Team:
    """A team rule compiled: its configuration and its two programs."""

    spec: CustomRule
    condition: celenv.Compiled
    message: celenv.Compiled

    @property
    def reads(self) -> frozenset[str]:
        return self.condition.variables | self.message.variables

    def check(self, scope: Scope, options: Any) -> Iterator[Violation]:
        return _check(self, scope, options)


def compile_rule(spec: CustomRule, where: str) -> Team:
    """The rule's expressions compiled and checked against its scope's variables."""
    variables = VARIABLES[spec.scope]
    compiled = []
    for part in ("condition", "message"):
        source: str = getattr(spec, part)
        try:
            program = celenv.compile_expression(source, variables)
        except celenv.CelError as exc:
            raise ConfigError(f"{where}: {part}:{exc}") from None
        unknown = sorted(workload_fields(source) - set(WORKLOAD_FIELDS[spec.scope]))
        if unknown:
            pos = celenv.position(source, unknown[0])
            raise ConfigError(
                f"{where}: {part}:{pos}: workload has no field {unknown[0]!r} in scope "
                f"{spec.scope.value}; it has {', '.join(WORKLOAD_FIELDS[spec.scope])}"
            )
        compiled.append(program)
    if spec.init_containers and spec.scope is not RuleScope.CONTAINER:
        raise ConfigError(f"{where}: init-containers goes with scope: container")
    for index, op in enumerate(spec.fix.ops if spec.fix else ()):
        at = f"{where}: fix.ops[{index}]"
        if op.get("op") not in _OPS:
            raise ConfigError(f"{at}: op must be one of {', '.join(sorted(_OPS))}")
        path = op.get("path")
        if not isinstance(path, str) or (path and not path.startswith("/")):
            raise ConfigError(f"{at}: path must be a JSON Pointer relative to the scope, like /x")
        if op["op"] != "remove" and "value" not in op:
            raise ConfigError(f"{at}: {op['op']} needs a value")
        if set(op) - {"op", "path", "value"}:
            extra = ", ".join(sorted(set(op) - {"op", "path", "value"}))
            raise ConfigError(f"{at}: unknown key(s) {extra}")
    return Team(spec, compiled[0], compiled[1])


def build(specs: Sequence[CustomRule], origin: str = "configuration") -> tuple[Rule, ...]:
    """The team rules of a configuration as engine rules; ConfigError says which and why."""
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(specs):
        where = f"custom-rules[{index}] ({spec.name})"
        for key in (spec.code, spec.name):
            if key in seen:
                raise ConfigError(f"{where}: {key!r} is also used by custom-rules[{seen[key]}]")
            seen[key] = index
        team = compile_rule(spec, where)
        rules.append(
            Rule(
                code=spec.code,
                name=spec.name,
                severity=spec.severity,
                summary=spec.summary,
                check=team.check,
                docs=docs_of(spec),
                kinds=frozenset(spec.kinds),
                workloads_only=spec.scope is not RuleScope.OBJECT,
                fix_safety=spec.fix.safety if spec.fix else None,
                origin=origin,
                link=spec.url,
                enforcement=spec.enforcement.value if spec.enforcement else None,
                definition=team,
            )
        )
    return tuple(rules)


def docs_of(spec: CustomRule) -> str:
    """The rule's page: its own docs text, then its definition."""
    scope = spec.scope.value + (" (init containers too)" if spec.init_containers else "")
    lines = [spec.docs.strip() or f"## What it does\n{spec.summary}.", "", "## Definition"]
    lines += [f"- Scope: {scope}", f"- Condition (true is a violation): `{spec.condition}`"]
    lines.append(f"- Message: `{spec.message}`")
    if spec.kinds:
        lines.append(f"- Kinds: {', '.join(spec.kinds)}")
    if spec.fix:
        lines.append(f"- Fix ({spec.fix.safety.value}): `{_ops_text(spec.fix.ops)}`")
    return "\n".join(lines)


def _ops_text(ops: Sequence[dict[str, Any]]) -> str:
    import json  # only for docs

    return json.dumps(list(ops), separators=(", ", ": "))


class _Bound(threading.local):
    """Evaluation contexts of the object being judged, one per scope item (the object, each
    pod, each container), shared by every team rule: each value is converted to CEL once per
    object, not once per rule. A context holds only its item's values, so what one rule reads
    is what it sees."""

    subject: Subject | None = None
    contexts: dict[tuple[int, ...], tuple[Any, set[str]]]


_BOUND = _Bound()


def _context(
    subject: Subject,
    reads: frozenset[str],
    pod: Pod | None = None,
    container: Container | None = None,
) -> Any:
    bound = _BOUND
    if bound.subject is not subject:
        bound.subject, bound.contexts = subject, {}
    key = (id(pod), id(container)) if pod is not None else ()
    found = bound.contexts.get(key)
    if found is None:
        found = bound.contexts[key] = (celenv.context(), set())
    context, names = found
    for name in reads - names:
        context.add_variable(name, _value(name, subject, pod, container))
        names.add(name)
    return context


def _value(name: str, subject: Subject, pod: Pod | None, container: Container | None) -> Any:
    if name == "object":
        return subject.obj
    if name == "pod":
        assert pod is not None
        return {"metadata": pod.metadata, "spec": pod.spec}
    if name == "container":
        assert container is not None
        return container.spec
    return object_workload(subject) if pod is None else pod_workload(pod, container)


def _check(team: Team, scope: Scope, options: Any) -> Iterator[Violation]:
    subject = scope.subject
    reads = team.reads
    spec = team.spec
    if spec.scope is RuleScope.OBJECT:
        yield from _judge(team, _context(subject, reads), "")
        return
    for pod in scope.pods:
        if spec.scope is RuleScope.POD:
            yield from _judge(team, _context(subject, reads, pod), pod.pointer)
            continue
        for container in pod.containers:
            if container.init and not spec.init_containers:
                continue
            context = _context(subject, reads, pod, container)
            yield from _judge(team, context, container.pointer)


def _judge(team: Team, context: Any, at: str) -> Iterator[Violation]:
    try:
        broken = team.condition.program.execute(context)
    except Exception as exc:  # any evaluation error of the CEL implementation
        yield _failed(at, "condition", _missing(exc))
        return
    if not isinstance(broken, bool):
        yield _failed(at, "condition", f"gave {broken!r}, not true or false")
        return
    if not broken:
        return
    try:
        message = team.message.program.execute(context)
    except Exception as exc:  # as above
        yield _failed(at, "message", _missing(exc))
        return
    if not isinstance(message, str):
        yield _failed(at, "message", f"gave {message!r}, not a string")
        return
    fix = team.spec.fix
    ops = tuple({**op, "path": at + op["path"]} for op in fix.ops) if fix else ()
    yield Violation(at, message, Fix(ops, fix.safety) if fix else None)


def _missing(exc: Exception) -> str:
    hint = " (test optional fields with has())" if isinstance(exc, KeyError) else ""
    return celenv.describe_error(exc) + hint


def _failed(at: str, part: str, problem: str) -> Violation:
    return Violation(
        at, f"the rule's {part} could not be evaluated here: {problem}", severity=Severity.ERROR
    )


def object_workload(subject: Subject) -> dict[str, Any]:
    accelerators = dict(subject.accelerators) if subject.workload else {}
    return {
        "kind": subject.kind,
        "apiVersion": subject.api_version,
        "group": group_of(subject.api_version),
        "known": subject.workload is not None,
        "role": subject.role.value if subject.role else "",
        "purposes": sorted({p.purpose.value for p in subject.whole_pods()}),
        "accelerators": accelerators,
        "acceleratorCount": sum(accelerators.values()),
        "usesAccelerators": subject.uses_accelerators if subject.workload else False,
        "ml": subject.ml,
    }


def pod_workload(pod: Pod, container: Container | None = None) -> dict[str, Any]:
    traits = pod.traits
    found = {
        "kind": pod.kind,
        "apiVersion": pod.api_version,
        "group": group_of(pod.api_version),
        "known": True,
        "role": pod.role.value,
        "purpose": traits.purpose.value,
        "accelerators": dict(traits.accelerators),
        "acceleratorCount": traits.accelerator_count,
        "usesAccelerators": traits.uses_accelerators,
        "device": traits.device,
        "server": traits.server or "",
        "member": traits.member.value if traits.member else "",
        "replica": traits.replica or "",
        "ml": traits.ml,
    }
    if container is not None:
        found["init"] = container.init
    return found

"""Admission policies evaluated as the API server evaluates them, with an independent CEL
implementation: `common-expression-language` (the Rust `cel` crate's Python binding).

Why that one: it follows the current CEL specification where the API server's cel-go does and
cel-python 0.5 does not (heterogeneous numeric equality `1 == 1.0`, `string(1.0) == "1"`,
equality across types is false rather than an error), and it evaluates a compiled program in
microseconds, which keeps a parity test over the whole corpus fast. Neither parses the optional
syntax (`.?f`), so the policies do not use it.

What the API server adds to CEL and the policies use:
- the strings extension and the Kubernetes lists library (`join`, `replace`, `trim`,
  `lowerAscii`, `sum`, ...) from the project's one CEL environment, `mllint.rules.celenv`, which
  team rules are evaluated with too;
- here, `matches` with RE2 itself, as cel-go's, and `JSONPatch{op: ..., path: ..., value: ...}`
  values of a MutatingAdmissionPolicy's jsonPatch expression, read as maps with the same three
  fields.

Bound as the API server binds them (k8s.io/apiserver admission/plugin/cel): `object` and
`oldObject` as JSON (maps without a schema; `oldObject` null on CREATE), `request` as the
AdmissionRequest's JSON (empty fields left out), `params` null (no paramKind),
`namespaceObject` the namespace or null for a cluster-scoped object, and `variables`
evaluated lazily, each at most once per request, when an expression first reads it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cel
import re2
from webhook_helpers import apply_patch

from mllint.rules import celenv

_VARIABLE = re.compile(r"\bvariables\.([A-Za-z_][A-Za-z0-9_]*)")
_STRING = r'"(?:[^"\\]|\\.)*"'
_MATCHES = "re2Matches"
"""The name `matches` is evaluated under (the library's own `matches` cannot be replaced)."""
_JSONPATCH = re.compile(rf"JSONPatch\{{op: ({_STRING}), path: ({_STRING}), value: ")


@functools.cache
def _regex(pattern: str) -> Any:
    return re2.compile(pattern)


def _matches(text: str, pattern: str) -> bool:
    """CEL's `matches` with RE2 itself, the API server's regular-expression engine (cel-go
    uses Go's regexp, RE2 syntax and semantics): a match anywhere in the string. Each pattern
    is compiled once, as cel-go does for a constant pattern when it checks the expression."""
    return _regex(pattern).search(text) is not None


FUNCTIONS = {_MATCHES: _matches, **celenv.FUNCTIONS}


def as_json(value: Any) -> Any:
    """A manifest as the API server holds it: JSON values only (YAML dates become strings)."""
    return json.loads(json.dumps(value, default=str))


class Program:
    """One compiled expression and the variables it reads."""

    def __init__(self, source: str) -> None:
        self.source = source
        source_ = _JSONPATCH.sub(r'{"op": \1, "path": \2, "value": ', source)
        self.program = cel.compile(source_.replace(".matches(", f".{_MATCHES}("))
        self.reads = sorted(set(_VARIABLE.findall(source)))


@dataclass
class Request:
    """What the API server knows of one admission request."""

    obj: dict[str, Any]
    resource: tuple[str, str, str]
    """(group, version, resource plural)."""
    operation: str = "CREATE"
    username: str = "alice"
    groups: tuple[str, ...] = ("system:authenticated",)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        meta = self.obj.get("metadata") or {}
        return str(meta.get("namespace") or "")

    def bindings(self) -> dict[str, Any]:
        group, version, plural = self.resource
        request: dict[str, Any] = {
            "uid": "0",
            "kind": {"group": group, "version": version, "kind": self.obj.get("kind")},
            "resource": {"group": group, "version": version, "resource": plural},
            "operation": self.operation,
            "userInfo": {"username": self.username, "groups": list(self.groups)},
            "object": self.obj,
        }
        name = (self.obj.get("metadata") or {}).get("name")
        if name:
            request["name"] = name
        namespace_object = None
        if self.namespace:
            request["namespace"] = self.namespace
            labels = {"kubernetes.io/metadata.name": self.namespace, **self.namespace_labels}
            namespace_object = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": self.namespace, "labels": labels},
            }
        return {
            "object": self.obj,
            "oldObject": None,
            "request": request,
            "params": None,
            "namespaceObject": namespace_object,
        }


class Evaluation:
    """One request against one policy: variables computed lazily, at most once."""

    def __init__(self, policy: Policy, request: Request) -> None:
        self.policy = policy
        self.values: dict[str, Any] = {}
        # One context per request: converting the object to CEL values is the costly part.
        self.context = cel.Context({**request.bindings(), "variables": {}})
        for name, function in FUNCTIONS.items():
            self.context.add_function(name, function)

    def run(self, program: Program) -> Any:
        """The program's value; a variable is computed when the evaluation first reaches it
        (a branch not taken never computes its variables), as the API server does."""
        while True:
            try:
                return program.program.execute(self.context)
            except KeyError as exc:
                name = exc.args[0] if exc.args else None
                if name not in self.policy.variables or name in self.values:
                    raise
                self.values[name] = self.run(self.policy.variables[name])
                self.context.add_variable("variables", dict(self.values))


@dataclass
class Verdict:
    messages: list[str]
    """What the API server answers: one message per failed validation."""
    findings: list[str]
    undecided: list[bool] | None = None
    """For a policy judging pods by purpose: whether it left each pod (in the engine's order)
    undecided (`variables.pods`, flattened)."""


class Policy:
    """A ValidatingAdmissionPolicy or MutatingAdmissionPolicy with its expressions compiled."""

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj
        spec = obj["spec"]
        self.name = obj["metadata"]["name"]
        self.rules = spec["matchConstraints"]["resourceRules"]
        self.conditions = [(c["name"], Program(c["expression"])) for c in spec["matchConditions"]]
        self.variables: dict[str, Program] = {}
        for variable in spec.get("variables", []):
            program = Program(variable["expression"])
            # The API server lets a variable read only the variables before it.
            early = [name for name in program.reads if name not in self.variables]
            assert not early, f"{self.name}: {variable['name']} reads {early} before they exist"
            self.variables[variable["name"]] = program
        self.validations = [
            (Program(v["expression"]), Program(v["messageExpression"]))
            for v in spec.get("validations", [])
        ]
        self.mutations = [Program(m["jsonPatch"]["expression"]) for m in spec.get("mutations", [])]

    def matches(self, request: Request) -> bool:
        """matchConstraints (rules: group, resource, operation; versions by matchPolicy
        Equivalent, which sends any served version of a matched resource)."""
        group, _version, plural = request.resource
        return any(
            group in r["apiGroups"]
            and plural in r["resources"]
            and request.operation in r["operations"]
            for r in self.rules
        )

    def applies(self, request: Request) -> Evaluation | None:
        """The evaluation of a request the policy matches and all matchConditions admit."""
        if not self.matches(request):
            return None
        evaluation = Evaluation(self, request)
        for _name, condition in self.conditions:
            if evaluation.run(condition) is not True:
                return None
        return evaluation

    def validate(self, request: Request) -> Verdict | None:
        """The messages of the validations that fail and the findings behind them
        (`variables.findings`, the engine's messages); None when the policy does not apply."""
        evaluation = self.applies(request)
        if evaluation is None:
            return None
        failed = []
        for expression, message in self.validations:
            if evaluation.run(expression) is not True:
                failed.append(evaluation.run(message))
        text = evaluation.values.get("findings", "")
        groups = evaluation.values.get("pods")
        undecided = None
        if groups is not None and all("undecided" in p for g in groups for p in g):
            undecided = [bool(p["undecided"]) for g in groups for p in g]
        return Verdict(failed, text.split("\n") if failed and text else [], undecided)

    def mutate(self, obj: dict[str, Any], request: Request) -> dict[str, Any]:
        """The object after the policy's JSON Patch mutations, as the API server applies them."""
        evaluation = self.applies(request)
        if evaluation is None:
            return obj
        for mutation in self.mutations:
            ops = evaluation.run(mutation)
            obj = apply_patch(obj, [dict(op) for op in ops])
        return obj

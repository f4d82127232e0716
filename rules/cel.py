"""Rules in CEL (the Common Expression Language of Kubernetes admission policies).

Each rule this module translates becomes two CEL expressions over `object`, evaluated by the API
server itself in a ValidatingAdmissionPolicy or a MutatingAdmissionPolicy:

- `findings`: a string holding one line per finding, each the engine's own message, empty when the
  object breaks nothing; the policy denies (or warns, or audits) when it is not empty;
- `patch`: the rule's safe fix as a list of JSON Patch operations, empty when nothing needs fixing
  (so the API server may reinvoke it on a fixed object and change nothing).

The translations read the engine's tables, not copies of them: the kinds a rule judges, where each
kind keeps its pods and containers (`workload.PodTemplate`, user-declared kinds included), the
accelerator registry (`traits.ACCELERATORS`), the rules' options and the configuration's
suppression switch. A new workload kind or accelerator reaches the exported policies without an
edit here.

Objects are read as the API server binds them for CEL: JSON values, maps without a schema, so
`has(x.f)` tests a key and a missing key never raises. Each step checks the type the engine
checks (`isinstance(..., dict)`), so a malformed object is judged as the engine judges it rather
than failing evaluation. A wildcard over a list or a map is a comprehension: one per container
path, at most two per pod path (a Seldon predictor's component specs); a kind with a deeper path
is left out of a policy, with the reason. The pods of each kind are found by a variable of their
own, so only the object's kind is evaluated and each expression stays small.

Rules that judge pods by their purpose read `traits.derive` in CEL (`pods(..., purposes=True)`):
the same tables (model servers, service and tool images, trivial programs, ML words and
commands), the look-around patterns rewritten for RE2 by `re2.translate`, and the facts that scan
a container's whole command text each in a variable of its own, so that no variable comes near
the API server's per-expression cost limit.

Not every rule is expressible: see `NOT_EXPORTED` for the rules this module leaves out and why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mllint.rules import pointer as jp
from mllint.rules import re2, traits
from mllint.rules.engine import IGNORE_ALL, IGNORE_PREFIX
from mllint.rules.model import Role
from mllint.rules.traits import (
    _PLACEHOLDER,
    _SERVERS_FOREVER,
    _VENDOR_GPU,
    ACCELERATORS,
    FOREVER,
    SLEEP_COMMANDS,
    Pattern,
)
from mllint.rules.workload import BATCH_RESTART

if TYPE_CHECKING:
    from mllint.rules.engine import ActiveRule, Engine
    from mllint.rules.workload import PodTemplate, WorkloadKind

SEPARATOR = "\n"
"""Between two findings in a `findings` string (a policy's message replaces it with `; `)."""

# Words CEL reserves; a map key spelled like one is read with `m["key"]`.
_RESERVED = frozenset(
    {
        "as", "break", "const", "continue", "else", "false", "for", "function", "if", "import",
        "in", "let", "loop", "package", "namespace", "null", "return", "true", "var", "void",
        "while",
    }
)  # fmt: skip
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class NotExpressible(Exception):
    """A rule (or a kind it judges) that CEL cannot express faithfully; the message says why."""


@dataclass(frozen=True, slots=True)
class Translation:
    findings: str
    """A CEL string: the engine's messages, one per line; empty when the object passes."""
    patch: str | None = None
    """A CEL list of `JSONPatch` values applying the rule's safe fix; None when not exported."""
    variables: tuple[tuple[str, str], ...] = ()
    """(name, expression) of the variables `findings` reads (`variables.<name>`), in order."""
    kinds: frozenset[tuple[str, str]] | None = None
    """(group, kind) the translation covers; None: every kind the rule judges."""
    patch_kinds: frozenset[tuple[str, str]] | None = None
    """(group, kind) the patch covers; None: the same as `kinds`."""
    left_out: tuple[str, ...] = ()
    """Kinds the rule judges that the translation does not cover, each with the reason."""
    undecided: str | None = None
    """The pods the policy leaves alone (admits without judging) because it cannot decide
    them as the engine does; None when it decides every pod."""


def literal(value: Any) -> str:
    """A JSON value as a CEL literal (strings JSON-escaped, which CEL reads alike)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise NotExpressible(f"no CEL literal for {type(value).__name__} values")


def member(node: str, key: str) -> str:
    """`node.key`, or `node["key"]` for a key that is not a CEL identifier."""
    if _IDENTIFIER.fullmatch(key) and key not in _RESERVED:
        return f"{node}.{key}"
    return f"{node}[{literal(key)}]"


def has(node: str, key: str) -> str:
    """Whether the map `node` holds `key` (false, not an error, when `node` is not a map)."""
    if _IDENTIFIER.fullmatch(key) and key not in _RESERVED:
        return f"(type({node}) == map && has({node}.{key}))"
    return f"(type({node}) == map && {literal(key)} in {node})"


def is_map(node: str) -> str:
    return f"type({node}) == map"


def lines(items: str) -> str:
    """The non-empty strings of a CEL list, one per line."""
    return f"{items}.filter(s, s != {literal('')}).join({literal(SEPARATOR)})"


def either(*parts: str) -> str:
    """The findings of several parts, one per line."""
    if len(parts) == 1:
        return parts[0]
    return lines("[" + ", ".join(parts) + "]")


class Names:
    """Fresh comprehension variable names, so nested comprehensions never shadow each other."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"


def equals(node: str, pointer: str, value: Any) -> str:
    """A CEL bool: whether the value at `pointer` from `node` exists and equals `value`."""
    tokens = jp.split(pointer)
    checks = []
    for token in tokens:
        if token == jp.WILDCARD or token.isdigit():
            raise NotExpressible(f"the pointer {pointer!r} is not a plain path")
        checks.append(has(node, token))
        node = member(node, token)
    return "(" + " && ".join([*checks, f"{node} == {literal(value)}"]) + ")"


# Suppression: the annotations the engine honours (`engine._suppressions`).


def suppression_keys(code: str, name: str) -> list[str]:
    """Annotation keys that suppress a rule: its name, its code in any letter case (the
    registry looks a code up upper-cased), and the one that suppresses every rule."""
    letters = [i for i, ch in enumerate(code) if ch.isalpha()]
    variants = []
    for mask in range(2 ** len(letters)):
        chars = list(code.upper())
        for bit, index in enumerate(letters):
            if mask >> bit & 1:
                chars[index] = chars[index].lower()
        variants.append("".join(chars))
    return [IGNORE_ALL, IGNORE_PREFIX + name, *(IGNORE_PREFIX + v for v in variants)]


def suppressed(metadata: str, keys: Iterable[str]) -> str:
    """A CEL bool: whether `metadata` holds one of the annotation keys with a reason (a string
    that is not blank), which is what makes an annotation suppress."""
    annotations = member(metadata, "annotations")
    value = f"{annotations}[k]"
    return (
        f"({has(metadata, 'annotations')} && {is_map(annotations)} && "
        f"{literal(list(keys))}.exists(k, k in {annotations} && "
        f"type({value}) == string && {value}.trim() != {literal('')}))"
    )


# Pods and containers, as `workload.Subject.pods` finds them.


def values(node: str, pattern: str, names: Names) -> str:
    """A CEL list: every value the JSON Pointer pattern reaches from `node` (`jp.expand`), for a
    pattern with at most one `*` (any list item or map value). Lists keep the engine's order;
    a map's values come in the API server's order, which the engine's may not be."""
    tokens = jp.split(pattern)
    if tokens.count(jp.WILDCARD) > 1:
        raise NotExpressible(f"the pattern {pattern!r} has more than one wildcard")
    if any(t.isdigit() for t in tokens):
        raise NotExpressible(f"the pattern {pattern!r} indexes a list")
    if jp.WILDCARD not in tokens:
        return f"({_path_exists(node, tokens)} ? [{_path(node, tokens)}] : [])"
    star = tokens.index(jp.WILDCARD)
    head, rest = tokens[:star], tokens[star + 1 :]
    parent = _path(node, head)
    item, key = names("i"), names("k")
    items = (
        f"(type({parent}) == list ? {parent} : type({parent}) == map ? "
        f"{parent}.map({key}, {parent}[{key}]) : [])"
    )
    if rest:
        items = (
            f"{items}.filter({item}, {_path_exists(item, rest)}).map({item}, {_path(item, rest)})"
        )
    return f"({_path_exists(node, head)} ? {items} : [])"


def _path(node: str, tokens: list[str]) -> str:
    for token in tokens:
        node = member(node, token)
    return node


def _path_exists(node: str, tokens: list[str]) -> str:
    checks = []
    for token in tokens:
        checks.append(has(node, token))
        node = member(node, token)
    return "(" + " && ".join(checks) + ")" if checks else "true"


def reaches(node: str, pattern: str, names: Names) -> str:
    """A CEL bool: whether the pattern (at most one `*`) reaches any value from `node`."""
    return f"size({values(node, pattern, names)}) > 0"


def pods(
    kinds: Iterable[WorkloadKind],
    names: Names,
    *,
    suppression: list[str] | None,
    accelerators: bool = False,
    purposes: bool = False,
    extra: Extra | None = None,
    kind_extra: KindExtra | None = None,
    metadata: bool = False,
) -> tuple[tuple[str, str], ...]:
    """The variables that find the object's pods: one per kind (`pods_<group>_<kind>`), so
    that each expression stays within the API server's size limit and only the object's kind
    is evaluated, then `pods`, which picks the one of the object's kind (on `object.apiVersion`
    and `object.kind`).

    `pods` is a CEL list of groups of pods (one group per template, or per item of a template
    path's first wildcard when it has two). Each pod (`Subject.pods`) is a map:

    - `containers`: its containers (init, main, then the template's other places), each as
      `{"name": ..., "spec": ..., "init": ...}`, `name` the name the engine's messages show
      (quoted as Python's `repr`), `spec` the container, `init` whether it is an init container;
    - `spec`: the pod spec;
    - `suppressed`: whether its template's annotations silence the rule (`suppression` holds
      the keys that do; None: never);
    - `extra`: what `extra` gives for the template (a rule's own facts about the pod);
    - with `accelerators`, `uses` and `device`: `Traits.uses_accelerators` and the devices it
      asks for (see `device`), computed once in `pods` for every kind;
    - with `metadata`, `metadata`: the pod template's metadata (the object's for a pod spec held
      inline), `{}` when it has none.

    `kind_extra` adds fields to `extra` that depend on the kind as well as the template."""
    variables: list[tuple[str, str]] = []
    parts = []
    for kind in kinds:
        made = [
            _template(
                kind,
                t,
                names,
                suppression,
                _with_kind(extra, kind_extra, kind) if kind_extra else extra,
                metadata=metadata,
            )
            for t in kind.templates
        ]
        name = "pods_" + re.sub(r"[^A-Za-z0-9]", "_", kind.key)
        variables.append((name, " + ".join(made) or "[]"))
        test = f"object.kind == {literal(kind.kind)} && {_group_test(kind.group)}"
        parts.append(f"{test} ? variables.{name}")
    chosen = "(" + " : ".join([*parts, "[]"]) + ")"
    if purposes:
        stages = _trait_stages("pods_found", names)
        last = f"variables.{stages[-1][0]}"
        return (
            *variables,
            ("pods_found", chosen),
            *stages,
            ("pods_facts", _with_facts(last, names)),
            ("pods", _with_traits("variables.pods_facts", names)),
        )
    if accelerators:
        chosen = _with_accelerators(chosen, names, metadata)
    return (*variables, ("pods", chosen))


def _with_kind(extra: Extra | None, kind_extra: KindExtra, kind: WorkloadKind) -> Extra:
    def both(template: PodTemplate, names: Names) -> dict[str, str]:
        own = extra(template, names) if extra is not None else {}
        return {**own, **kind_extra(kind, template, names)}

    return both


def _with_accelerators(groups: str, names: Names, metadata: bool = False) -> str:
    """The pods of `groups` with `uses` and `device` added (see `pods`)."""
    g, p, e, r, d = names("g"), names("p"), names("e"), names("r"), names("d")
    main = f"{p}.containers.filter({e}, !{e}.init)"
    claims = _claims(f"{p}.spec", f"{p}.containers.map({e}, {e}.spec)", names)
    asked = _asked(f"{e}.spec", names)
    devices = literal(device_patterns())
    asking = f"{main}.exists({e}, {asked}.exists({r}, {r}.matches({devices}[{d}])))"
    spec = f"{p}.spec"
    fields = {
        "containers": f"{p}.containers",
        "spec": spec,
        "suppressed": f"{p}.suppressed",
        "extra": f"{p}.extra",
        "uses": f"({main}.exists({e}, size({asked}) > 0) || {claims})",
        "device": f"({devices}.filter({d}, {asking}).map({d}, {d}) + ({claims} ? ['', ''] : []))",
    }
    if metadata:
        fields["metadata"] = f"{p}.metadata"
    entries = ", ".join(f"{literal(k)}: {v}" for k, v in fields.items())
    return f"{groups}.map({g}, {g}.map({p}, {{{entries}}}))"


def _helper(facts: str) -> str:
    """A CEL bool: `traits.is_helper` of the container with these facts."""
    return (
        f"({facts}.trivial || {facts}.service || {facts}.load || "
        f"(({facts}.service || {facts}.tool) && !{facts}.mlcmd))"
    )


def _uncertain(facts: str) -> str:
    """A CEL bool: whether `traits.is_helper` of the container with these facts is unknown (its
    command's reading is not the engine's, and a trivial program may be what it runs)."""
    sure = (
        f"({facts}.service || {facts}.load || "
        f"(({facts}.service || {facts}.tool) && !{facts}.mlcmd))"
    )
    return f"({facts}.unread && !{sure})"


def _with_facts(groups: str, names: Names) -> str:
    """The pods of `groups` with each container's `facts` (`_container_traits`)."""
    g, p, e = names("g"), names("p"), names("e")
    pod = {k: f"{p}.{k}" for k in _POD_FIELDS}
    pod["containers"] = f"{p}.containers.map({e}, {_container_traits(e, names)})"
    made = ", ".join(f"{literal(k)}: {v}" for k, v in pod.items())
    return f"{groups}.map({g}, {g}.map({p}, {{{made}}}))"


def _mpi_purpose(groups: str, names: Names) -> str:
    """A CEL string: `traits.mpi_purpose` of the object's batch pods, `not-ml`, `none` (None)
    or `?` (undecided: what its launcher's `mpirun` starts decides, which is not read)."""
    g, p, e = names("g"), names("p"), names("e")
    f = f"{e}.facts"

    def launchers(test: str, how: str = "exists") -> str:
        inner = "exists" if how == "exists" else "all"
        if how == "exists":
            each = f"{p}.launcher && {p}.containers.exists({e}, !{e}.init && {test})"
        else:
            each = f"!{p}.launcher || {p}.containers.all({e}, {e}.init || {test})"
        return f"{groups}.{inner}({g}, {g}.{inner}({p}, {each}))"

    evidence = f"(size({f}.asked) > 0 || {f}.claims || {f}.gpu || {f}.mlimage)"
    used = f"{p}.containers.exists({e}, !{e}.init && {evidence})"
    anyone = f"{groups}.exists({g}, {g}.exists({p}, {used}))"
    return (
        f"(!{launchers('true')} ? 'none' : "
        f"{launchers(f'!{_uncertain(f)} && {_helper(f)}', 'all')} ? 'not-ml' : "
        f"{launchers(f'{_uncertain(f)} || {_helper(f)}', 'all')} ? '?' : "
        f"{launchers(f'!{f}.mpi')} || {anyone} ? 'none' : '?')"
    )


def _with_traits(groups: str, names: Names) -> str:
    """The pods of `groups` (`_with_facts`) with their traits (`traits.derive`): `purpose`,
    `uses` and `device` (as `_with_accelerators`), each container's `facts` and `serving`, and
    `undecided`: whether the purpose is not known, for a command not read as the engine reads
    it (`_reading`); rules leave such pods alone."""
    g, p, e, cs, u, d, r, x = (names(n) for n in ("g", "p", "e", "cs", "u", "d", "r", "x"))
    m, s = names("m"), names("s")
    facts = f"{e}.facts"
    main = f"{cs}.filter({e}, !{e}.init)"
    spec = f"{p}.spec"
    claims = member(spec, "resourceClaims")
    named = f"(type({x}) == map && {has(x, 'name')} && {_truthy(member(x, 'name'))})"
    declared = (
        f"({has(spec, 'resourceClaims')} && type({claims}) == list && "
        f"{claims}.exists({x}, {named}))"
    )
    any_claims = f"({declared} || {cs}.exists({e}, {facts}.claims))"
    uses = f"({main}.exists({e}, size({facts}.asked) > 0) || {any_claims})"
    wants = f"({uses} || {main}.exists({e}, {facts}.gpu))"
    helper = _helper(facts)
    helpers = f"(size({main}) > 0 && {main}.all({e}, {helper}))"
    does_ml = f"({facts}.server || {facts}.mlimage || {facts}.mlcmd)"
    candidates = f"{main}.filter({e}, !{facts}.front)"
    evidence = f"({wants} || {main}.exists({e}, {does_ml}))"
    # A training operator's kind says its pods run to completion, not that they run ML
    # (`traits._purpose`): helpers only, or an MPI job whose launcher starts no ML, are not.
    purpose = (
        f"({p}.decided == 'batch' ? ({helpers} || {m} == 'not-ml' ? 'not-ml' : 'batch') : "
        f"{p}.decided != '' ? {p}.decided : "
        f"{helpers} ? 'not-ml' : "
        f"{p}.role == 'batch' ? ({evidence} ? 'batch' : 'not-ml') : "
        f"size({main}) > 0 && {main}.all({e}, {facts}.front) ? ({wants} ? 'ml' : 'not-ml') : "
        f"{candidates}.exists({e}, {facts}.server) ? 'model-server' : "
        f"{p}.role == 'daemon' ? 'not-ml' : "
        f"{wants} && {candidates}.exists({e}, {facts}.port) ? 'model-server' : "
        f"{candidates}.exists({e}, {facts}.mlimage && {facts}.servingimage) ? 'model-server' : "
        f"{candidates}.exists({e}, {facts}.ports && {facts}.mlimage && !{facts}.ui) ? "
        f"'model-server' : {evidence} ? 'ml' : 'not-ml')"
    )
    for name, value in (("batch", "BATCH"), ("not-ml", "NOT_ML"), ("ml", "ML")):
        if traits.Purpose[value].value != name:
            raise NotExpressible("traits' purposes were renamed")
    # `traits._serving`: the main containers that serve the model.
    o = names("o")

    def first(c: str) -> str:
        return (
            f"({c}.facts.server || size({c}.facts.asked) > 0 || {c}.facts.claims || {c}.facts.gpu)"
        )

    def second(c: str) -> str:
        return f"({c}.facts.port && !{_helper(f'{c}.facts')})"

    others = f"{cs}.filter({o}, !{o}.init)"
    serving = (
        f"(!{e}.init && ({others}.exists({o}, {first(o)}) ? {first(e)} : "
        f"{others}.exists({o}, {second(o)}) ? {second(e)} : size({others}) == 1))"
    )
    devices = literal(device_patterns())
    asking = f"{main}.exists({e}, {facts}.asked.exists({r}, {r}.matches({devices}[{d}])))"
    device_list = (
        f"({devices}.filter({d}, {asking}).map({d}, {d}) + ({any_claims} ? ['', ''] : []))"
    )
    fields = {k: f"{p}.{k}" for k in _POD_FIELDS}
    fields["containers"] = (
        f"{cs}.map({e}, {{'name': {e}.name, 'spec': {e}.spec, 'init': {e}.init, "
        f"'facts': {facts}, 'serving': {serving}}})"
    )
    fields["uses"] = uses
    fields["device"] = device_list
    fields["purpose"] = u
    fields["undecided"] = (
        f"({main}.exists({e}, {_uncertain(facts)}) || "
        f"({p}.decided == 'batch' && !{helpers} && {m} == '?'))"
    )
    entries = ", ".join(f"{literal(k)}: {v}" for k, v in fields.items())
    pod = f"[{purpose}].map({u}, {{{entries}}})[0]"
    enriched = f"[{p}.containers].map({cs}, {pod})[0]"
    every = f"{s}.map({g}, {g}.map({p}, {enriched}))"
    return f"[{groups}].map({s}, [{_mpi_purpose(s, names)}].map({m}, {every})[0])[0]"


Extra = Callable[["PodTemplate", Names], dict[str, str]]
"""Rule-specific fields of the pods of a template: name -> CEL expression (over `object`)."""
KindExtra = Callable[["WorkloadKind", "PodTemplate", Names], dict[str, str]]
"""The same for fields that depend on the kind too (a template may serve several kinds)."""


def _group_test(group: str) -> str:
    """A CEL bool: `object.apiVersion` is of `group` (`workload.group_of`: all before the last
    `/`; the core group when there is none)."""
    if not group:
        return "!object.apiVersion.contains('/')"
    return group_is(group)


def _template(
    kind: WorkloadKind,
    template: PodTemplate,
    names: Names,
    suppression: list[str] | None,
    extra: Extra | None,
    *,
    metadata: bool = False,
) -> str:
    tokens = jp.split(template.path)
    launcher = _launcher_at(template, tokens)
    # A template whose wildcard picks a Kubeflow replica keeps the key with each item (`q`).
    q = names("q")
    node = names("t") if isinstance(launcher, bool) else f"{q}.t"
    spec = node if template.inline else member(node, "spec")
    kept = [is_map(node)]
    if template.when:
        kept.append("(" + " || ".join(reaches(spec, w, names) for w in template.when) + ")")
    found = []
    for index, pattern in enumerate(
        (*template.init_containers, *template.main_containers, *template.containers)
    ):
        last = jp.split(pattern)[-1]
        c = names("c")
        name = member(c, "name")
        fallback = literal(repr(last)) if last != jp.WILDCARD else literal("'?'")
        shown = (
            f"({has(c, 'name')} && {name} != null ? "
            f"{literal(chr(39))} + {text(name)} + {literal(chr(39))} : {fallback})"
        )
        specs = f"{values(spec, pattern, names)}.filter({c}, {is_map(c)})"
        init = "true" if index < len(template.init_containers) else "false"
        raw = literal(last) if last != jp.WILDCARD else literal("")
        # Only a string name can hold a word (`traits._fronts`): others have none of theirs.
        label = f"({has(c, 'name')} ? (type({name}) == string ? {name} : '') : {raw})"
        found.append(
            f"{specs}.map({c}, {{'name': {shown}, 'spec': {c}, 'init': {init}, 'label': {label}}})"
        )
    fields = {"containers": "(" + (" + ".join(found) or "[]") + ")", "spec": spec}
    silenced = "false"
    if suppression is not None and not template.inline and template.path:
        meta = member(node, "metadata")
        silenced = f"({has(node, 'metadata')} && {suppressed(meta, suppression)})"
    if not template.inline:
        # A template whose spec is not a map is a pod with no containers.
        empty = {"containers": "[]", "spec": "{}"}
        fields = {
            k: f"({has(node, 'spec')} && {is_map(spec)} ? {v} : {empty[k]})"
            for k, v in fields.items()
        }
    fields["suppressed"] = silenced
    if metadata:
        meta = "object.metadata" if template.inline else member(node, "metadata")
        owner = "object" if template.inline else node
        fields["metadata"] = f"({has(owner, 'metadata')} && {is_map(meta)} ? {meta} : {{}})"
    fields["decided"] = literal(template.purpose.value if template.purpose else "")
    fields["role"] = _role(kind, template, spec, "true" if template.inline else has(node, "spec"))
    fields["partial"] = literal(template.partial)
    fields["provided"] = literal(sorted({*template.provides, *template.injects}))
    added = extra(template, names) if extra is not None else {}
    fields["extra"] = "{" + ", ".join(f"{literal(k)}: {v}" for k, v in added.items()) + "}"
    fields["launcher"] = literal(launcher) if isinstance(launcher, bool) else f"{q}.l"
    entries = ", ".join(f"{literal(k)}: {v}" for k, v in fields.items())
    pod = f"{{{entries}}}"
    if not isinstance(launcher, bool):
        made = f"{_replicas(tokens, q, names)}.filter({q}, {' && '.join(kept)})"
        result = f"[{made}.map({q}, {pod})]"
    elif tokens.count(jp.WILDCARD) == 2:
        # A group per item of the first wildcard (a Seldon predictor's component specs).
        second = tokens.index(jp.WILDCARD, tokens.index(jp.WILDCARD) + 1)
        outer, inner = names("g"), "/" + "/".join(jp.escape(t) for t in tokens[second:])
        head = "/" + "/".join(jp.escape(t) for t in tokens[:second])
        made = f"{values(outer, inner, names)}.filter({node}, {' && '.join(kept)})"
        result = f"{values('object', head, names)}.map({outer}, {made}.map({node}, {pod}))"
    else:
        made = f"{values('object', template.path, names)}.filter({node}, {' && '.join(kept)})"
        result = f"[{made}.map({node}, {pod})]"
    if template.unless:
        skip = " || ".join(equals("object", at, value) for at, value in template.unless)
        result = f"(({skip}) ? [] : {result})"
    return result


_LAUNCHER = next(k for k, m in traits._REPLICA_MEMBERS.items() if m is traits.Member.LAUNCHER)


def _launcher_at(template: PodTemplate, tokens: list[str]) -> bool | int:
    """Whether the pods of a template are an MPI job's launcher (`traits._member`): a bool when
    the path decides it, or the index of the wildcard whose key decides it (the replica of a
    `...ReplicaSpecs` map: `Launcher` in any case)."""
    if template.member is not None:
        return template.member is traits.Member.LAUNCHER
    for index, token in enumerate(tokens[:-1]):
        after = tokens[index + 1]
        if token == jp.WILDCARD:
            if any(t.endswith("ReplicaSpecs") for t in tokens[index:]):
                raise NotExpressible(f"a wildcard before the replica in {template.path!r}")
            continue
        if token in ("replicatedJobs", "tasks"):
            return False
        if token.endswith("ReplicaSpecs"):
            if after != jp.WILDCARD:
                return after.lower() == _LAUNCHER
            if tokens.count(jp.WILDCARD) != 1:
                raise NotExpressible(f"more than one wildcard in {template.path!r}")
            return index + 1
    return False


def _replicas(tokens: list[str], q: str, names: Names) -> str:
    """A CEL list: the values a template path with one wildcard, the replica of a
    `...ReplicaSpecs` map, reaches, each as `{"t": value, "l": launcher}` (`l`: the key,
    lower-cased, is `launcher`; a list's items are never one)."""
    star = tokens.index(jp.WILDCARD)
    head, rest = tokens[:star], tokens[star + 1 :]
    parent = _path("object", head)
    k = names("k")
    items = (
        f"(type({parent}) == list ? {parent}.map({k}, {{'t': {k}, 'l': false}}) : "
        f"type({parent}) == map ? {parent}.map({k}, {{'t': {parent}[{k}], "
        f"'l': {k}.lowerAscii() == {literal(_LAUNCHER)}}}) : [])"
    )
    if rest:
        items = (
            f"{items}.filter({q}, {_path_exists(f'{q}.t', rest)})"
            f".map({q}, {{'t': {_path(f'{q}.t', rest)}, 'l': {q}.l}})"
        )
    return f"({_path_exists('object', head)} ? {items} : [])"


def _role(kind: WorkloadKind, template: PodTemplate, spec: str, present: str) -> str:
    """A CEL string: the pod's role (`Subject._pod_role`: a bare Pod that runs to completion
    is a batch run)."""
    if template.role is not None:
        return literal(template.role.value)
    if kind.kind != "Pod":
        return literal(kind.role.value)
    restart, batch = member(spec, "restartPolicy"), literal(list(BATCH_RESTART))
    return (
        f"({present} && {has(spec, 'restartPolicy')} && {restart} in {batch} ? "
        f"{literal(Role.BATCH.value)} : {literal(kind.role.value)})"
    )


def device(pod: str) -> str:
    """A CEL string: a pod's `Traits.device` from its `device` list (the devices it asks for,
    and two blanks when it uses DRA claims)."""
    return f"(size({pod}.device) == 1 ? {pod}.device[0] : {literal('accelerator')})"


def _asked(c: str, names: Names) -> str:
    """A CEL list: the accelerators a container asks for (`traits.accelerators_of`: its limits,
    or its requests where it sets no limit; a count of at least one, or a placeholder)."""
    resources = member(c, "resources")
    requests, limits = member(resources, "requests"), member(resources, "limits")
    has_requests = f"({has(c, 'resources')} && {has(resources, 'requests')} && {is_map(requests)})"
    has_limits = f"({has(c, 'resources')} && {has(resources, 'limits')} && {is_map(limits)})"
    accelerator = literal(accelerator_pattern())
    r = names("r")
    limited = f"{limits}.filter({r}, {r}.matches({accelerator}) && {_asks(f'{limits}[{r}]')})"
    requested = (
        f"{requests}.filter({r}, {r}.matches({accelerator}) && !({has_limits} && {r} in {limits})"
        f" && {_asks(f'{requests}[{r}]')})"
    )
    return f"(({has_limits} ? {limited} : []) + ({has_requests} ? {requested} : []))"


def accelerator_count(c: str, names: Names) -> str:
    """A CEL int: a container's `accelerator_count` (the counts `traits.accelerators_of` finds;
    a placeholder counts 0)."""
    resources = member(c, "resources")
    requests, limits = member(resources, "requests"), member(resources, "limits")
    has_requests = f"({has(c, 'resources')} && {has(resources, 'requests')} && {is_map(requests)})"
    has_limits = f"({has(c, 'resources')} && {has(resources, 'limits')} && {is_map(limits)})"
    accelerator = literal(accelerator_pattern())
    r = names("r")
    limited = (
        f"{limits}.filter({r}, {r}.matches({accelerator}) && {_asks(f'{limits}[{r}]')})"
        f".map({r}, {_count(f'{limits}[{r}]')})"
    )
    requested = (
        f"{requests}.filter({r}, {r}.matches({accelerator}) && !({has_limits} && {r} in {limits})"
        f" && {_asks(f'{requests}[{r}]')}).map({r}, {_count(f'{requests}[{r}]')})"
    )
    return f"(({has_limits} ? {limited} : []) + ({has_requests} ? {requested} : [])).sum()"


def other_devices(c: str, names: Names) -> str:
    """A CEL bool: a container asks for an accelerator that is not a whole GPU (a Neuron device,
    a TPU, a time-sliced share): `nproc_gpu_mismatch.gpus` of its accelerators is None."""
    resources = member(c, "resources")
    requests, limits = member(resources, "requests"), member(resources, "limits")
    has_requests = f"({has(c, 'resources')} && {has(resources, 'requests')} && {is_map(requests)})"
    has_limits = f"({has(c, 'resources')} && {has(resources, 'limits')} && {is_map(limits)})"
    accelerator, gpu = literal(accelerator_pattern()), literal(device_patterns()["GPU"])
    r = names("r")
    other = f"({r}.matches({accelerator}) && (!{r}.matches({gpu}) || {r}.endsWith('.shared')))"
    limited = f"{limits}.exists({r}, {other} && {_asks(f'{limits}[{r}]')})"
    requested = (
        f"{requests}.exists({r}, {other} && !({has_limits} && {r} in {limits}) && "
        f"{_asks(f'{requests}[{r}]')})"
    )
    return f"(({has_limits} && {limited}) || ({has_requests} && {requested}))"


def _count(amount: str) -> str:
    """A CEL int: `traits._count(amount)` for an amount `_asks` accepted."""
    return (
        f"(type({amount}) == int ? {amount} : type({amount}) == double ? int({amount}) : "
        f"{amount}.matches({literal(_COUNT)}) ? int({amount}.trim()) : 0)"
    )


_COUNT = r"^\s*[0-9]*[1-9][0-9]*\s*$"
"""A whole count above zero written as a string (`traits._count`: digits once stripped)."""


def _asks(amount: str) -> str:
    """A CEL bool: `traits._count(amount) > 0 or traits.is_placeholder(amount)`."""
    return (
        f"(type({amount}) == int ? {amount} > 0 : type({amount}) == double ? {amount} >= 1.0 : "
        f"type({amount}) == string && ({amount}.matches({literal(_COUNT)}) || "
        f"{amount}.matches({literal(_PLACEHOLDER.pattern)})))"
    )


def _truthy(value: str) -> str:
    return (
        f"(type({value}) == string ? {value} != '' : type({value}) == bool ? {value} : "
        f"type({value}) == int ? {value} != 0 : type({value}) == double ? {value} != 0.0 : "
        f"(type({value}) == list || type({value}) == map) ? size({value}) > 0 : false)"
    )


def _container_claims(c: str, names: Names) -> str:
    """A CEL bool: the container uses a DRA claim (`traits.claims_of` is not empty)."""
    x = names("x")
    resources = member(c, "resources")
    used = member(resources, "claims")
    named = f"(type({x}) == map && {has(x, 'name')} && {_truthy(member(x, 'name'))})"
    return (
        f"({has(c, 'resources')} && {has(resources, 'claims')} && type({used}) == list && "
        f"{used}.exists({x}, {named}))"
    )


def _claims(spec: str, containers: str, names: Names) -> str:
    """A CEL bool: the pod uses a DRA claim (`traits._pod_claims` is not empty)."""
    x, c = names("x"), names("c")
    claims = member(spec, "resourceClaims")
    named = f"(type({x}) == map && {has(x, 'name')} && {_truthy(member(x, 'name'))})"
    declared = (
        f"({has(spec, 'resourceClaims')} && type({claims}) == list && "
        f"{claims}.exists({x}, {named}))"
    )
    resources = member(c, "resources")
    used = member(resources, "claims")
    container = (
        f"({has(c, 'resources')} && {has(resources, 'claims')} && type({used}) == list && "
        f"{used}.exists({x}, {named}))"
    )
    return f"({declared} || {containers}.exists({c}, {container}))"


def device_patterns() -> dict[str, str]:
    """For each device name of the accelerator registry, a pattern of the resources it names
    (`traits.accelerator(r).device`)."""
    found: dict[str, list[str]] = {}
    for a in ACCELERATORS:
        name = re.escape(a.name[:-1]) + ".+" if a.name.endswith("*") else re.escape(a.name)
        found.setdefault(a.device, []).append(name)
    patterns = {d: f"^(?:{'|'.join(names)})$" for d, names in found.items()}
    patterns["GPU"] += "|" + _VENDOR_GPU.pattern
    return patterns


# The accelerator registry as one regular expression (RE2, as CEL's `matches`).


def accelerator_pattern() -> str:
    """Matches exactly the resource names `traits.is_accelerator` accepts."""
    alternatives = []
    for a in ACCELERATORS:
        if a.name.endswith("*"):
            alternatives.append(re.escape(a.name[:-1]) + ".+")
        else:
            alternatives.append(re.escape(a.name))
    vendor = _VENDOR_GPU.pattern
    if not (vendor.startswith("^") and vendor.endswith("$")):
        raise NotExpressible("the vendor GPU pattern is not anchored")
    return f"^(?:{'|'.join(alternatives)})$|{vendor}"


def text(value: str) -> str:
    """A CEL string: a JSON value as Python's `str()` writes it in a message (`None`, `True`)."""
    return (
        f"(type({value}) == string ? {value} : type({value}) == null_type ? {literal('None')} : "
        f"type({value}) == bool ? ({value} ? {literal('True')} : {literal('False')}) : "
        f"string({value}))"
    )


def group_is(group: str) -> str:
    """A CEL bool: `object.apiVersion` is of `group` (`workload.group_of`: all before the last
    `/`, the core group when there is none)."""
    return f"object.apiVersion.matches({literal('^' + re.escape(group) + '/[^/]*$')})"


def jsonpatch(op: str, path: str, value: str) -> str:
    """A CEL `JSONPatch` value (the type MutatingAdmissionPolicy's jsonPatch expressions make)."""
    return f"JSONPatch{{op: {literal(op)}, path: {literal(path)}, value: {value}}}"


def set_value(pointer: str, value: Any) -> str:
    """A CEL list of JSONPatch operations setting the plain path `pointer` to `value`, creating
    the missing parents in one `add` of the nearest missing one, as `patch.normalize` does."""
    tokens = jp.split(pointer)
    if any(t == jp.WILDCARD or t.isdigit() for t in tokens):
        raise NotExpressible(f"the pointer {pointer!r} is not a plain path")

    def build(node: str, index: int) -> str:
        # `node` exists and is a map; set tokens[index:] below it.
        rest = tokens[index + 1 :]
        wrapped: Any = value
        for token in reversed(rest):
            wrapped = {token: wrapped}
        add = f"[{jsonpatch('add', jp.join('', *tokens[: index + 1]), literal(wrapped))}]"
        if not rest:
            return add
        child = member(node, tokens[index])
        return (
            f"({has(node, tokens[index])} && {is_map(child)} ? {build(child, index + 1)} : {add})"
        )

    return build("object", 0)


# The purpose model (`traits.derive`) in CEL, from traits' own tables: its patterns rewritten
# for RE2 (`re2.translate`), its word sets as alternations.


def pattern(compiled: Pattern | re.Pattern[str]) -> str:
    """An engine pattern as RE2 (`re2.translate`); NotExpressible when it cannot be."""
    try:
        found = re2.translate(compiled.pattern)
    except re2.Unsupported as exc:
        raise NotExpressible(f"a pattern of rules/traits.py: {exc}") from exc
    return found if found is not None else _NEVER


_NEVER = r"[^\x00-\x{10FFFF}]"
"""Matches nothing (for a table whose every entry is `(?!)`)."""


def any_of(patterns: Iterable[Pattern | re.Pattern[str]]) -> str:
    """One RE2 pattern matching where any of the engine patterns does."""
    found = [p for p in (pattern(c) for c in patterns) if p != _NEVER]
    return "|".join(f"(?:{p})" for p in found) if found else _NEVER


def words(table: Iterable[str]) -> str:
    """Matches a string holding one of the words as a whole `[a-z0-9]+` run (`traits._words`)."""
    return "(?:^|[^a-z0-9])(?:" + "|".join(sorted(map(re.escape, table))) + ")(?:$|[^a-z0-9])"


def python_str(value: str) -> str:
    """A CEL string: a scalar JSON value as Python's `str()` writes it (empty for a list or a
    map, which Kubernetes never takes where this reads)."""
    whole = f"({value} == double(int({value})) ? string(int({value})) + '.0' : string({value}))"
    return (
        f"(type({value}) == string ? {value} : type({value}) == null_type ? 'None' : "
        f"type({value}) == bool ? ({value} ? 'True' : 'False') : "
        f"type({value}) == int || type({value}) == uint ? string({value}) : "
        f"type({value}) == double ? ({value} > -1e15 && {value} < 1e15 ? {whole} : "
        f"string({value})) : '')"
    )


def _joined(spec: str, key: str, names: Names) -> str:
    """A CEL string: `traits._joined(spec.get(key))`."""
    x, value = names("x"), member(spec, key)
    return (
        f"({has(spec, key)} ? (type({value}) == list ? "
        f"{value}.map({x}, {python_str(x)}).join(' ') : {python_str(value)}) : '')"
    )


def _env(spec: str, names: Names) -> str:
    """A CEL string: `traits._env(spec)`."""
    x, env = names("x"), member(spec, "env")
    part = {k: f"({has(x, k)} ? {python_str(member(x, k))} : '')" for k in ("name", "value")}
    return (
        f"({has(spec, 'env')} && type({env}) == list ? {env}.filter({x}, {is_map(x)})"
        f".map({x}, {part['name']} + ' ' + {part['value']}).join(' ') : '')"
    )


def _image_name(spec: str, names: Names) -> str:
    """A CEL string: `traits.image_name(spec.get("image"))` (stripped, no digest, lower-case,
    no tag)."""
    i, n, image = names("i"), names("n"), member(spec, "image")
    at = f"{i}.indexOf('@')"
    colon, slash = f"{n}.lastIndexOf(':')", f"{n}.lastIndexOf('/')"
    return (
        f"({has(spec, 'image')} && type({image}) == string ? [{image}.trim()]"
        f".map({i}, ({at} >= 0 ? {i}.substring(0, {at}) : {i}).lowerAscii())"
        f".map({n}, {colon} > {slash} ? {n}.substring(0, {colon}) : {n})[0] : '')"
    )


def _word_class(chars: str, negate: bool = False) -> str:
    return re2.char_class(chars, negate)


def _any_nocase(words: Iterable[str]) -> str:
    """Matches any of the lower-case ASCII words in any letter case (RE2's `(?i)`: besides
    ASCII it folds the Kelvin sign into `k`, as Python's `str.lower()` does, and the long s,
    U+017F, into `s`, which Python does not: `plain` commands have none)."""
    return "(?i:" + "|".join(re2.escape(w) for w in sorted(words)) + ")"


_DIGITS = r"\p{Nd}"
"""RE2's class of what Python's `\\d` matches in a string (Unicode decimal digits)."""


def _reading() -> dict[str, str]:
    """RE2 patterns reading a command as `traits._programs` does, for the commands whose
    reading a regular expression gets exactly (no `unclean` and no `launcher`):

    - `unclean`: a statement (split at `;&|` and line ends outside quotes) whose shell words,
      assignments and redirections and then its program word hold a quote, a backslash, a
      space other than space, tab and CR, or a long s (see `_any_nocase`); without one, the
      words up to each program are those `shlex` splits at those spaces, as does the engine's
      fallback for an unbalanced quote, and the rest of the statement may hold anything,
      quotes hiding separators;
    - `launcher`: a word naming a launcher (`mpirun`, `ssh`, `torchrun`, a Python launcher
      module) anywhere, whose options the engine skips to the program they start (read on the
      command without quotes and backslashes, like `maybe` and `mpi`);
    - `trivial` / `none`: every statement's program (after the shell words, assignments and
      redirections that lead it; a loop head makes it run none) only waits, prints or probes /
      no statement runs a program;
    - `maybe`: on the command without quotes and backslashes, some word whose base name is a
      trivial program; without one the command is not trivial whatever its reading;
    - `mpi`: likewise, some word naming an MPI launcher (`traits.launched`).
    Raises NotExpressible when traits' reading changed shape."""
    checks = (
        traits._statements("a;b&c|d\ne 'f;g'") == ["a", "b", "c", "d", "e 'f;g'"],
        traits._ASSIGNMENT.pattern == r"^[A-Za-z_][A-Za-z0-9_]*=",
        traits._REDIRECT.pattern == r"^\d*[<>]",
        not traits._TRIVIAL & {w.lower() for w in traits._SHELLS},
        not traits._TRIVIAL & {w.rsplit("/", 1)[-1].lower() for w in traits._SHELLS},
        not traits._TRIVIAL & (traits._LOOP_HEADS | traits._MPI | {"ssh", "torchrun"}),
        all(re.fullmatch(r"[a-z_][a-z0-9_.-]*", w) for w in traits._TRIVIAL),
    )
    if not all(checks):
        raise NotExpressible("traits' reading of commands changed shape")
    separators = ";&|\n"
    blanks = " \t\r"
    quoting = "'\"\\"
    # Read only without other spaces (`str.split` splits at them where `shlex` does not) or a
    # long s: these are `odd` anywhere in a command.
    odd = "".join(set(re2.WHITESPACE) - set(blanks + "\n")) + "\u017f"
    ws, sep = re2.char_class(blanks), re2.char_class(separators)
    word = re2.char_class(blanks + separators + quoting, negate=True)
    end = f"(?:{ws}|{sep}|$)"
    # The rest of a statement, where quotes hide separators (`traits._statements`: no escapes
    # but a backslash-newline, which joins lines).
    tail = "(?:\\\\\n|[^;&|\\n'\"]|'[^']*(?:'|$)|\"[^\"]*(?:\"|$))*"
    rest = f"(?:{sep}|$|{ws}{tail})"
    shells = "|".join(re2.escape(w) for w in sorted(traits._SHELLS, key=lambda w: (-len(w), w)))
    assignment = f"[A-Za-z_][A-Za-z0-9_]*={word}*"
    redirect = f"{_DIGITS}*[<>]{word}*"
    skip = f"(?:{shells}|{assignment}|{redirect}){end}"
    loop = f"(?:{word}*/)?{_any_nocase(traits._LOOP_HEADS)}{rest}"

    def but(chars: str, extra: str) -> str:
        return re2.char_class(blanks + separators + quoting + chars, negate=True)[:-1] + extra + "]"

    # The path before a program's base name, on a word that is no assignment or redirection.
    other = but("<>/", f"A-Za-z_{_DIGITS}")
    ident_end = but("=/", "A-Za-z0-9_")
    digit_end = but("<>/", _DIGITS)
    path = (
        f"(?:/|[A-Za-z_][A-Za-z0-9_]*(?:/|{ident_end}{word}*/)|"
        f"{_DIGITS}+(?:/|{digit_end}{word}*/)|{other}{word}*/)(?:{word}*/)?"
    )
    program = f"(?:{path})?{_any_nocase(traits._TRIVIAL)}{rest}"
    # Around a word's base name, on a command without quotes: wider than the engine's word
    # boundaries (any space, a separator, a slash), so these find at least what it finds.
    before, after = "(?:^|[^A-Za-z0-9_])", "(?:$|[^A-Za-z0-9_./-])"
    python = "|".join(re2.escape(m) for m in sorted(traits._PYTHON_LAUNCHERS))
    launchers = _any_nocase(traits._MPI | {"ssh", "torchrun"})
    # A statement to its separator (any one led by a clean word: the words that lead the
    # others are not read).
    statement = f"(?:{ws}*(?:{word}+(?:{ws}{tail})?)?{sep})"
    return {
        "odd": re2.char_class(odd),
        "unclean": f"^{statement}*(?:{ws}|{skip})*{word}*{re2.char_class(quoting)}",
        "launcher": f"{before}{launchers}{after}|{python}",
        "mpi": f"{before}{_any_nocase(traits._MPI)}{after}",
        "trivial": f"^(?:{ws}|{sep}|{skip}|{loop}|{program})*$",
        "none": f"^(?:{ws}|{sep}|{skip}|{loop})*$",
        "maybe": f"{before}{_any_nocase(traits._TRIVIAL)}{after}",
    }


def _unquoted(text: str) -> str:
    """A CEL string: `text` without quotes and backslashes."""
    return f"{text}.replace(\"'\", '').replace('\"', '').replace('\\\\', '')"


def _means_gpu(r: str) -> str:
    """A CEL bool: `traits.means_gpu(r)`."""
    lowered = f"{r}.lowerAscii()"
    accelerator = literal(accelerator_pattern())
    gpu = literal(device_patterns()["GPU"])
    gpu_word = traits._GPU_WORD.pattern
    if not (gpu_word.startswith("^") and gpu_word.endswith("$")):
        raise NotExpressible("traits' GPU word pattern changed shape")
    part = literal("(?:^|/)" + gpu_word[1:])
    return (
        f"({lowered}.matches({gpu}) || "
        f"(!{lowered}.matches({accelerator}) && {lowered}.matches({part})))"
    )


def _asks_gpu(c: str, names: Names) -> str:
    """A CEL bool: `traits._asks_gpu(c)` (a resource key of requests or limits means a GPU)."""
    resources = member(c, "resources")
    r = names("r")
    found = []
    for section in ("requests", "limits"):
        amounts = member(resources, section)
        found.append(
            f"({has(c, 'resources')} && {has(resources, section)} && {is_map(amounts)} && "
            f"{amounts}.exists({r}, {_means_gpu(r)}))"
        )
    return "(" + " || ".join(found) + ")"


def _declares_port(c: str, names: Names) -> str:
    """A CEL bool: `traits.declares_port(c)`."""
    x, ports = names("x"), member(c, "ports")
    probes = [
        f"({has(c, probe)} && {is_map(member(c, probe))} && "
        + "("
        + " || ".join(
            f"({has(member(c, probe), h)} && {is_map(member(member(c, probe), h))})"
            for h in ("httpGet", "tcpSocket", "grpc")
        )
        + "))"
        for probe in traits._PROBES
    ]
    declared = f"({has(c, 'ports')} && type({ports}) == list && {ports}.exists({x}, {is_map(x)}))"
    return "(" + " || ".join([declared, *probes]) + ")"


_STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pods_server", ("server",)),
    ("pods_ml", ("mlcmd",)),
    ("pods_launch", ("launch",)),
    ("pods_read", ("read",)),
    ("pods_every", ("every",)),
    ("pods_trivial", ("trivial",)),
    ("pods_unread", ("unread", "mpi")),
)
"""The costly facts of containers (patterns over their whole command text), each computed in a
variable of its own: the API server limits the cost of each variable (`PerCallLimit`), and
`matches()` costs the length of the text times the pattern's (docs/policies.md)."""


def _trait_stages(found: str, names: Names) -> list[tuple[str, str]]:
    """Variables that add the containers' text (`t`) and then, stage by stage, their costly
    facts (`f`) to the pods `found` (the name of the variable holding them)."""
    reading = {k: literal(v) for k, v in _reading().items()}
    servers = traits.MODEL_SERVERS
    server_command = any_of(s.command for s in servers if s.command is not None)
    server_image = any_of(s.image for s in servers)

    def facts(e: str) -> dict[str, str]:
        t, bare = f"{e}.t", _unquoted(f"{e}.t.cmd")
        read = f"{e}.f.read"
        return {
            "server": (
                f"({t}.cmd.matches({literal(server_command)}) || "
                f"(!{t}.cmd.matches({literal(pattern(traits._RAY_MEMBER))}) && "
                f"{t}.image != '' && {t}.image.matches({literal(server_image)})))"
            ),
            "mlcmd": f"({t}.cmd + ' ' + {t}.env).matches({literal(pattern(traits._ML_COMMAND))})",
            # A command the patterns read as the engine does (`_reading`); another is read
            # only for whether it may run a trivial program (`unread`: undecided) and an MPI
            # launcher. (`&&` stops early: the API server charges only the calls made.)
            "launch": f"{bare}.matches({reading['launcher']})",
            "read": (
                f"(!{e}.f.launch && !{t}.cmd.matches({reading['odd']}) && "
                f"!{t}.cmd.matches({reading['unclean']}))"
            ),
            "every": f"({read} && {t}.cmd.matches({reading['trivial']}))",
            "trivial": f"({e}.f.every && !{t}.cmd.matches({reading['none']}))",
            "unread": f"(!{read} && {bare}.matches({reading['maybe']}))",
            "mpi": f"({e}.f.launch && {bare}.matches({reading['mpi']}))",
        }

    def restage(source: str, fields: Callable[[str], dict[str, str]]) -> str:
        g, p, e = names("g"), names("p"), names("e")
        entries = ", ".join(f"{literal(k)}: {v}" for k, v in fields(e).items())
        pod = {k: f"{p}.{k}" for k in _POD_FIELDS}
        pod["containers"] = f"{p}.containers.map({e}, {{{entries}}})"
        made = ", ".join(f"{literal(k)}: {v}" for k, v in pod.items())
        return f"{source}.map({g}, {g}.map({p}, {{{made}}}))"

    def text(e: str) -> dict[str, str]:
        spec = f"{e}.spec"
        basics = {
            "image": _image_name(spec, names),
            "raw": f"({has(spec, 'image')} && type({spec}.image) == string ? {spec}.image : '')",
            "cmd": f"{_joined(spec, 'command', names)} + ' ' + {_joined(spec, 'args', names)}",
            "env": _env(spec, names),
            "label": f"{e}.label.lowerAscii()",
        }
        made = ", ".join(f"{literal(k)}: {v}" for k, v in basics.items())
        return {"name": f"{e}.name", "spec": spec, "init": f"{e}.init", "t": f"{{{made}}}"}

    stages = [("pods_text", restage(f"variables.{found}", text))]
    done: list[str] = []
    for name, added in _STAGES:

        def more(
            e: str, added: tuple[str, ...] = added, kept: tuple[str, ...] = tuple(done)
        ) -> dict[str, str]:
            fields = {k: f"{e}.{k}" for k in ("name", "spec", "init", "t")}
            new = {k: v for k, v in facts(e).items() if k in added}
            old = {k: f"{e}.f.{k}" for k in kept}
            fields["f"] = (
                "{" + ", ".join(f"{literal(k)}: {v}" for k, v in {**old, **new}.items()) + "}"
            )
            return fields

        stages.append((name, restage(f"variables.{stages[-1][0]}", more)))
        done += added
    if set(done) != set(facts("e")):
        raise NotExpressible("a costly fact is computed in no stage")
    return stages


_POD_FIELDS = ("spec", "suppressed", "extra", "role", "partial", "provided", "decided", "launcher")


def _container_traits(e: str, names: Names) -> str:
    """A CEL map: the staged container entry `e` (`_trait_stages`) with every fact the purpose
    model reads of it."""
    spec = f"{e}.spec"
    f = f"{e}.t"
    service = image_name_pattern(traits._SERVICE_IMAGES)
    tool = image_name_pattern(traits._TOOL_IMAGES)
    last = f"{f}.image.substring({f}.image.lastIndexOf('/') + 1)"
    ports = member(spec, "ports")
    facts = {
        **{k: f"{e}.f.{k}" for _, added in _STAGES for k in added},
        "service": f"({f}.image != '' && {f}.raw.matches({literal(service)}))",
        "tool": f"({f}.image != '' && {f}.raw.matches({literal(tool)}))",
        "load": f"{f}.cmd.matches({literal(pattern(traits._LOAD_TEST))})",
        "mlimage": f"{last}.matches({literal(words(traits._ML_WORDS))})",
        "servingimage": f"{last}.matches({literal(words(traits._SERVING_WORDS))})",
        "ui": f"{last}.matches({literal(words(traits._UI_WORDS))})",
        "front": (
            f"({last}.matches({literal(words(traits._FRONT_WORDS))}) || "
            f"{f}.label.matches({literal(words(traits._FRONT_WORDS))}) || "
            f"{f}.cmd.matches({literal(pattern(traits._NOTEBOOK))}))"
        ),
        "port": _declares_port(spec, names),
        "ports": f"({has(spec, 'ports')} && type({ports}) == list && size({ports}) > 0)",
        "asked": _asked(spec, names),
        "claims": _container_claims(spec, names),
        "gpu": _asks_gpu(spec, names),
    }
    entries = ", ".join(f"{literal(k)}: {v}" for k, v in facts.items())
    return f"{{'name': {e}.name, 'spec': {spec}, 'init': {e}.init, 'facts': {{{entries}}}}}"


# The translations, one per rule code.


def _gpu_not_in_limits(engine: Engine, active: ActiveRule) -> Translation:
    names = Names()
    accelerator = literal(accelerator_pattern())
    pod, entry, r = names("p"), names("e"), names("r")
    resources = member(f"{entry}.spec", "resources")
    requests, limits = member(resources, "requests"), member(resources, "limits")
    amount = f"{requests}[{r}]"
    limited = f"({has(resources, 'limits')} && {is_map(limits)} && {r} in {limits})"
    same = f"({limited} && {limits}[{r}] == {amount})"
    problem = f"({limited} ? {literal('with a different limit')} : {literal('with no limit')})"
    message = (
        f"{literal('container ')} + {entry}.name + {literal(' requests ')} + {text(amount)} + "
        f"{literal(' ')} + {r} + {literal(' ')} + {problem} + "
        f"{literal('; GPUs are scheduled from limits: set limits.')} + {r} + "
        f"{literal(' to ')} + {text(amount)}"
    )
    per_resource = (
        f"{requests}.map({r}, {r}.matches({accelerator}) && !{same} ? {message} : {literal('')})"
    )
    per_container = (
        f"({has(entry + '.spec', 'resources')} && {has(resources, 'requests')} && "
        f"{is_map(requests)} ? {lines(per_resource)} : {literal('')})"
    )
    group = names("g")
    per_pod = (
        f"({pod}.suppressed ? '' : {lines(f'{pod}.containers.map({entry}, {per_container})')})"
    )
    findings = lines(f"variables.pods.map({group}, {lines(f'{group}.map({pod}, {per_pod})')})")
    keys = _template_suppression(engine, active)
    return Translation(findings, variables=pods(engine.kinds, names, suppression=keys))


def _gpu_resource_name_invalid(engine: Engine, active: ActiveRule) -> Translation:
    names = Names()
    accelerator = literal(accelerator_pattern())
    gpu = literal(device_patterns()["GPU"])
    # `traits._GPU_WORD` on the part after the last `/`.
    gpu_word = literal(r"(?:^|/)(?:[a-z0-9]+[-_])?gpus?$")
    pod, entry, r, group = names("p"), names("e"), names("r"), names("g")
    resources = member(f"{entry}.spec", "resources")
    lowered = f"{r}.lowerAscii()"
    means_gpu = (
        f"({lowered}.matches({gpu}) || "
        f"(!{lowered}.matches({accelerator}) && {lowered}.matches({gpu_word})))"
    )
    meant = (
        f"({lowered}.matches({accelerator}) ? {lowered} : {lowered}.contains('intel') ? '' : "
        f"{lowered}.contains('amd') ? 'amd.com/gpu' : 'nvidia.com/gpu')"
    )
    quote = literal("'")
    per_kind = []
    for section in ("requests", "limits"):
        amounts = member(resources, section)
        head = (
            f"{literal('container ')} + {entry}.name + {literal(' asks for ')} + {quote} + {r} + "
            f"{quote} + {literal(f' in resources.{section}, which no device plugin advertises')}"
        )
        unknown = literal(": use the name the cluster's GPU plugin uses")
        known = f"{literal(', so the pod cannot be scheduled: use ')} + {quote} + {meant} + {quote}"
        message = f"{head} + ({meant} == '' ? {unknown} : {known})"
        found = f"{amounts}.map({r}, !{r}.matches({accelerator}) && {means_gpu} ? {message} : '')"
        per_kind.append(
            f"({has(entry + '.spec', 'resources')} && {has(resources, section)} && "
            f"{is_map(amounts)} ? {lines(found)} : '')"
        )
    per_container = either(*per_kind)
    per_pod = (
        f"({pod}.suppressed ? '' : {lines(f'{pod}.containers.map({entry}, {per_container})')})"
    )
    findings = lines(f"variables.pods.map({group}, {lines(f'{group}.map({pod}, {per_pod})')})")
    keys = _template_suppression(engine, active)
    return Translation(findings, variables=pods(engine.kinds, names, suppression=keys))


def _gpu_scale_to_zero(engine: Engine, active: ActiveRule) -> Translation:
    from mllint.rules.catalog.gpu_scale_to_zero import DEPLOYMENT_MODE, RAW_MODES

    names = Names()
    g, p, e, n = names("g"), names("p"), names("e"), names("n")
    annotations = "object.metadata.annotations"
    raw = (
        f"({has('object', 'metadata')} && {has('object.metadata', 'annotations')} && "
        f"{is_map(annotations)} && {literal(DEPLOYMENT_MODE)} in {annotations} && "
        f"{annotations}[{literal(DEPLOYMENT_MODE)}] in {literal(list(RAW_MODES))})"
    )
    count = f"{p}.containers.map({e}, {accelerator_count(f'{e}.spec', names)}).sum()"
    zero = f"({has(f'{p}.spec', 'minReplicas')} && {p}.spec.minReplicas == 0)"
    message = (
        f"{literal('component requests ')} + string({n}) + ' ' + {device(p)} + "
        f"{literal('(s) and scales to zero, so a request after an idle period waits for a ')} + "
        f"{device(p)} + {literal(' node, the model download and its load: set minReplicas: 1')}"
    )
    per_pod = lines(f"({zero} ? [{count}] : []).map({n}, {n} > 0 ? {message} : '')")
    per_group = lines(f"{g}.map({p}, {per_pod})")
    findings = f"({raw} ? '' : {lines(f'variables.pods.map({g}, {per_group})')})"
    kinds = [k for k in engine.kinds if k.kind in active.rule.kinds]
    return Translation(findings, variables=pods(kinds, names, suppression=None, accelerators=True))


def _mpi_slots_gpu_mismatch(engine: Engine, active: ActiveRule) -> Translation:
    from mllint.rules.catalog.mpi_slots_gpu_mismatch import SLOTS, WORKER

    if SLOTS != "/spec/slotsPerWorker":
        raise NotExpressible(f"the slots moved to {SLOTS}")
    # The pods the rule judges are those under WORKER: the templates whose wildcard takes the
    # worker's key, as pods of their own.
    replica = jp.split(WORKER.rstrip("/"))
    kinds = []
    for kind in engine.kinds:
        if kind.kind not in active.rule.kinds:
            continue
        templates = []
        for t in kind.templates:
            tokens = jp.split(t.path)
            if len(tokens) > len(replica) and all(
                a in (b, jp.WILDCARD) for a, b in zip(tokens, replica, strict=False)
            ):
                path = jp.join("", *replica, *tokens[len(replica) :])
                templates.append(t.replace(path=path))
        kinds.append(kind.replace(templates=tuple(templates)))
    names = Names()
    g, p, e, n = names("g"), names("p"), names("e"), names("n")
    spec = "object.spec"
    slots = f"({has(spec, 'slotsPerWorker')} ? {spec}.slotsPerWorker : 1)"
    written = has(spec, "slotsPerWorker")
    dev = device(p)
    message = (
        f"'each worker requests ' + string({n}) + ' ' + {dev} + 's but slotsPerWorker is ' + "
        f"string({slots}) + ({written} ? '' : ' (the default)') + "
        f"', so mpirun starts ' + string({slots}) + ' process(es) per worker' + "
        f"({slots} < {n} ? ' and ' + {dev} + 's sit idle' : ' that share ' + {dev} + 's') + "
        f"': set slotsPerWorker: ' + string({n})"
    )
    asked = accelerator_count(f"{e}.spec", names)
    main = f"{p}.containers.filter({e}, !{e}.init)"
    count = f"{main}.map({e}, {asked}).sum()"
    # Neuron, TPU or shared GPUs: one count does not say how many ranks (as the rule).
    whole = f"!{main}.exists({e}, {other_devices(f'{e}.spec', names)})"
    per_pod = lines(
        f"[{count}].map({n}, {whole} && {n} != 0 && type({slots}) == int && {slots} != {n} ? "
        f"{message} : '')"
    )
    per_group = lines(f"{g}.map({p}, {per_pod})")
    findings = (
        f"({has('object', 'spec')} && {is_map(spec)} ? "
        f"{lines(f'variables.pods.map({g}, {per_group})')} : '')"
    )
    return Translation(findings, variables=pods(kinds, names, suppression=None, accelerators=True))


def _ray_head_gpu(engine: Engine, active: ActiveRule) -> Translation:
    from mllint.rules.catalog.ray_head_gpu import HEAD

    names = Names()

    def extra(template: PodTemplate, names: Names) -> dict[str, str]:
        pointer = template.path + "/spec"
        if template.inline or not pointer.endswith(HEAD):
            return {"head": "false"}
        cluster = pointer[: -len(HEAD)]
        if jp.WILDCARD in jp.split(cluster):
            raise NotExpressible("a Ray head template under a wildcard")
        workers = values("object", cluster + "/workerGroupSpecs", names)
        return {"head": f"(size({workers}) > 0 && {_truthy(f'{workers}[0]')})"}

    g, p, e, n = names("g"), names("p"), names("e"), names("n")
    said = "(s); the head runs the cluster's control plane and should not run accelerator work: "
    message = (
        f"{literal('Ray head container ')} + {e}.name + {literal(' requests ')} + "
        f"string({n}) + ' ' + {device(p)} + {literal(said)} + 'give the ' + {device(p)} + "
        f"{literal('s to a worker group')}"
    )
    count = accelerator_count(f"{e}.spec", names)
    per_container = lines(f"[{count}].map({n}, {n} > 0 ? {message} : '')")
    per_pod = (
        f"({p}.extra.head && !{p}.suppressed ? "
        f"{lines(f'{p}.containers.filter({e}, !{e}.init).map({e}, {per_container})')} : '')"
    )
    findings = lines(f"variables.pods.map({g}, {lines(f'{g}.map({p}, {per_pod})')})")
    kinds = [k for k in engine.kinds if k.kind in active.rule.kinds]
    keys = _template_suppression(engine, active)
    variables = pods(kinds, names, suppression=keys, accelerators=True, extra=extra)
    return Translation(findings, variables=variables)


def _clean_pod_policy_none(engine: Engine, active: ActiveRule) -> Translation:
    from mllint.rules.catalog.clean_pod_policy_none import DEFAULTS, KINDS, POLICY

    spec, run_policy = "object.spec", "object.spec.runPolicy"
    if POLICY != "/spec/runPolicy/cleanPodPolicy":
        raise NotExpressible(f"the policy moved to {POLICY}")
    default = f"(object.kind in {literal(DEFAULTS)} ? {literal(DEFAULTS)}[object.kind] : 'None')"
    names = Names()
    g, p = names("g"), names("p")
    # The device of the first pod that uses accelerators, in the engine's order of pods.
    accelerated = f"variables.pods.filter({g}, {g}.exists({p}, {p}.uses))"
    first = f"{accelerated}[0].filter({p}, {p}.uses)[0]"

    def message(how: str) -> str:
        before = f" cleanPodPolicy {how}, so pods still running when the job finishes (workers "
        after = "s until the job is deleted: set cleanPodPolicy: Running"
        return (
            f"object.kind + {literal(before + 'waiting on a dead peer) keep their ')} + "
            f"{device(first)} + {literal(after)}"
        )

    present = f"{run_policy}.cleanPodPolicy"
    judged = (
        f"{has('object', 'spec')} && {is_map(spec)} && !{has(spec, 'cleanPodPolicy')} && "
        f"!{has(spec, 'template')} && size({accelerated}) > 0"
    )
    findings = (
        f"({judged} ? ("
        f"!{has(spec, 'runPolicy')} ? ({default} == 'None' ? {message('defaults to None')} : '') : "
        f"{is_map(run_policy)} ? ({has(run_policy, 'cleanPodPolicy')} ? "
        f"({present} == 'None' ? {message('is None')} : '') : "
        f"({default} == 'None' ? {message('defaults to None')} : '')) : '') : '')"
    )
    patch = f"variables.findings != '' ? {set_value(POLICY, 'Running')} : []"
    kinds = [k for k in engine.kinds if k.kind in KINDS]
    variables = pods(kinds, names, suppression=None, accelerators=True)
    return Translation(findings, patch, variables)


def _hpa_metrics_missing(engine: Engine, active: ActiveRule) -> Translation:
    from mllint.rules.catalog.hpa_metrics_missing import ALPHA_METRICS, GROUP, cpu_target

    percent: int = active.options.cpu_utilization  # type: ignore[attr-defined]
    findings, patches = [], []
    for version in ("v1", "v2beta1", "v2beta2", "v2"):
        wanted = cpu_target(version, percent)
        if wanted is None:
            continue
        name, value = wanted
        spec = "object.spec"
        value_at = member(spec, name)
        unset = (
            f"(!{has('object', 'spec')} || ({is_map(spec)} && (!{has(spec, name)} || "
            f"{value_at} == null || {value_at} == [])))"
        )
        message = literal(
            f"autoscaler states no {name}, so it scales on an implicit 80% CPU target: "
            f"state the metric to scale on (e.g. CPU at {percent}%)"
        )
        test = f"object.apiVersion == {literal(GROUP + '/' + version)}"
        findings.append(f"{test} && {unset} ? {message}")
        patches.append(f"{test} ? {set_value('/spec/' + name, value)}")
    annotations = "object.metadata.annotations"
    alpha = (
        f"({has('object', 'metadata')} && {has('object.metadata', 'annotations')} && "
        f"{is_map(annotations)} && {literal(ALPHA_METRICS)} in {annotations})"
    )
    found = f"({alpha} ? '' : " + " : ".join(findings) + " : '')"
    patch = "variables.findings == '' ? [] : " + " : ".join(patches) + " : []"
    return Translation(found, patch)


def plain_field(pointer: str, missing: str, present: Callable[[str], str]) -> str:
    """A CEL string for the field a plain pointer names, as `resources.fields` finds it:
    `missing` when it (or a parent) is absent below maps, `present(value)` when it is set, empty
    when the path runs through something that is not a map."""
    *head, leaf = jp.split(pointer)
    if any(t == jp.WILDCARD or t.isdigit() for t in (*head, leaf)):
        raise NotExpressible(f"the pointer {pointer!r} is not a plain path")

    def walk(node: str, index: int) -> str:
        if index == len(head):
            inner = f"({has(node, leaf)} ? {present(member(node, leaf))} : {missing})"
        else:
            token = head[index]
            inner = f"({has(node, token)} ? {walk(member(node, token), index + 1)} : {missing})"
        return f"({is_map(node)} ? {inner} : {literal('')})"

    return walk("object", 0)


@dataclass(frozen=True, slots=True)
class PerKind:
    """A rule translated kind by kind: findings and maybe a patch per kind it covers."""

    findings: dict[WorkloadKind, str]
    patches: dict[WorkloadKind, str]
    left_out: tuple[str, ...]


def _per_kind(kinds: Iterable[WorkloadKind], judge: Judge) -> Translation:
    """A translation from one (findings, patch) per kind; a kind `judge` cannot translate is
    left out, with the reason."""
    findings: list[tuple[WorkloadKind, str]] = []
    patches: list[tuple[WorkloadKind, str]] = []
    left_out: list[str] = []
    for kind in kinds:
        try:
            found, patch = judge(kind)
        except NotExpressible as exc:
            left_out.append(f"{kind.key}: {exc}")
            continue
        findings.append((kind, found))
        if patch is not None:
            patches.append((kind, patch))
    if not findings:
        raise NotExpressible("; ".join(left_out) or "no kind it judges")
    chosen = " : ".join(f"{_kind_test(k)} ? {f}" for k, f in findings)
    patch = None
    if patches:
        fixes = " : ".join(f"{_kind_test(k)} ? {f}" for k, f in patches)
        patch = f"variables.findings == '' ? [] : ({fixes} : [])"
    return Translation(
        f"({chosen} : {literal('')})",
        patch,
        kinds=frozenset((k.group, k.kind) for k, _ in findings),
        patch_kinds=frozenset((k.group, k.kind) for k, _ in patches),
        left_out=tuple(left_out),
    )


Judge = Callable[["WorkloadKind"], tuple[str, "str | None"]]
"""Translates a rule for one kind: (findings, patch or None); NotExpressible leaves it out."""


def _kind_test(kind: WorkloadKind) -> str:
    return f"object.kind == {literal(kind.kind)} && {_group_test(kind.group)}"


def _lifecycle(
    engine: Engine,
    active: ActiveRule,
    setting: str,
    message: Callable[[WorkloadKind, str, str], str],
    *,
    gate: str = "true",
    fix: bool = True,
    unsupported: Callable[[WorkloadKind], str | None] = lambda kind: None,
) -> Translation:
    """A rule asking for a lifecycle setting (`workload.Lifecycle.unmet`) where it is missing,
    when `gate` (a CEL bool) holds. `message(kind, field, "field: value")` is the CEL string of
    its message; with `fix`, the patch sets the rule's `default` option. A kind for which
    `unsupported` gives a reason is left out."""
    from mllint.rules.model import literal as written

    default = active.options.default  # type: ignore[attr-defined]
    names = Names()

    def judge(kind: WorkloadKind) -> tuple[str, str | None]:
        lifecycle = kind.lifecycle
        pattern: str = getattr(lifecycle, setting)
        reason = unsupported(kind)
        if reason is not None:
            raise NotExpressible(reason)
        if any(name == setting for name, _, _ in lifecycle.enabled_by):
            raise NotExpressible("the setting needs a switch (not translated)")
        *head, leaf = jp.split(pattern)
        said = message(kind, leaf, f"{leaf}: {written(default)}")
        patch = None
        if jp.WILDCARD in head:
            parent, x = jp.parent(pattern), names("x")
            items = values("object", parent, names)
            found = lines(f"{items}.map({x}, {is_map(x)} && !{has(x, leaf)} ? {said} : '')")
        else:
            found = plain_field(pattern, said, lambda value: literal(""))
            patch = set_value(pattern, default) if fix else None
        for other, alternative in lifecycle.satisfied_by:
            if other == setting:
                found = f"({reaches('object', alternative, names)} ? '' : {found})"
        return found, patch

    kinds = [k for k in engine.kinds if getattr(k.lifecycle, setting) is not None]
    translated = _per_kind(kinds, judge)
    if gate == "true":
        return translated
    return replace(translated, findings=f"({gate} ? {translated.findings} : '')")


def _job_ttl_missing(engine: Engine, active: ActiveRule) -> Translation:
    names = Names()
    g, p, e = names("g"), names("p"), names("e")
    forever = f"({e}.init || {_serves_forever(f'{e}.spec')})"
    # Every main container of every pod runs a server that never finishes (and there are pods).
    endless = (
        f"(variables.pods.exists({g}, size({g}) > 0) && "
        f"variables.pods.all({g}, {g}.all({p}, {p}.containers.all({e}, {forever}))))"
    )
    translated = _lifecycle(
        engine,
        active,
        "ttl",
        lambda kind, field, setting: literal(
            f"{kind.kind} has no {field}, so it and its pods are kept after they finish: "
            f"set {setting}"
        ),
        gate=f"!{endless}",
    )
    covered = translated.kinds or frozenset()
    listed = [k for k in engine.kinds if (k.group, k.kind) in covered]
    return replace(translated, variables=pods(listed, names, suppression=None))


def _serves_forever(spec: str) -> str:
    """A CEL bool: `traits.serves_forever` (a server image run with its own entrypoint, or
    `sleep infinity` as the whole command)."""
    image = f"{spec}.image"
    pattern = literal(image_name_pattern(_SERVERS_FOREVER))
    return (
        f"({_sleeps_forever(spec)} || (!{has(spec, 'command')} && !{has(spec, 'args')} && "
        f"{has(spec, 'image')} && type({image}) == string && {image}.matches({pattern})))"
    )


def _sleeps_forever(spec: str) -> str:
    """A CEL bool: `traits.sleeps_forever` (command and arguments `sleep infinity`, no more)."""
    lists = " && ".join(
        f"(!{has(spec, key)} || type({spec}.{key}) == list)" for key in ("command", "args")
    )
    words = " + ".join(f"({has(spec, key)} ? {spec}.{key} : [])" for key in ("command", "args"))
    return (
        f"({lists} && size({words}) == 2 && ({words})[0] in {literal(list(SLEEP_COMMANDS))} "
        f"&& ({words})[1] in {literal(list(FOREVER))})"
    )


def image_name_pattern(pattern: Pattern | re.Pattern[str]) -> str:
    """A pattern of an image reference as written, equivalent to `pattern` searched in the
    reference's name (`traits.image_name`: stripped, no digest, no tag, lower-cased) followed
    by `:`, for patterns of the shape `(?:^|/)(?:...)(?:$|[:@/])`."""
    head, tail = "(?:^|/)(?:", ")(?:$|[:@/])"
    source = pattern.pattern
    if not (source.startswith(head) and source.endswith(tail)):
        raise NotExpressible("an image pattern changed shape")
    words = source[len(head) : -len(tail)]
    return rf"(?i)^(?:\s*|[^@]*/)(?:{words})(?:\s*$|[:@/])"


def _by_purpose(
    engine: Engine, active: ActiveRule, per_pod: Callable[[str, Names], str]
) -> Translation:
    """A rule judging the pods of the purposes and roles it names (`Subject.scope`):
    `per_pod(p, names)` gives the CEL string of its findings for the pod `p`."""
    rule = active.rule
    names = Names()
    g, p = names("g"), names("p")
    # A pod whose purpose the policy cannot decide as the engine does is left alone.
    tests = [f"!{p}.suppressed", f"!{p}.undecided"]
    if not rule.fragments:
        tests.append(f"!{p}.partial")
    if rule.roles:
        tests.append(f"{p}.role in {literal(sorted(r.value for r in rule.roles))}")
    if active.purposes:
        tests.append(f"{p}.purpose in {literal(sorted(x.value for x in active.purposes))}")
    judged = " && ".join(tests)
    per_group = lines(f"{g}.map({p}, {judged} ? {per_pod(p, names)} : '')")
    findings = lines(f"variables.pods.map({g}, {per_group})")
    kinds = [k for k in engine.kinds if not rule.kinds or k.kind in rule.kinds]
    keys = _template_suppression(engine, active)
    return Translation(
        findings,
        variables=pods(kinds, names, suppression=keys, purposes=True),
        undecided=UNDECIDED,
    )


def _has_key(p: str, e: str, key: str) -> str:
    """A CEL bool: `Container.has(key)` (the container sets it, or its platform does)."""
    return f"({has(f'{e}.spec', key)} || {literal(key)} in {p}.provided)"


def _section_has(spec: str, section: str, key: str) -> str:
    resources = member(spec, "resources")
    amounts = member(resources, section)
    return (
        f"({has(spec, 'resources')} && {has(resources, section)} && {is_map(amounts)} && "
        f"{literal(key)} in {amounts})"
    )


def _resources_missing(engine: Engine, active: ActiveRule) -> Translation:
    def per_pod(p: str, names: Names) -> str:
        e, m = names("e"), names("m")
        spec = f"{e}.spec"
        unset = {
            n: f"!({_section_has(spec, 'requests', n)} || {_section_has(spec, 'limits', n)})"
            for n in ("cpu", "memory")
        }
        no_limit = f"!{_section_has(spec, 'limits', 'memory')}"
        missing = (
            f"({unset['cpu']} ? ['resources.requests.cpu'] : []) + "
            f"({unset['memory']} ? ['resources.requests.memory'] : []) + "
            f"({no_limit} ? ['resources.limits.memory'] : [])"
        )
        effects = (
            f"(({unset['cpu']} || {unset['memory']}) ? ['is scheduled as if it needed none'] : [])"
            f' + ({no_limit} ? ["can use up the node\'s memory"] : [])'
        )
        listing = (
            f"(size({m}) == 1 ? {m}[0] : size({m}) == 2 ? {m}[0] + ' or ' + {m}[1] : "
            f"{m}[0] + ', ' + {m}[1] + ' or ' + {m}[2])"
        )
        message = (
            f"'container ' + {e}.name + ' sets no ' + {listing} + ', so it ' + "
            f"({effects}).join(' and ') + ': set ' + (size({m}) == 1 ? 'it' : 'them') + "
            f"' from measured usage'"
        )
        per_container = f"[{missing}].map({m}, size({m}) > 0 ? {message} : '')[0]"
        skip = f"'resources' in {p}.provided"
        return f"({skip} ? '' : {lines(f'{p}.containers.map({e}, {per_container})')})"

    return _by_purpose(engine, active, per_pod)


def _image_tag_latest(engine: Engine, active: ActiveRule) -> Translation:
    floating = "(?s)^(?:" + "|".join(sorted(map(re.escape, traits.FLOATING_TAGS))) + ")(?:-.*)?$"
    blank = re2.char_class(re2.WHITESPACE)

    def per_pod(p: str, names: Names) -> str:
        e, i, n, t = names("e"), names("i"), names("n"), names("t")
        image = f"{e}.spec.image"
        at = f"{i}.indexOf('@')"
        name = f"({at} >= 0 ? {i}.substring(0, {at}) : {i})"
        colon, slash = f"{n}.lastIndexOf(':')", f"{n}.lastIndexOf('/')"
        tag = f"[{name}].map({n}, {colon} > {slash} ? [{n}.substring({colon} + 1)] : [])[0]"
        shown = (
            f"({i}.contains(\"'\") && !{i}.contains('\"') ? "
            f"'\"' + {i}.replace('\\\\', '\\\\\\\\') + '\"' : "
            f"\"'\" + {i}.replace('\\\\', '\\\\\\\\').replace(\"'\", \"\\\\'\") + \"'\")"
        )
        what = (
            f"(size({t}) == 0 ? 'has no tag, which means :latest' : {t}[0] == 'latest' ? "
            f"'is tagged :latest' : 'has the floating tag :' + {t}[0])"
        )
        message = (
            f"'container ' + {e}.name + ' image ' + {shown} + ' ' + {what} + "
            f"', so what runs changes with each push: pin a version tag or a digest'"
        )
        judged = (
            f"{i} != '' && !{i}.matches({literal(_PLACEHOLDER.pattern)}) && "
            f"!{i}.matches({literal(blank)}) && {at} < 0"
        )
        floats = f"(size({t}) == 0 || {t}[0].lowerAscii().matches({literal(floating)}))"
        per_image = f"[{tag}].map({t}, {judged} && {floats} ? {message} : '')[0]"
        per_container = (
            f"({has(f'{e}.spec', 'image')} && type({image}) == string ? "
            f"[{image}.trim()].map({i}, {per_image})[0] : '')"
        )
        return lines(f"{p}.containers.map({e}, {per_container})")

    return _by_purpose(engine, active, per_pod)


def _liveness_probe_missing(engine: Engine, active: ActiveRule) -> Translation:
    def per_pod(p: str, names: Names) -> str:
        e = names("e")
        message = (
            f"'container ' + {e}.name + ' has no livenessProbe, so a hung server is never "
            f"restarted: add a livenessProbe on its health endpoint'"
        )
        judged = _serving_container(p, e)
        found = f"{judged} && !{_has_key(p, e, 'livenessProbe')} ? {message} : ''"
        return lines(f"{p}.containers.map({e}, {found})")

    return _by_purpose(engine, active, per_pod)


def _serving_container(p: str, e: str) -> str:
    """A CEL bool: the container is one of `Scope.serving_containers` (the serving ones of a
    model server, every main one of other pods)."""
    return f"(!{e}.init && ({p}.purpose == 'model-server' ? {e}.serving : true))"


def _readiness_probe_missing(engine: Engine, active: ActiveRule) -> Translation:
    def per_pod(p: str, names: Names) -> str:
        e, o = names("e"), names("o")
        f = f"{e}.facts"
        helper = (
            f"({f}.trivial || {f}.service || {f}.load || (({f}.service || {f}.tool) && !{f}.mlcmd))"
        )
        judged = f"({e}.serving || ({f}.port && !{helper}))"
        server = f"{p}.purpose == 'model-server'"
        message = (
            f"'container ' + {e}.name + ' has no readinessProbe, so the pod gets traffic as "
            f"soon as it starts, ' + ({server} ? 'while a model may still be loading' : "
            f"'before it can answer') + ': add a readinessProbe on the server\\'s health "
            f"endpoint'"
        )
        ready = f"{p}.containers.exists({o}, !{o}.init && {_has_key(p, o, 'readinessProbe')})"
        found = f"!{e}.init && (!({server}) || {judged}) ? {message} : ''"
        return f"({ready} ? '' : {lines(f'{p}.containers.map({e}, {found})')})"

    return _by_purpose(engine, active, per_pod)


def _template_suppression(engine: Engine, active: ActiveRule) -> list[str] | None:
    if not engine.config.allow_suppression:
        return None
    return suppression_keys(active.rule.code, active.rule.name)


Translator = Callable[["Engine", "ActiveRule"], Translation]

TRANSLATORS: dict[str, Translator] = {
    "ML101": _gpu_not_in_limits,
    "ML102": _gpu_resource_name_invalid,
    "ML204": _job_ttl_missing,
    "ML302": _readiness_probe_missing,
    "ML303": _liveness_probe_missing,
    "ML501": _hpa_metrics_missing,
    "ML601": _resources_missing,
    "ML602": _image_tag_latest,
    "ML703": _mpi_slots_gpu_mismatch,
    "ML704": _ray_head_gpu,
    "ML705": _gpu_scale_to_zero,
    "ML706": _clean_pod_policy_none,
}
"""The rules exported to admission policies."""

NOT_EXPORTED: dict[str, str] = {
    "ML001": "about the YAML text, which never reaches the API server",
    "ML002": "about the YAML text, which never reaches the API server",
    "ML003": "reported by the engine about its own annotations; the policies honour valid "
    "suppressions as the webhook does",
    "ML502": "whole-set rule: reads other objects (the target, to judge only autoscalers of "
    "model servers)",
    "ML801": "whole-set rule: reads other objects (the autoscaler's target)",
    "ML802": "whole-set rule: reads other objects (an autoscaler of the workload)",
    "ML803": "whole-set rule: reads other objects (the claimed PersistentVolumeClaim)",
    "ML804": "whole-set rule: reads other objects (a PodDisruptionBudget)",
}
"""Why a rule is not exported; a rule in neither table is one not translated yet."""

FIX_REASONS: dict[str, str] = {
    "ML101": "its JSON Patch path needs the container's index, which a CEL comprehension over "
    "the containers does not give",
}
"""Why a rule exported as a validating policy has no mutating one."""

UNDECIDED = (
    "pods whose purpose the policy cannot decide as the engine does: a pod with a main "
    "container whose command and arguments name a launcher (mpirun, mpiexec, orterun, srun, "
    "ssh, torchrun, a Python launcher module) or hold a quote, a backslash, a space other than "
    "space, tab or CR, or a long s in the words that lead a statement up to its program, and "
    "name a program that only waits, prints or probes (sleep, echo, ...), unless its image or "
    "command already makes it a helper; and a pod of a training job whose MPI launcher's "
    "containers all may run mpirun, are not all helpers, on pods without accelerators or ML "
    "images"
)
"""What a policy judging by purpose leaves undecided, and so admits without judging."""

PURPOSE_REASON = (
    "judges pods by their purpose, which the policies compute as the engine does (ML302, ML303, "
    "ML601, ML602 use it); this rule's own checks are not translated to CEL and proven equal yet"
)
NOT_TRANSLATED = "not translated to CEL and proven equal yet"


def translate(engine: Engine, active: ActiveRule) -> Translation:
    """The rule in CEL under the engine's configuration; NotExpressible says why not."""
    rule = active.rule
    if rule.code in NOT_EXPORTED:
        raise NotExpressible(NOT_EXPORTED[rule.code])
    if rule.whole_set:
        raise NotExpressible("whole-set rule: reads other objects")
    if rule.origin and rule.definition is None:
        raise NotExpressible("a Python rule (plugin): only team rules written in CEL are exported")
    if rule.definition is not None:
        if active.purposes:
            raise NotExpressible(PURPOSE_REASON)
        from mllint.rules import custom_cel

        return custom_cel.translate(engine, active)
    found = TRANSLATORS.get(rule.code)
    if found is None and active.purposes:
        raise NotExpressible(PURPOSE_REASON)
    if found is None:
        raise NotExpressible(NOT_TRANSLATED)
    return found(engine, active)


def glob(patterns: Iterable[str]) -> str:
    """One RE2 pattern matching what any of the `fnmatch` globs matches (`fnmatchcase`)."""
    return "^(?:" + "|".join(_glob(p) for p in patterns) + ")$"


def _glob(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append("(?s:.*)")
        elif ch == "?":
            out.append("(?s:.)")
        elif ch == "[":
            end = pattern.find("]", i + 1 if pattern[i : i + 1] in ("!", "]") else i)
            if end < 0:
                out.append(re.escape(ch))
                continue
            body = pattern[i:end]
            i = end + 1
            negate = body.startswith("!")
            body = body[1:] if negate else body
            escaped = "".join("\\" + c if c in "\\[]^" else c for c in body)
            out.append(f"[{'^' if negate else ''}{escaped}]")
        else:
            out.append(re.escape(ch))
    return "".join(out)

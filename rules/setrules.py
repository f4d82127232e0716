"""Whole-set rules: checks that need every object of a run, such as an HPA and what it scales.

The linter sees every object of a run; the webhook sees one object at a time, so it never uses
this module, and `Engine.evaluate` skips these rules (`Rule.whole_set`). A run goes:

    collector = engine.collector()        # one per run
    for ref, obj in documents:            # ref: whatever finds the document again
        collector.add(obj, ref, set_name) # objects of one set are related, of two sets never
    for ref, finding in collector.findings():
        ...                               # place finding.pointer in the document ref names

`add` keeps no object: it files compact summaries (`SetIndex`) of what the set rules read:
every object's kind, namespace and name; workloads' replica counts, pod labels and claimed
PVCs; HPAs' targets; PDBs' selectors; PVC names. Each summary carries the pointers a finding
would name, so memory grows with the number of objects, never with their size. `ref` is
opaque to the engine: a front end passes what lets it re-read the file to place a finding (by
its `pointer`, as for any finding) and to apply its fix (a JSON Patch against that object).

Findings are stamped as per-object ones are: configured severity, excluded objects never
reported on (they still count as present, so an HPA's excluded target is found), and an
object's suppression annotations honoured. A set rule module declares its rule with `set_rule`
and a check over a `SetIndex` that yields `SetViolation`s.
"""

from __future__ import annotations

import bisect
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from mllint.rules import pointer as jp
from mllint.rules.model import (
    Finding,
    Fix,
    Frozen,
    NoOptions,
    Record,
    Role,
    Rule,
    RuleOptions,
    Safety,
    SetCheck,
    Severity,
    Violation,
    cleandoc,
    set_field,
)
from mllint.rules.traits import ML_PURPOSES, Purpose, is_placeholder
from mllint.rules.workload import Scope, Subject, group_of

if TYPE_CHECKING:
    from mllint.rules.engine import ActiveRule, Engine

T = TypeVar("T")


class Entry(Frozen, Generic[T]):
    """One object of the set: how to find it again and how it is named."""

    __slots__ = _fields = (
        "ref",
        "kind",
        "api_version",
        "name",
        "namespace",
        "reportable",
        "suppressed",
        "set_name",
    )

    ref: T
    kind: str
    api_version: str
    name: str
    namespace: str
    reportable: bool
    """False for an object the configuration excludes: it exists, but is not reported on."""
    suppressed: tuple[tuple[str, frozenset[str]], ...]
    """(pointer prefix, rule names or `*`) from the object's suppression annotations."""
    set_name: str
    """The set it belongs to (the linter's: its file's directory)."""

    def __init__(
        self,
        ref: T,
        kind: str,
        api_version: str,
        name: str,
        namespace: str,
        *,
        reportable: bool = True,
        suppressed: tuple[tuple[str, frozenset[str]], ...] = (),
        set_name: str = "",
    ) -> None:
        set_field(self, "ref", ref)
        set_field(self, "kind", kind)
        set_field(self, "api_version", api_version)
        set_field(self, "name", name)
        set_field(self, "namespace", namespace)
        set_field(self, "reportable", reportable)
        set_field(self, "suppressed", suppressed)
        set_field(self, "set_name", set_name)


class PodLabels(Frozen):
    """The labels a workload's pods are created with, and where they are declared."""

    __slots__ = _fields = ("at", "labels")

    at: str
    labels: Mapping[str, str]

    def __init__(self, at: str, labels: Mapping[str, str]) -> None:
        set_field(self, "at", at)
        set_field(self, "labels", labels)


class Workload(Frozen, Generic[T]):
    __slots__ = _fields = (
        "entry",
        "role",
        "replicas_at",
        "replicas",
        "pods",
        "claims",
        "purposes",
        "devices",
    )
    entry: Entry[T]
    role: Role | None
    replicas_at: str | None
    """Pointer to the replica count when the kind has one (absent or not)."""
    replicas: Any
    """The replica count as written (None when absent)."""
    pods: tuple[PodLabels, ...]
    claims: tuple[tuple[str, str], ...]
    """(pointer, PVC name) of every PVC the pods mount by name."""
    purposes: frozenset[Purpose]
    """What its pods are (`traits.Purpose`)."""
    devices: tuple[tuple[str, str, str], ...]
    """(pointer, kind, name) of every DRA ResourceClaim or ResourceClaimTemplate the pods name."""

    def __init__(  # noqa: PLR0917  # the fields in order, positionally
        self,
        entry: Entry[T],
        role: Role | None,
        replicas_at: str | None,
        replicas: Any,
        pods: tuple[PodLabels, ...],
        claims: tuple[tuple[str, str], ...],
        purposes: frozenset[Purpose] = frozenset(),
        devices: tuple[tuple[str, str, str], ...] = (),
    ) -> None:
        set_field(self, "entry", entry)
        set_field(self, "role", role)
        set_field(self, "replicas_at", replicas_at)
        set_field(self, "replicas", replicas)
        set_field(self, "pods", pods)
        set_field(self, "claims", claims)
        set_field(self, "purposes", purposes)
        set_field(self, "devices", devices)

    @property
    def ml(self) -> bool:
        return not self.purposes.isdisjoint(ML_PURPOSES)

    @property
    def model_server(self) -> bool:
        return Purpose.MODEL_SERVER in self.purposes


class Autoscaler(Frozen, Generic[T]):
    __slots__ = _fields = ("entry", "at", "kind", "name", "min_replicas", "max_replicas")
    entry: Entry[T]
    at: str
    """Pointer to `scaleTargetRef`."""
    kind: str
    name: str
    min_replicas: Any
    """`spec.minReplicas` as written (None when absent)."""
    max_replicas: Any

    def __init__(  # noqa: PLR0917  # the fields in order, positionally
        self,
        entry: Entry[T],
        at: str,
        kind: str,
        name: str,
        min_replicas: Any = None,
        max_replicas: Any = None,
    ) -> None:
        set_field(self, "entry", entry)
        set_field(self, "at", at)
        set_field(self, "kind", kind)
        set_field(self, "name", name)
        set_field(self, "min_replicas", min_replicas)
        set_field(self, "max_replicas", max_replicas)


class Selector(Frozen):
    """A label selector. `labels` None selects nothing (a missing selector, or an empty one in
    policy/v1beta1); empty `labels` and `expressions` select every pod (policy/v1)."""

    __slots__ = _fields = ("labels", "expressions")

    labels: Mapping[str, str] | None
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...]

    def __init__(
        self,
        labels: Mapping[str, str] | None,
        expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = (),
    ) -> None:
        set_field(self, "labels", labels)
        set_field(self, "expressions", expressions)

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.labels is None:
            return False
        if any(labels.get(k) != v for k, v in self.labels.items()):
            return False
        for key, operator, values in self.expressions:
            present = key in labels
            if operator == "In" and not (present and labels[key] in values):
                return False
            if operator == "NotIn" and present and labels[key] in values:
                return False
            if operator == "Exists" and not present:
                return False
            if operator == "DoesNotExist" and present:
                return False
            if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
                return False
        return True


class Budget(Frozen, Generic[T]):
    __slots__ = _fields = ("entry", "selector")
    entry: Entry[T]
    selector: Selector

    def __init__(self, entry: Entry[T], selector: Selector) -> None:
        set_field(self, "entry", entry)
        set_field(self, "selector", selector)


def same_namespace(a: str, b: str) -> bool:
    """Whether two objects share a namespace; an unset one is taken from the apply context,
    so it may be any."""
    return a == b or not a or not b


class SetIndex(Record, Generic[T]):
    """What the set rules read: compact summaries of every object of a run."""

    _fields = ("names", "workloads", "autoscalers", "budgets", "claims", "scalable")

    names: dict[tuple[str, str], set[str]]
    """(kind, name) -> the namespaces holding such an object."""
    workloads: list[Workload[T]]
    autoscalers: list[Autoscaler[T]]
    budgets: list[Budget[T]]
    claims: dict[str, set[str]]
    """PVC name -> the namespaces defining it."""
    scalable: int
    """How many objects of a kind with a replica count the set holds."""

    def __init__(
        self,
        names: dict[tuple[str, str], set[str]] | None = None,
        workloads: list[Workload[T]] | None = None,
        autoscalers: list[Autoscaler[T]] | None = None,
        budgets: list[Budget[T]] | None = None,
        claims: dict[str, set[str]] | None = None,
        *,
        scalable: int = 0,
    ) -> None:
        self.names = defaultdict(set) if names is None else names
        self.workloads = [] if workloads is None else workloads
        self.autoscalers = [] if autoscalers is None else autoscalers
        self.budgets = [] if budgets is None else budgets
        self.claims = defaultdict(set) if claims is None else claims
        self.scalable = scalable

    def merge(self, other: SetIndex[T]) -> None:
        """Take in the summaries another collector gathered (a worker process's share)."""
        for key, namespaces in other.names.items():
            self.names[key] |= namespaces
        for name, namespaces in other.claims.items():
            self.claims[name] |= namespaces
        self.workloads += other.workloads
        self.autoscalers += other.autoscalers
        self.budgets += other.budgets
        self.scalable += other.scalable

    def exists(self, kind: str, name: str, namespace: str) -> bool:
        return any(same_namespace(ns, namespace) for ns in self.names.get((kind, name), ()))

    def claim_exists(self, name: str, namespace: str) -> bool:
        return any(same_namespace(ns, namespace) for ns in self.claims.get(name, ()))

    def targets_of(self, hpa: Autoscaler[T]) -> list[Workload[T]]:
        """The workloads of the set an autoscaler scales."""
        return [
            w
            for w in self.workloads
            if w.entry.kind == hpa.kind
            and w.entry.name == hpa.name
            and same_namespace(w.entry.namespace, hpa.entry.namespace)
        ]

    def autoscalers_of(self, workload: Workload[T]) -> list[Autoscaler[T]]:
        e = workload.entry
        return [
            a
            for a in self.autoscalers
            if a.kind == e.kind
            and a.name == e.name
            and same_namespace(a.entry.namespace, e.namespace)
        ]


class SetViolation(Frozen, Generic[T]):
    """What a set rule yields: the object, where in it, what, and maybe a fix against it."""

    __slots__ = _fields = ("entry", "at", "message", "fix")

    entry: Entry[T]
    at: str
    message: str
    fix: Fix | None

    def __init__(self, entry: Entry[T], at: str, message: str, fix: Fix | None = None) -> None:
        set_field(self, "entry", entry)
        set_field(self, "at", at)
        set_field(self, "message", message)
        set_field(self, "fix", fix)


def set_rule(
    check: SetCheck,
    *,
    code: str,
    name: str,
    severity: Severity,
    summary: str,
    options: type[RuleOptions] = NoOptions,
    fix: Safety | None = None,
    enabled_by_default: bool = True,
) -> Rule:
    """Declare a whole-set rule; its docs are the docstring of the check's module."""

    def per_object(scope: Scope, options: Any) -> Iterator[Violation]:
        yield from ()  # a set rule has nothing to say about one object alone

    return Rule(
        code=code,
        name=name,
        severity=severity,
        summary=summary,
        check=per_object,
        docs=cleandoc(sys.modules[check.__module__].__doc__ or ""),
        options=options,
        fix_safety=fix,
        enabled_by_default=enabled_by_default,
        set_check=check,
    )


_HPA = ("autoscaling", "HorizontalPodAutoscaler")
_PDB = ("policy", "PodDisruptionBudget")
_PVC = ("", "PersistentVolumeClaim")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _labels(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in _mapping(value).items()}


class Collector(Generic[T]):
    """Summaries of one run's objects for the whole-set rules, and their findings at the end."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._rules = [a for a in engine.active if a.rule.whole_set]
        self.sets: dict[str, SetIndex[T]] = {}
        """The summaries by set: objects of different sets are never related to each other."""

    def merge(self, sets: Mapping[str, SetIndex[T]]) -> None:
        """Take in the summaries another collector gathered (a worker process's share)."""
        for name, index in sets.items():
            self.sets.setdefault(name, SetIndex()).merge(index)

    @property
    def active(self) -> bool:
        """Whether any whole-set rule is enabled (if not, `add` keeps nothing)."""
        return bool(self._rules)

    def add(
        self, obj: Mapping[str, Any], ref: T, set_name: str = "", subject: Subject | None = None
    ) -> None:
        """File what the set rules need to know about one object (not the object itself), in
        the set `set_name` (the linter's sets are directories; see docs/operators.md). The
        object's `subject` (of `Engine.subject(obj)`) may be given to share its views."""
        if not self._rules or not isinstance(obj, dict):
            return
        if subject is None:
            subject = self.engine.subject(obj)
        kind, name, namespace = subject.kind, subject.name, subject.namespace
        if not kind:
            return
        index = self.sets.get(set_name)
        if index is None:  # a new set (not a SetIndex made and dropped for each object)
            index = self.sets[set_name] = SetIndex()
        entry = self._entry(subject, ref, set_name)
        index.names[(kind, name)].add(namespace)
        group = group_of(subject.api_version)
        if (group, kind) == _PVC:
            index.claims[name].add(namespace)
        spec = _mapping(obj.get("spec"))
        if (group, kind) == _HPA:
            target = _mapping(spec.get("scaleTargetRef"))
            scaled = target.get("name")
            if isinstance(target.get("kind"), str) and isinstance(scaled, str):
                if is_placeholder(scaled):
                    return  # a template, not an autoscaler yet
                index.autoscalers.append(
                    Autoscaler(
                        entry,
                        "/spec/scaleTargetRef",
                        target["kind"],
                        scaled,
                        spec.get("minReplicas"),
                        spec.get("maxReplicas"),
                    )
                )
        elif (group, kind) == _PDB:
            index.budgets.append(Budget(entry, _selector(spec, subject.api_version)))
        elif subject.workload is not None:
            self._workload(index, subject, entry)

    def _entry(self, subject: Subject, ref: T, set_name: str) -> Entry[T]:
        scopes, _ = self.engine._suppressions(subject, self.engine.current_date())
        return Entry(
            ref,
            subject.kind,
            subject.api_version,
            subject.name,
            subject.namespace,
            reportable=not self.engine.excluded(subject),
            suppressed=tuple((prefix, frozenset(names)) for prefix, names in scopes),
            set_name=set_name,
        )

    def _workload(self, index: SetIndex[T], subject: Subject, entry: Entry[T]) -> None:
        kind = subject.workload
        assert kind is not None
        replicas_at = kind.replicas
        claims = tuple(_claims(subject))
        devices = tuple(_device_claims(subject))
        if (replicas_at is None and not claims and not devices) or is_placeholder(entry.name):
            return
        if replicas_at is not None:
            index.scalable += 1
        pods = tuple(
            PodLabels(
                jp.parent(p.pointer) + "/metadata/labels",
                _labels(p.metadata.get("labels")),
            )
            for p in subject.pods
            if not p.template.inline
        )
        replicas = _resolve(subject.obj, replicas_at) if replicas_at else None
        purposes = frozenset(p.purpose for p in subject.pods)
        index.workloads.append(
            Workload(entry, subject.role, replicas_at, replicas, pods, claims, purposes, devices)
        )

    def findings(self) -> Iterator[tuple[T, Finding]]:
        """Run the active set rules over everything added; each finding with its object's ref.

        Each set is judged with the sets related to it (`related`): an object's findings come
        from its own set's turn, so none is reported twice."""
        return self._judge(sorted(self.sets))

    def left(self, name: str) -> Iterator[tuple[T, Finding]]:
        """Say that no object will be added to the set `name` or to the sets below it (a walk
        has left its folder): their findings are then final, unless a set above holds objects,
        to which more may be related. So when no set above `name` holds objects, the findings
        of `name` and of the sets below it are yielded and their summaries forgotten; else
        nothing is, and they are judged with the set above. A run that lets go of its folders
        this way keeps the summaries of the folders it is in, not of every object it read."""
        if any(folder in self.sets for folder in above(name)):
            return
        below = name.rstrip("/") + "/"
        names = sorted(n for n in self.sets if n == name or n.startswith(below))
        yield from self._judge(names)
        for settled in names:
            del self.sets[settled]

    def _judge(self, names: list[str]) -> Iterator[tuple[T, Finding]]:
        """The findings of the objects of the sets `names` (sorted, and holding every set below
        each of them)."""
        order = {name: i for i, name in enumerate(self.sets)}
        views = {name: self._view(name, names, order) for name in names}
        for active in self._rules:
            for name, view in views.items():
                for ref, finding, entry in self._findings(active, view):
                    if entry.set_name == name:
                        yield ref, finding

    def _view(self, name: str, names: list[str], order: dict[str, int]) -> SetIndex[T]:
        """The objects of `name`'s set and of the sets related to it, merged in the order the
        sets were added. Related sets are found by the set's path, not by testing every other
        set: the sets containing it are among its path's prefixes, and the sets it contains
        follow it in sorted order."""
        found = {prefix for prefix in above(name) if prefix in self.sets}
        found.add(name)
        below = name.rstrip("/") + "/"
        at = bisect.bisect_left(names, below)
        while at < len(names) and names[at].startswith(below):
            found.add(names[at])
            at += 1
        view: SetIndex[T] = SetIndex()
        for other in sorted(found, key=order.__getitem__):
            view.merge(self.sets[other])
        return view

    def _findings(
        self, active: ActiveRule, index: SetIndex[T]
    ) -> Iterator[tuple[T, Finding, Entry[T]]]:
        rule = active.rule
        assert rule.set_check is not None
        for v in rule.set_check(index, active.options):
            e = v.entry
            if not e.reportable or _suppressed(e, rule.name, v.at):
                continue
            yield (
                e.ref,
                Finding(
                    code=rule.code,
                    rule=rule.name,
                    severity=active.severity,
                    message=v.message,
                    pointer=v.at,
                    kind=e.kind,
                    name=e.name,
                    namespace=e.namespace,
                    fix=v.fix,
                ),
                e,
            )


def related(a: str, b: str) -> bool:
    """Whether the objects of two sets are judged together: sets are named by `/`-separated
    paths (the linter's are directories), and a set is related to itself, to the sets it
    contains and to those containing it, never to its siblings (`docs/` and `config/`)."""
    return a == b or b.startswith(a.rstrip("/") + "/") or a.startswith(b.rstrip("/") + "/")


def above(name: str) -> Iterator[str]:
    """The names of the sets above the set `name`: the folders of its path, each with and
    without its trailing `/` (all are `related` to it)."""
    at = name.find("/")
    while at != -1:
        yield name[:at]
        if at + 1 < len(name):
            yield name[: at + 1]
        at = name.find("/", at + 1)


def _suppressed(entry: Entry[Any], rule: str, at: str) -> bool:
    return any(
        at.startswith(prefix) and (rule in names or "*" in names)
        for prefix, names in entry.suppressed
    )


def _resolve(obj: Any, pointer: str) -> Any:
    try:
        return jp.resolve(obj, pointer)
    except KeyError:
        return None


def _claims(subject: Subject) -> Iterable[tuple[str, str]]:
    """(pointer, name) of the PVCs a workload's pods mount by name, or name as a KServe
    `storageUri: pvc://<name>/<path>`; placeholders (`{{...}}`, `${VAR}`) are not names yet."""
    for pod in subject.pods:
        for at, volume in pod.volumes:
            claim = _mapping(volume.get("persistentVolumeClaim")).get("claimName")
            if isinstance(claim, str) and claim and not is_placeholder(claim):
                yield jp.join(at, "persistentVolumeClaim", "claimName"), claim
        for c in pod.containers:
            uri = c.spec.get("storageUri")
            if isinstance(uri, str) and uri.startswith("pvc://"):
                claim = uri[len("pvc://") :].partition("/")[0]
                if claim and not is_placeholder(claim):
                    yield jp.join(c.pointer, "storageUri"), claim


_DEVICE_CLAIMS = (
    ("resourceClaimTemplateName", "ResourceClaimTemplate"),
    ("resourceClaimName", "ResourceClaim"),
)


def _device_claims(subject: Subject) -> Iterable[tuple[str, str, str]]:
    """(pointer, kind, name) of the DRA claims and claim templates a workload's pods name in
    `resourceClaims` (also in the v1alpha2 `source` form, and, for an Argo workflow's pods,
    in the workflow's own `resourceClaims`); placeholders are not names yet."""
    seen: set[str] = set()
    for pod in subject.pods:
        own = pod.spec.get("resourceClaims")
        # The pointer made only for a list (most pods declare no claims).
        lists: list[tuple[str, Any]] = []
        if isinstance(own, list):
            lists.append((pod.pointer + "/resourceClaims", own))
        for source in pod.template.inherit:
            for at, node in jp.expand(subject.obj, source):
                if isinstance(node, dict):
                    lists.append((jp.join(at, "resourceClaims"), node.get("resourceClaims")))
        for base, claims in lists:
            for index, claim in enumerate(claims if isinstance(claims, list) else ()):
                if not isinstance(claim, dict):
                    continue
                old_form = claim.get("source")
                for holder, at in (
                    (claim, jp.join(base, str(index))),
                    (old_form, jp.join(base, str(index), "source")),
                ):
                    for key, kind in _DEVICE_CLAIMS:
                        name = holder.get(key) if isinstance(holder, dict) else None
                        where = jp.join(at, key)
                        if isinstance(name, str) and not is_placeholder(name) and where not in seen:
                            seen.add(where)
                            yield where, kind, name


def _selector(spec: Mapping[str, Any], api_version: str) -> Selector:
    raw = spec.get("selector")
    if not isinstance(raw, dict):
        return Selector(None)
    labels = _labels(raw.get("matchLabels"))
    expressions = tuple(
        (
            str(e.get("key")),
            str(e.get("operator")),
            tuple(str(v) for v in e.get("values") or ()),
        )
        for e in raw.get("matchExpressions") or ()
        if isinstance(e, dict)
    )
    if not labels and not expressions and api_version != "policy/v1":
        # An empty selector selects every pod in policy/v1 and none in policy/v1beta1.
        return Selector(None)
    return Selector(labels, expressions)

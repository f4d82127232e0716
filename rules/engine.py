"""The engine: runs the configured rules on objects and stamps what they find.

Built once from a `Config` (which it validates against the registry), then called per object by
either front end. The engine owns selection, severities, options, exclusions and suppression;
rules only yield violations.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.catalog import RULES, SUPPRESSION_INVALID
from mllint.rules.config import (
    Config,
    ConfigError,
    CustomKind,
    Reach,
    closest,
    default_config,
    validate,
)
from mllint.rules.exceptions import RuleException, kind_names, lapsed, parse_annotation
from mllint.rules.model import (
    Check,
    Finding,
    Frozen,
    Op,
    Role,
    Rule,
    RuleOptions,
    Safety,
    Severity,
    set_field,
)
from mllint.rules.operators import OPERATOR_KINDS
from mllint.rules.setrules import Collector
from mllint.rules.traits import Purpose
from mllint.rules.workload import (
    BUILTIN_KINDS,
    OTHER_KINDS,
    KindIndex,
    Lifecycle,
    PodTemplate,
    Scope,
    Subject,
    WorkloadKind,
)

IGNORE_PREFIX = "ignore-check.mllint.io/"
IGNORE_ALL = "mllint.io/ignore-all"

Clock = Callable[[], dt.date]
"""What today is, as a front end knows it: exceptions that expire are judged against it."""

View = tuple[frozenset[Role], frozenset[Purpose], bool]
"""The view of an object a rule reads (`Subject.scope`): its pods of some roles and purposes,
with or without partial templates."""


Candidates = tuple[list[tuple["ActiveRule", int, Check, RuleOptions]], list[View]]
"""The rules that may judge an object, each with the index of its view (and its check and
options, read once here rather than for every object), and the views."""


class ActiveRule(Frozen):
    __slots__ = _fields = ("rule", "severity", "options", "purposes")
    rule: Rule
    severity: Severity
    options: RuleOptions
    purposes: frozenset[Purpose]
    """The pod purposes it judges under the configured scope (empty: any)."""

    def __init__(
        self,
        rule: Rule,
        severity: Severity,
        options: RuleOptions,
        purposes: frozenset[Purpose] = frozenset(),
    ) -> None:
        set_field(self, "rule", rule)
        set_field(self, "severity", severity)
        set_field(self, "options", options)
        set_field(self, "purposes", purposes)


class Registry:
    """Rules by code and by name, and selector matching (code, name, code prefix, ALL)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._by_id = {r.code: r for r in rules} | {r.name: r for r in rules}

    def get(self, name_or_code: str) -> Rule | None:
        return self._by_id.get(name_or_code) or self._by_id.get(name_or_code.upper())

    def lookup(self, name_or_code: str, where: str) -> Rule:
        found = self.get(name_or_code)
        if found is None:
            raise ConfigError(
                f"{where}: unknown rule {name_or_code!r}{closest(name_or_code, self._by_id)}"
            )
        return found

    def matching(self, selector: str, where: str) -> list[Rule]:
        if selector.upper() == "ALL":
            return list(self.rules)
        exact = self.get(selector)
        if exact is not None:
            return [exact]
        prefixed = [r for r in self.rules if r.code.startswith(selector.upper())]
        if not prefixed:
            raise ConfigError(
                f"{where}: {selector!r} matches no rule code or name"
                f"{closest(selector, self._by_id)}"
            )
        return prefixed


REGISTRY = Registry(RULES)


def team_rules(config: Config) -> tuple[Rule, ...]:
    """The configuration's team rules (`custom-rules`, then the `plugins`' rules); neither
    CEL nor the plugins are loaded when it has none."""
    if not config.custom_rules and not config.plugins:
        return ()
    from mllint.rules import custom, plugins

    rules = custom.build(config.custom_rules) + plugins.load(config.plugins)
    seen: dict[str, str] = {}
    for r in rules:
        for key in (r.code, r.name):
            clash = REGISTRY.get(key)
            if clash is not None and key == r.name:
                raise ConfigError(f"team rule {r.code}: the name {key!r} is a built-in rule's")
            if key in seen:
                raise ConfigError(f"team rule {key!r} is declared twice ({seen[key]}, {r.origin})")
            seen[key] = r.origin
    return rules


def _custom_kind(spec: CustomKind) -> WorkloadKind:
    group, _, version = spec.api_version.rpartition("/")
    templates = tuple(
        PodTemplate(
            t.path,
            inline=t.inline,
            role=t.role,
            containers=t.containers,
            restart_policy=t.restart_policy,
            # A kind declared to mllint is an ML workload: its batch pods are batch runs.
            purpose=t.purpose or (Purpose.BATCH if (t.role or spec.role) is Role.BATCH else None),
        )
        for t in spec.templates
    )
    lc = spec.lifecycle
    return WorkloadKind(
        group,
        spec.kind,
        (version,),
        spec.plural or spec.kind.lower() + "s",
        spec.role,
        templates,
        Lifecycle(
            backoff_limit=lc.backoff_limit,
            active_deadline=lc.active_deadline,
            ttl=lc.ttl,
            concurrency=lc.concurrency,
        ),
        replicas=spec.replicas,
    )


class Engine:
    def __init__(
        self,
        config: Config | None = None,
        registry: Registry = REGISTRY,
        kinds: Iterable[WorkloadKind] = BUILTIN_KINDS + OPERATOR_KINDS,
        today: Clock | None = None,
    ) -> None:
        self.config = config or default_config()
        extra = team_rules(self.config)
        self.registry = Registry([*registry.rules, *extra]) if extra else registry
        registry = self.registry
        self.kinds = KindIndex([*kinds, *(_custom_kind(k) for k in self.config.kinds)])
        self.active = self._activate()
        self._by_rule = {a.rule.name: a for a in self.active}
        self._named_kinds = frozenset(k for a in self.active for k in a.rule.kinds)
        self._last_suppressions: (
            tuple[Subject, dt.date | None, list[tuple[str, set[str]]], list[Finding]] | None
        ) = None
        self._last_annotated: tuple[Subject, bool] | None = None
        self._by_kind: dict[
            tuple[str | None, bool, int], tuple[WorkloadKind | None, Candidates]
        ] = {}
        self.today = today
        """The front end's clock; without one, no exception ever lapses."""
        self.exceptions = [
            (
                e,
                frozenset(
                    r.name for s in e.rules for r in registry.matching(s, f"exceptions[{i}]")
                ),
            )
            for i, e in enumerate(self.config.exceptions)
        ]

    def _activate(self) -> list[ActiveRule]:
        cfg, reg = self.config, self.registry
        if cfg.select is None:
            chosen = [r for r in reg.rules if r.enabled_by_default]
        else:
            chosen = [r for s in cfg.select for r in reg.matching(s, "select")]
        chosen += [r for s in cfg.extend_select for r in reg.matching(s, "extend-select")]
        dropped = {r.name for s in cfg.ignore for r in reg.matching(s, "ignore")}
        severity = {reg.lookup(k, "severity").name: v for k, v in cfg.severity.items()}
        options = {reg.lookup(k, "rules").name: (k, v) for k, v in cfg.rules.items()}
        reach = {self._generic(k).name: v for k, v in cfg.rule_scope.items()}
        active: list[ActiveRule] = []
        seen: set[str] = set()
        for r in chosen:
            if r.name in dropped or r.name in seen:
                continue
            seen.add(r.name)
            everything = r.generic and reach.get(r.name, cfg.scope) is Reach.ALL
            active.append(
                ActiveRule(
                    r,
                    severity.get(r.name, r.severity),
                    self._options(r, *options.get(r.name, (r.name, {}))),
                    frozenset() if everything else r.purposes,
                )
            )
        return active

    def _generic(self, name: str) -> Rule:
        found = self.registry.lookup(name, "rule-scope")
        if not found.generic:
            generic = [r.name for r in self.registry.rules if r.generic]
            raise ConfigError(
                f"rule-scope: {found.name!r} judges ML workloads only and takes no scope; "
                f"the generic rules are {', '.join(generic)}"
            )
        return found

    @staticmethod
    def _options(rule: Rule, key: str, raw: Any) -> RuleOptions:
        if not raw:
            return rule.options()
        return validate(rule.options, raw, "", ("rules", key))

    def is_active(self, name: str) -> bool:
        return name in self._by_rule

    def severity_of(self, name: str) -> Severity:
        active = self._by_rule.get(name)
        return active.severity if active else self.registry.lookup(name, "rule").severity

    def options(self, name: str) -> RuleOptions:
        return self._by_rule[name].options

    def admission_kinds(self) -> list[tuple[str, tuple[str, ...], str, str]]:
        """(group, versions, plural, kind) of every kind an active rule can judge alone."""
        kinds = {(k.group, k.versions, k.plural, k.kind) for k in self.kinds}
        named = {k for a in self.active for k in a.rule.kinds}
        kinds |= {(k.group, k.versions, k.plural, k.kind) for k in OTHER_KINDS if k.kind in named}
        return sorted(kinds)

    def collector(self) -> Collector[Any]:
        """Gathers one run's objects for the whole-set rules (see `setrules`)."""
        return Collector(self)

    def subject(self, obj: Mapping[str, Any], *, fragment: bool = False) -> Subject:
        kind = self.kinds.lookup(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        return Subject(obj, kind, fragment, self.kinds)

    def excluded(self, subject: Subject) -> bool:
        ex = self.config.exclude
        if not (ex.namespaces or ex.kinds or ex.names):
            return False
        names = kind_names(subject.api_version, subject.kind)
        return (
            any(fnmatch.fnmatchcase(subject.namespace, p) for p in ex.namespaces)
            or any(fnmatch.fnmatchcase(n, p) for p in ex.kinds for n in names)
            or any(fnmatch.fnmatchcase(subject.name, p) for p in ex.names)
        )

    def evaluate(self, obj: Mapping[str, Any], *, fragment: bool = False) -> list[Finding]:
        """Findings for one object, suppressed and excluded ones removed. A `fragment` (a
        kustomize patch) is judged only by rules about the values it writes."""
        return self.judge(self.subject(obj, fragment=fragment))

    def judge(self, subject: Subject) -> list[Finding]:
        """`evaluate` for an object already made a subject (`subject`), whose views of the object
        (pods, their traits) other readers share, such as the whole-set `Collector`."""
        fragment = subject.fragment
        if self.excluded(subject):
            return []
        findings: list[Finding] = []
        # Rules share a few views of the object (by roles, purposes, partial templates): each
        # is built once per object.
        rules, views = self._candidates(subject, fragment)
        # The views that keep every pod share one scope. It is made here rather than kept by
        # the subject, which its scopes hold: a subject holding one would make a cycle. Every
        # view is some rule's, and the views are in the order of the rules' first use.
        whole: list[Scope] = []
        scopes = [_view(subject, view, whole) for view in views]
        for active, index, check, options in rules:
            scope = scopes[index]
            if scope is None:
                continue
            for v in check(scope, options):
                findings.append(
                    self.stamp(active, subject, v.at, v.message, v.fix, severity=v.severity)
                )
        return self._suppress(subject, findings)

    def _candidates(self, subject: Subject, fragment: bool) -> Candidates:
        """The rules that may judge an object of this kind, each with the index of the view of
        the object it reads, and those views; what the kind, the mode, the workload kind and
        the rules' `applies` rule out is decided once per combination, not per object."""
        kind = subject.kind if subject.kind in self._named_kinds else None
        workload = subject.workload
        # By the workload kind's identity (hashing it would hash all its templates); the entry
        # holds the kind, so that a key is never that of another kind at a reused address.
        key = (kind, fragment, id(workload))
        entry = self._by_kind.get(key)
        if entry is None or entry[0] is not workload:
            entry = self._by_kind[key] = (workload, self._select(kind, fragment, workload))
        return entry[1]

    def _select(
        self, kind: str | None, fragment: bool, workload: WorkloadKind | None
    ) -> Candidates:
        # Without partial templates, a view with them and one without are the same pods: all
        # of them, which the view then takes without asking each pod.
        whole = workload is None or not any(t.partial for t in workload.templates)
        views: dict[View, int] = {}
        rules = [
            (
                a,
                views.setdefault((a.rule.roles, a.purposes, whole or a.rule.fragments), len(views)),
                a.rule.check,
                a.options,
            )
            for a in self.active
            if not (a.rule.meta or a.rule.whole_set or (fragment and not a.rule.fragments))
            and (not a.rule.kinds or kind in a.rule.kinds)
            and (
                a.rule.applies(workload)
                if workload is not None and a.rule.applies is not None
                else workload is not None or not a.rule.workloads_only
            )
        ]
        return rules, list(views)

    def stamp(
        self,
        active: ActiveRule,
        subject: Subject,
        at: str,
        message: str,
        fix: Any = None,
        *,
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            code=active.rule.code,
            rule=active.rule.name,
            severity=severity or active.severity,
            message=message,
            pointer=at,
            kind=subject.kind,
            name=subject.name,
            namespace=subject.namespace,
            fix=fix,
        )

    def _annotated(self, subject: Subject) -> bool:
        """`_annotated`, kept for the last subject: the whole-set summary of an object asks
        right before its rules do."""
        last = self._last_annotated
        if last is None or last[0] is not subject:
            last = self._last_annotated = (subject, _annotated(subject))
        return last[1]

    def _suppress(self, subject: Subject, findings: list[Finding]) -> list[Finding]:
        if not self.exceptions and not self._annotated(subject):
            return findings  # nothing to suppress, and no annotation to report
        today = self.current_date()
        scopes, invalid = self._suppressions(subject, today)
        kept = findings
        if scopes:
            # By pointer prefix, so that each finding looks up its own ancestors (as many as
            # its pointer has tokens) rather than testing every annotated template.
            by_prefix: dict[str, set[str]] = {}
            for prefix, names in scopes:
                by_prefix.setdefault(prefix, set()).update(names)
            kept = [f for f in findings if not _suppressed(f, by_prefix)]
        # A lapsed exception of the configuration is reported on the objects whose findings
        # it would still hide, not on every object it matches.
        for exception, rules in self._matching_exceptions(subject):
            if exception.lapsed(today) and any(f.rule in rules for f in kept):
                invalid += self._invalid_at(
                    subject,
                    "",
                    f"configuration {exception.describe()} expired on {exception.expires}, "
                    "so it no longer applies: fix the findings, or renew it with a new date",
                )
        return kept + invalid

    def current_date(self) -> dt.date | None:
        return self.today() if self.today else None

    def _matching_exceptions(self, subject: Subject) -> list[tuple[RuleException, frozenset[str]]]:
        if not self.exceptions:
            return []
        labels = subject.metadata.get("labels")
        labels = {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
        return [
            (e, names)
            for e, names in self.exceptions
            if e.match.matches(
                subject.api_version, subject.kind, subject.namespace, subject.name, labels
            )
        ]

    def _suppressions(
        self, subject: Subject, today: dt.date | None = None
    ) -> tuple[list[tuple[str, set[str]]], list[Finding]]:
        """(pointer prefix, suppressed rule names) for each annotated metadata and each
        exception of the configuration that applies, and findings for annotations that are
        invalid or lapsed and so suppress nothing. The whole-set summary of an object asks
        right before its rules do: the last answer is kept for that subject and day. Most
        objects carry no suppressing annotation, and then, without exceptions, there is nothing
        to read."""
        if not self.exceptions and not self._annotated(subject):
            return [], []
        last = self._last_suppressions
        if last is None or last[0] is not subject or last[1] != today:
            last = self._last_suppressions = (
                subject,
                today,
                *self._read_suppressions(subject, today),
            )
        return [(prefix, set(names)) for prefix, names in last[2]], list(last[3])

    def _read_suppressions(
        self, subject: Subject, today: dt.date | None
    ) -> tuple[list[tuple[str, set[str]]], list[Finding]]:
        # The configuration's exceptions are the admin's, so allow-suppression (which stops
        # objects from exempting themselves) leaves them in force.
        scopes = [
            ("", set(names))
            for e, names in self._matching_exceptions(subject)
            if not e.lapsed(today)
        ]
        sources = [("", "/metadata", subject.metadata)]
        for pod in subject.pods:
            if pod.metadata is not subject.metadata:
                template = jp.parent(pod.pointer)
                sources.append((template, template + "/metadata", pod.metadata))
        invalid: list[Finding] = []
        for prefix, meta_at, meta in sources:
            annotations = meta.get("annotations")
            if not isinstance(annotations, dict):
                continue
            names: set[str] = set()
            for key, reason in annotations.items():
                if not isinstance(key, str):
                    continue
                if key == IGNORE_ALL:
                    target = "*"
                elif key.startswith(IGNORE_PREFIX):
                    wanted = key[len(IGNORE_PREFIX) :]
                    found = self.registry.get(wanted)
                    if found is None:
                        invalid += self._invalid(
                            subject,
                            meta_at,
                            key,
                            f"annotation {key!r} names no rule{closest(wanted, self.rule_names())}",
                        )
                        continue
                    target = found.name
                else:
                    continue
                if not self.config.allow_suppression:
                    continue
                value = parse_annotation(reason) if isinstance(reason, str) else None
                if value is None or not value.reason:
                    invalid += self._invalid(
                        subject,
                        meta_at,
                        key,
                        f"annotation {key!r} gives no reason, so it "
                        "suppresses nothing; say why the rule does not apply",
                    )
                    continue
                if value.bad_expiry is not None:
                    invalid += self._invalid(
                        subject,
                        meta_at,
                        key,
                        f"annotation {key!r}: expiry {value.bad_expiry!r} is not a date "
                        "(YYYY-MM-DD), so it suppresses nothing",
                    )
                    continue
                if lapsed(value.expires, today):
                    invalid += self._invalid(
                        subject,
                        meta_at,
                        key,
                        f"annotation {key!r} expired on {value.expires}, so it suppresses "
                        "nothing: fix the findings, or renew it with a new date",
                    )
                    continue
                names.add(target)
            if names:
                scopes.append((prefix, names))
        return scopes, invalid

    def rule_names(self) -> list[str]:
        """Every rule's name and code, for suggestions."""
        return [r.name for r in self.registry.rules] + [r.code for r in self.registry.rules]

    def _invalid(self, subject: Subject, meta_at: str, key: str, message: str) -> list[Finding]:
        return self._invalid_at(subject, jp.join(meta_at, "annotations", key), message)

    def _invalid_at(self, subject: Subject, at: str, message: str) -> list[Finding]:
        active = self._by_rule.get(SUPPRESSION_INVALID.name)
        if active is None:
            return []
        return [self.stamp(active, subject, at, message)]

    def meta_finding(
        self, rule: Rule, message: str, *, pointer: str = "", subject: Subject | None = None
    ) -> Finding | None:
        """A finding of an engine-level rule (parse errors and the like), None when disabled."""
        active = self._by_rule.get(rule.name)
        if active is None:
            return None
        return self.stamp(active, subject or Subject({}), pointer, message)


def _view(subject: Subject, view: View, whole: list[Scope]) -> Scope | None:
    """The scope of the rules that read a view of the object; None when they do not judge it.
    A view of every pod is the scope in `whole`, made by the first such view."""
    pods = subject.pods_in(*view)
    if pods is not subject.pods:
        scope = Scope(subject, pods)
    elif whole:
        scope = whole[0]
    else:
        scope = Scope(subject, list(pods))
        whole.append(scope)
    if not scope.pods:
        roles, purposes, partial = view
        if roles:
            return None
        if purposes and (subject.whole_pods(partial) or not subject.ml_kind):
            return None  # no pod of a purpose it judges; one without pods, unless ML by kind
    return scope


_MARKS = (IGNORE_PREFIX, IGNORE_ALL)


def _annotated(subject: Subject) -> bool:
    """Whether the object or a pod template of it has an annotation key that may suppress
    (`_read_suppressions` reads them): most objects have none, and then have nothing to read."""
    metadata = subject.metadata
    if _marked(metadata):
        return True
    return any(_marked(p.metadata) for p in subject.pods if p.metadata is not metadata)


def _marked(metadata: Mapping[str, Any]) -> bool:
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        for key in annotations:
            if isinstance(key, str) and key.startswith(_MARKS):
                return True
    return False


def _suppressed(finding: Finding, by_prefix: Mapping[str, set[str]]) -> bool:
    pointer = finding.pointer
    end = len(pointer)
    while True:
        names = by_prefix.get(pointer[:end])
        if names and (finding.rule in names or "*" in names):
            return True
        if end == 0:
            return False
        end = pointer.rfind("/", 0, end)
        end = max(end, 0)


def fix_ops(
    obj: Any,
    findings: Iterable[Finding],
    *,
    unsafe: bool = False,
    problems: list[str] | None = None,
) -> list[Op]:
    """One normalized JSON Patch applying the fixes of `findings` (safe ones unless `unsafe`);
    a fix that cannot apply to `obj` is left out, and why is added to `problems`."""
    fixes = [
        f.fix.ops for f in findings if f.fix is not None and (unsafe or f.fix.safety is Safety.SAFE)
    ]
    return patch.plan(obj, fixes, problems) if fixes else []

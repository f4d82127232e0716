"""The vocabulary shared by rules, the engine and both front ends."""

from __future__ import annotations

import _thread
import collections
import enum
import itertools
import operator
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Self,
    TypeVar,
    cast,
    dataclass_transform,
    overload,
)

if TYPE_CHECKING:
    from dataclasses import Field

    from mllint.rules.setrules import SetIndex, SetViolation
    from mllint.rules.traits import Purpose
    from mllint.rules.workload import Scope, WorkloadKind


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Safety(enum.StrEnum):
    """How much a fix can be trusted to keep the workload's behaviour (ruff's levels)."""

    SAFE = "safe"
    UNSAFE = "unsafe"


class Role(enum.StrEnum):
    """What a workload does, which decides the rules that apply to it."""

    BATCH = "batch"  # runs to completion: Jobs, training operators
    SERVING = "serving"  # long-running and answers requests: Deployments, model servers
    DAEMON = "daemon"  # one per node: agents, device plugins


DOCS_URL = "https://github.com/mllint/mllint/blob/main/docs/rules/{code}.md"
"""Where each rule's page is published; every finding links to it."""

Op = dict[str, Any]
"""One RFC 6902 operation: `{"op": "add", "path": "/spec/x", "value": 1}`."""


class Record:
    """Base of the internal records on the hot path: plain slotted classes whose fields are named
    in `_fields`, compared and shown as dataclasses would be. A dataclass compiles its methods at
    import (about 0.3 ms a class, a quarter of a cold start over sixty of them); these have none
    to compile. Configuration models are `ConfigModel`s, which pydantic validates."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _read: ClassVar[operator.attrgetter[tuple[Any, ...]] | None] = None
    """The fields' values, read in C (`operator.attrgetter` gives a tuple of two or more)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._read = operator.attrgetter(*cls._fields) if len(cls._fields) > 1 else None

    def _values(self) -> tuple[Any, ...]:
        read = self._read
        if read is None:
            return tuple([getattr(self, name) for name in self._fields])
        return read(self)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compared by value and mutable: unhashable

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.__class__, self._values()))

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (`dataclasses.replace`)."""
        values = {name: getattr(self, name) for name in self._fields}
        return self.__class__(**(values | changes))


_T = TypeVar("_T")


class Regex:
    """A regular expression compiled on its first use: compiling a module's patterns at import
    took tens of microseconds each on every start, for checks most runs never reach."""

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled

    def search(self, string: str) -> re.Match[str] | None:
        return self.compiled.search(string)

    def match(self, string: str) -> re.Match[str] | None:
        return self.compiled.match(string)

    def fullmatch(self, string: str) -> re.Match[str] | None:
        return self.compiled.fullmatch(string)

    def finditer(self, string: str) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(string)


class cached(Generic[_T]):
    """`functools.cached_property` without its lock: Python 3.11 takes one on every first read
    (a quarter of a microsecond, several times per object evaluated), and the views it serves
    (`workload.Subject`, `Pod`, `Container`) belong to one evaluation in one thread."""

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> _T: ...

    def __get__(self, obj: object, owner: type | None = None) -> _T | Self:
        if obj is None:
            return self
        # Kept in the instance's dict, which attribute lookup reads before this descriptor.
        value = obj.__dict__[self.name] = self.compute(obj)
        return value


class Frozen(Record):
    """A record whose fields are set once, in `__init__` (through `object.__setattr__`)."""

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")


def _rebuild(cls: type[Record], values: tuple[Any, ...]) -> Record:
    """A record from its pickled field values (worker processes send them), without `__init__`.
    The fields are set by a loop in C: `map` calls `set_field` for each, and a deque that keeps
    nothing consumes the calls."""
    if len(values) != len(cls._fields):
        raise ValueError(f"{cls.__qualname__} has {len(cls._fields)} fields, not {len(values)}")
    record = cls.__new__(cls)
    _consume(map(set_field, itertools.repeat(record), cls._fields, values))
    return record


_consume: Callable[[Iterable[Any]], None] = collections.deque(maxlen=0).extend


set_field = object.__setattr__
"""How a `Frozen` record's `__init__` sets its fields."""


class Fix(Frozen):
    __slots__ = _fields = ("ops", "safety")
    ops: tuple[Op, ...]
    safety: Safety

    def __init__(self, ops: tuple[Op, ...], safety: Safety) -> None:
        set_field(self, "ops", ops)
        set_field(self, "safety", safety)

    @classmethod
    def safe(cls, *ops: Op) -> Fix:
        return cls(ops, Safety.SAFE)

    @classmethod
    def unsafe(cls, *ops: Op) -> Fix:
        return cls(ops, Safety.UNSAFE)


class Violation(Frozen):
    """What a rule yields: where (a JSON Pointer into the object), what, and maybe a fix."""

    __slots__ = _fields = ("at", "message", "fix", "severity")

    at: str
    message: str
    fix: Fix | None
    severity: Severity | None
    """Over the rule's severity (a team rule that cannot be evaluated reports an error)."""

    def __init__(
        self, at: str, message: str, fix: Fix | None = None, severity: Severity | None = None
    ) -> None:
        set_field(self, "at", at)
        set_field(self, "message", message)
        set_field(self, "fix", fix)
        set_field(self, "severity", severity)


def literal(value: Any) -> str:
    """A scalar as it is written in a manifest: `true`, `86400`, `"Forbid"`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "null" if value is None else str(value)


def kebab(name: str) -> str:
    return name.replace("_", "-")


class _Required:
    """The default of an option that has none: the configuration must give it."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


class Option:
    """A configuration field as its class declares it: `option(...)`, or a plain default."""

    __slots__ = ("default", "factory", "metadata", "name")

    def __init__(
        self,
        default: Any = REQUIRED,
        factory: Callable[[], Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.name = ""
        self.default = default
        self.factory = factory
        self.metadata = metadata
        """None for a field declared with a plain default (`x: int = 1`), which has no
        description or limits."""

    def value(self, model: type[ConfigModel]) -> Any:
        """The value a model built without this field holds."""
        if self.factory is not None:
            return self.factory()
        if self.default is REQUIRED:
            raise TypeError(
                f"{model.__qualname__}.__init__() missing 1 required positional argument: "
                f"{self.name!r}"
            )
        return self.default


def option(default: Any = REQUIRED, description: str = "", **limits: Any) -> Any:
    """A configuration field: its default, its description (the docs show it) and the limits its
    value must keep: `gt`, `ge`, `le` for numbers, `min_length` for lists and strings, `matches`
    (a regular expression, described by `expected`) for strings, `pointer` for JSON Pointer strings.
    `default` may be a zero-argument callable that makes a fresh value."""
    metadata = {"description": description, **limits}
    if callable(default):
        return Option(factory=default, metadata=metadata)
    return Option(default, metadata=metadata)


def _limit_errors(name: str, value: Any, limits: Mapping[str, Any]) -> Iterator[str]:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and "gt" in limits and not value > limits["gt"]:
        yield f"{name} must be greater than {limits['gt']}, got {value}"
    if number and "ge" in limits and not value >= limits["ge"]:
        yield f"{name} must be at least {limits['ge']}, got {value}"
    if number and "le" in limits and not value <= limits["le"]:
        yield f"{name} must be at most {limits['le']}, got {value}"
    if "min_length" in limits and len(value) < limits["min_length"]:
        if isinstance(value, str):
            yield f"{name} must not be empty"
        else:
            yield f"{name} needs at least {limits['min_length']} item(s)"
    if (
        "matches" in limits
        and isinstance(value, str)
        and not re.fullmatch(limits["matches"], value)
    ):
        yield f"{name} {value!r} is not {limits.get('expected') or limits['matches']}"
    if limits.get("pointer"):
        for item in (value,) if isinstance(value, str) else value or ():
            if isinstance(item, str) and item and not item.startswith("/"):
                yield f"{name} must be a JSON Pointer starting with '/', got {item!r}"


@dataclass_transform(frozen_default=True)
class ConfigModel:
    """Base of everything read from configuration: frozen models whose fields, declared as class
    annotations, say their limits (`option`). Defaults cost nothing to build; a configuration file
    is validated with pydantic (kebab-case keys, unknown keys refused), imported only then, which
    keeps pydantic off the path of a lint run without a config file.

    A model behaves as a frozen dataclass (`__init__` by keyword or position, equality, hash and
    repr over its fields, assignment refused) without being one until something reads it as one:
    `dataclass_fields` makes every model a dataclass first, for pydantic and the docs. A run
    without a configuration file then never imports `dataclasses` (and `inspect`, which it
    imports) nor compiles the methods a dataclass generates for each model class."""

    __pydantic_config__: ClassVar[dict[str, Any]] = {
        "extra": "forbid",
        "alias_generator": kebab,
        "populate_by_name": True,
    }
    _options: ClassVar[tuple[Option, ...]] = ()
    """The fields, in dataclass order (a base's first)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found = {
            o.name: o for base in reversed(cls.__mro__[1:]) for o in vars(base).get("_options", ())
        }
        for name, annotation in vars(cls).get("__annotations__", {}).items():
            if (annotation if isinstance(annotation, str) else repr(annotation)).startswith(
                ("ClassVar", "typing.ClassVar")
            ):
                continue
            declared = vars(cls).get(name, REQUIRED)
            found[name] = declared if isinstance(declared, Option) else Option(declared)
            found[name].name = name
            # The class keeps a plain default as its attribute and nothing else, as a dataclass.
            if isinstance(declared, Option):
                if declared.factory is None and declared.default is not REQUIRED:
                    setattr(cls, name, declared.default)
                else:
                    delattr(cls, name)
        defaulted = False
        for o in found.values():
            if o.factory is None and o.default is REQUIRED and defaulted:
                raise TypeError(f"non-default argument {o.name!r} follows default argument")
            defaulted = defaulted or o.factory is not None or o.default is not REQUIRED
        cls._options = tuple(found.values())
        _MODELS.append(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        options = self._options
        if args:
            if len(args) > len(options):
                raise TypeError(
                    f"{self.__class__.__qualname__}.__init__() takes {len(options) + 1} "
                    f"positional arguments but {len(args) + 1} were given"
                )
            for o, value in zip(options, args, strict=False):
                if o.name in kwargs:
                    raise TypeError(
                        f"{self.__class__.__qualname__}.__init__() got multiple values for "
                        f"argument {o.name!r}"
                    )
                kwargs[o.name] = value
        own = self.__dict__
        for o in options:
            own[o.name] = kwargs.pop(o.name) if o.name in kwargs else o.value(self.__class__)
        if kwargs:
            raise TypeError(
                f"{self.__class__.__qualname__}.__init__() got an unexpected keyword argument "
                f"{next(iter(kwargs))!r}"
            )
        self.__post_init__()

    def __post_init__(self) -> None:
        problems = [
            problem
            for o in self._options
            if o.metadata
            for problem in _limit_errors(kebab(o.name), getattr(self, o.name), o.metadata)
        ]
        if problems:
            raise ValueError("; ".join(problems))

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, o.name) for o in self._options])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__ and isinstance(other, ConfigModel):
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = (f"{o.name}={getattr(self, o.name)!r}" for o in self._options)
        return f"{self.__class__.__qualname__}({', '.join(shown)})"

    def __setattr__(self, name: str, value: Any) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (`dataclasses.replace`)."""
        return self.__class__(**({o.name: getattr(self, o.name) for o in self._options} | changes))


_MODELS: list[type[ConfigModel]] = []
"""Every model class, each after its bases."""
_MAKING = _thread.allocate_lock()
"""Held while models become dataclasses (a server may validate in several threads)."""


def as_dataclasses() -> None:
    """Make every model class defined so far a frozen dataclass (keeping its own methods), as
    pydantic, which validates them, and the docs, which read their fields, need."""
    from dataclasses import dataclass, field

    with _MAKING:
        for cls in _MODELS:
            if "__dataclass_fields__" in vars(cls):
                continue
            declared = vars(cls).get("__annotations__", {})
            for o in cls._options:
                if o.name in declared and o.metadata is not None:
                    if o.factory is not None:
                        made = field(default_factory=o.factory, metadata=o.metadata)
                    elif o.default is REQUIRED:
                        made = field(metadata=o.metadata)
                    else:
                        made = field(default=o.default, metadata=o.metadata)
                    setattr(cls, o.name, made)
            dataclass(frozen=True, init=False, eq=False, repr=False)(cls)


def dataclass_fields(model: type[ConfigModel] | ConfigModel) -> tuple[Field[Any], ...]:
    """The fields of a model (or of a model's instance) as `dataclasses.fields` gives them."""
    from dataclasses import fields

    as_dataclasses()
    return fields(cast("Any", model))  # a dataclass now


class RuleOptions(ConfigModel):
    """Base of a rule's options."""


class NoOptions(RuleOptions):
    """The options of a rule that has none."""


Check = Callable[["Scope", Any], Iterator[Violation]]
SetCheck = Callable[["SetIndex[Any]", Any], Iterator["SetViolation[Any]"]]
Applies = Callable[["WorkloadKind"], bool]


def _no_check(scope: Scope, options: Any) -> Iterator[Violation]:
    yield from ()


class Rule(Frozen):
    """A rule's metadata and its pure check.

    `kinds` limits the rule to objects of those kinds (`Kind` or `group/Kind`); `roles` to
    workloads of those roles; `purposes` to pods of those purposes (`traits.Purpose`);
    `applies` to workloads of the kinds it accepts. All empty means every object.
    """

    _fields = (
        "code",
        "name",
        "severity",
        "summary",
        "check",
        "docs",
        "kinds",
        "roles",
        "workloads_only",
        "purposes",
        "generic",
        "fragments",
        "options",
        "fix_safety",
        "enabled_by_default",
        "meta",
        "set_check",
        "origin",
        "link",
        "definition",
        "enforcement",
        "applies",
    )

    code: str
    name: str
    severity: Severity
    summary: str
    check: Check
    docs: str
    kinds: frozenset[str]
    roles: frozenset[Role]
    workloads_only: bool
    purposes: frozenset[Purpose]
    generic: bool
    """A check that makes sense for any workload (probes, resources, image tags): the
    configuration's `scope: all` lets it judge every pod, whatever its purpose."""
    fragments: bool
    """Whether it judges partial objects (kustomize patches): only rules about values that are
    written, never about fields that are missing."""
    options: type[RuleOptions]
    fix_safety: Safety | None
    enabled_by_default: bool
    meta: bool
    """Reported by a front end or the engine itself (parse errors, suppression problems)."""
    set_check: SetCheck | None
    """The check of a whole-set rule (`setrules`): it reads summaries of every object of a run,
    so `Engine.evaluate`, which sees one object (as the webhook does), skips the rule."""
    origin: str
    """Where a rule that is not built in comes from: the configuration file or the plugin."""
    link: str
    """Its page, for a rule that is not built in (built-in rules have `DOCS_URL`)."""
    definition: Any
    """A team rule's compiled definition (`custom.Team`: its configuration and programs)."""
    enforcement: str | None
    """What its findings do at admission (`deny`, `warn`, `audit`) unless the webhook's
    configuration says otherwise; None: by severity."""
    applies: Applies | None
    """Whether it can judge a workload of that kind at all (a Job's lifecycle rule needs the
    kind to have that lifecycle field), asked once per kind by the engine, which then judges
    only workloads of the kinds it accepts; None: every kind."""

    def __init__(  # noqa: PLR0917  # the fields in order, positionally
        self,
        code: str,
        name: str,
        severity: Severity,
        summary: str,
        check: Check,
        docs: str,
        kinds: frozenset[str] = frozenset(),
        roles: frozenset[Role] = frozenset(),
        workloads_only: bool = False,
        purposes: frozenset[Purpose] = frozenset(),
        generic: bool = False,
        fragments: bool = False,
        options: type[RuleOptions] = NoOptions,
        fix_safety: Safety | None = None,
        enabled_by_default: bool = True,
        meta: bool = False,
        set_check: SetCheck | None = None,
        origin: str = "",
        link: str = "",
        definition: Any = None,
        enforcement: str | None = None,
        applies: Applies | None = None,
    ) -> None:
        set_field(self, "code", code)
        set_field(self, "name", name)
        set_field(self, "severity", severity)
        set_field(self, "summary", summary)
        set_field(self, "check", check)
        set_field(self, "docs", docs)
        set_field(self, "kinds", kinds)
        set_field(self, "roles", roles)
        set_field(self, "workloads_only", workloads_only)
        set_field(self, "purposes", purposes)
        set_field(self, "generic", generic)
        set_field(self, "fragments", fragments)
        set_field(self, "options", options)
        set_field(self, "fix_safety", fix_safety)
        set_field(self, "enabled_by_default", enabled_by_default)
        set_field(self, "meta", meta)
        set_field(self, "set_check", set_check)
        set_field(self, "origin", origin)
        set_field(self, "link", link)
        set_field(self, "definition", definition)
        set_field(self, "enforcement", enforcement)
        set_field(self, "applies", applies)

    @property
    def fixable(self) -> bool:
        return self.fix_safety is not None

    @property
    def whole_set(self) -> bool:
        return self.set_check is not None

    @property
    def url(self) -> str:
        return self.link if self.origin else DOCS_URL.format(code=self.code)


class Finding(Frozen):
    """A violation stamped by the engine with its rule and configured severity."""

    __slots__ = _fields = (
        "code",
        "rule",
        "severity",
        "message",
        "pointer",
        "kind",
        "name",
        "namespace",
        "fix",
        "extra",
    )

    code: str
    rule: str
    severity: Severity
    message: str
    pointer: str
    kind: str
    name: str
    namespace: str
    fix: Fix | None
    extra: dict[str, Any]

    def __init__(
        self,
        code: str,
        rule: str,
        severity: Severity,
        message: str,
        pointer: str,
        *,
        kind: str = "",
        name: str = "",
        namespace: str = "",
        fix: Fix | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        set_field(self, "code", code)
        set_field(self, "rule", rule)
        set_field(self, "severity", severity)
        set_field(self, "message", message)
        set_field(self, "pointer", pointer)
        set_field(self, "kind", kind)
        set_field(self, "name", name)
        set_field(self, "namespace", namespace)
        set_field(self, "fix", fix)
        set_field(self, "extra", {} if extra is None else extra)

    @property
    def fixable(self) -> bool:
        """True when plain `--fix` (safe fixes only) repairs this finding."""
        return self.fix is not None and self.fix.safety is Safety.SAFE


def rule(
    check: Check,
    *,
    code: str,
    name: str,
    severity: Severity,
    summary: str,
    kinds: Iterable[str] = (),
    roles: Iterable[Role] = (),
    purposes: Iterable[Purpose] = (),
    generic: bool = False,
    fragments: bool = False,
    workloads_only: bool = False,
    applies: Applies | None = None,
    options: type[RuleOptions] = NoOptions,
    fix: Safety | None = None,
    enabled_by_default: bool = True,
) -> Rule:
    """Declare a rule from its check; its docs are the docstring of the check's module."""
    return Rule(
        code=code,
        name=name,
        severity=severity,
        summary=summary,
        check=check,
        docs=cleandoc(sys.modules[check.__module__].__doc__ or ""),
        kinds=frozenset(kinds),
        roles=frozenset(roles),
        purposes=frozenset(purposes),
        generic=generic,
        fragments=fragments,
        workloads_only=workloads_only or bool(roles) or bool(purposes) or applies is not None,
        options=options,
        fix_safety=fix,
        enabled_by_default=enabled_by_default,
        applies=applies,
    )


def meta_rule(module: str, *, code: str, name: str, severity: Severity, summary: str) -> Rule:
    """Declare a rule that front ends or the engine report; it has no check of its own."""
    docs = cleandoc(sys.modules[module].__doc__ or "")
    return Rule(
        code=code,
        name=name,
        severity=severity,
        summary=summary,
        check=_no_check,
        docs=docs,
        meta=True,
    )


def cleandoc(doc: str) -> str:
    """A docstring without its indentation and blank edge lines, as `inspect.cleandoc` gives it
    (which would import `inspect` into every start-up for the rules' docs)."""
    lines = doc.expandtabs().split("\n")
    margin = -1
    for line in lines[1:]:
        content = line.lstrip()
        if content:
            indent = len(line) - len(content)
            margin = indent if margin < 0 else min(margin, indent)
            if not margin:
                break  # a module's docstring, written from its first column
    lines[0] = lines[0].lstrip()
    if margin > 0:
        lines[1:] = [line[margin:] for line in lines[1:]]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)
